"""The IDL, the C headers and the ABI doc come from one definition and cannot drift apart."""

from __future__ import annotations

import json
import re

import pytest
from anchorpy import Idl

from programs.ephemeral_vault import idl


def test_committed_generated_files_equal_a_fresh_generation() -> None:
    assert idl.stale_files() == []


def test_legacy_idl_is_readable_by_anchorpy() -> None:
    parsed = Idl.from_json(idl.LEGACY_IDL_JSON.read_text())
    assert [ix.name for ix in parsed.instructions] == [idl._camel(ix.name) for ix in idl.INSTRUCTIONS]
    assert [e.code for e in parsed.errors] == list(range(6000, 6026))


def test_spec_idl_carries_anchor_discriminators() -> None:
    spec = json.loads(idl.IDL_JSON.read_text())
    create = next(ix for ix in spec["instructions"] if ix["name"] == "create_vault")
    # sha256("global:create_vault")[:8], computed independently of the generator's helper.
    assert bytes(create["discriminator"]).hex() == "1dedf7d0c1523687"
    assert spec["address"] == idl.PROGRAM_ID


def test_account_layouts_match_the_abi_doc_sizes() -> None:
    assert idl.EPHEMERAL_VAULT.size() == 130
    assert idl.VAULT_DELEGATION.size() == 89


# ---- the C program is held to the same definition ------------------------------------------------------------------

SRC = idl.PROGRAM_DIR / "src"
C_STRUCTS = {"EphemeralVault": "EPHEMERAL_VAULT_LEN", "VaultDelegation": "VAULT_DELEGATION_LEN"}


def _c_defines(header: str) -> dict[str, str]:
    text = (SRC / header).read_text()
    return dict(re.findall(r"^#define[ \t]+(\w+)[ \t]+(.+?)[ \t]*$", text, flags=re.MULTILINE))


def _c_int(expr: str) -> int:
    """Evaluate a constants.h value: integer literals with ULL/LL suffixes, *, parentheses, named constants."""
    defines = _c_defines("constants.h")
    expr = re.sub(r"(\d+)(ULL|LL|UL|U|L)\b", r"\1", expr)
    expr = re.sub(r"\b([A-Z_]+)\b", lambda m: f"({defines[m.group(1)]})", expr)
    expr = re.sub(r"(\d+)(ULL|LL|UL|U|L)\b", r"\1", expr)
    assert re.fullmatch(r"[\d\s()*+]+", expr), expr
    return int(eval(expr))  # only digits, spaces, parentheses, * and + reach here


@pytest.mark.parametrize("account", idl.DEFINITION.accounts, ids=lambda a: a.name)
def test_state_h_pins_every_field_offset_the_idl_computes(account: idl.Struct) -> None:
    text = (SRC / "state.h").read_text()
    asserted = {
        field: int(off)
        for field, off in re.findall(rf"OFFSET_OF\({account.name}, (\w+)\) == (\d+)", text)
        if field != "discriminator"
    }
    assert asserted == account.offsets()
    assert int(_c_defines("state.h")[C_STRUCTS[account.name]]) == account.size()


def test_errors_h_numbers_every_idl_error_in_order() -> None:
    defines = _c_defines("errors.h")
    c_errors = {name: int(v.removesuffix("ULL")) for name, v in defines.items() if name.startswith("ERR_")}
    expected = {"ERR_" + re.sub(r"(?<!^)([A-Z])", r"_\1", e.name).upper(): e.code for e in idl.ERRORS}
    assert c_errors == expected


def test_constants_h_agrees_with_the_idl_constants() -> None:
    defines = _c_defines("constants.h")
    for c in idl.CONSTANTS:
        if c.name in defines:
            assert _c_int(defines[c.name]) == c.value, c.name
    assert {"MIN_SESSION_DURATION", "MAX_SESSION_DURATION", "MAX_DEPOSIT_LIMIT", "MAX_FEE_PER_TRADE",
            "CLEANUP_REWARD_CAP"} <= defines.keys()  # fmt: skip
    assert defines["VAULT_SEED"].strip('"').encode() == idl.VAULT_SEED
    assert defines["DELEGATION_SEED"].strip('"').encode() == idl.DELEGATION_SEED
    assert int(defines["VAULT_SEED_LEN"]) == len(idl.VAULT_SEED)
    assert int(defines["DELEGATION_SEED_LEN"]) == len(idl.DELEGATION_SEED)


def test_off_chain_program_limits_equal_the_idl_constants() -> None:
    # The API, the workflow and the deposit calculator refuse out-of-range input with these before signing.
    from ephemeral_vault import program_limits

    constants = {c.name: c.value for c in idl.CONSTANTS}
    for name in ("MIN_SESSION_DURATION", "MAX_SESSION_DURATION", "MAX_DEPOSIT_LIMIT", "MAX_FEE_PER_TRADE",
                 "CLEANUP_REWARD_CAP"):  # fmt: skip
        assert getattr(program_limits, name) == constants[name], name


def test_abi_doc_lists_every_error_with_its_code() -> None:
    doc = (idl.PROGRAM_DIR.parent.parent / "docs" / "program-abi.md").read_text()
    documented = {name: int(code) for code, name in re.findall(r"^\| (\d{4}) \| (\w+) \|", doc, flags=re.MULTILINE)}
    assert documented == {e.name: e.code for e in idl.ERRORS}
