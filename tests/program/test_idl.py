"""The IDL, the C headers and the ABI doc come from one definition and cannot drift apart."""

from __future__ import annotations

import json

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
