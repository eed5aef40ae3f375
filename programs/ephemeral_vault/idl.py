"""The ONE definition of the `ephemeral_vault` interface, and the generator of everything derived from it.

`docs/program-abi.md` is the prose contract; this module is the same contract as data. From it come:

* `target/idl/ephemeral_vault.json` — Anchor >= 0.30 IDL spec (TypeScript/Rust clients);
* `target/idl/ephemeral_vault.legacy.json` — the legacy IDL that anchorpy 0.21 reads;
* `src/discriminators.h` — the 8-byte instruction/account/event discriminators for the C program;
* the borsh layout (offsets and sizes) that `tests/program/test_idl.py` holds `src/state.h`, `src/errors.h` and
  `src/constants.h` to, so the C structs cannot drift from what clients decode.

Run `python -m programs.ephemeral_vault.idl` (or `make idl`) to regenerate; `--check` fails if a committed output
differs from a fresh generation.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

PROGRAM_NAME = "ephemeral_vault"
PROGRAM_VERSION = "0.1.0"
PROGRAM_ID = "2MwQDsAc7KMLKAnAruQfYFHx9DtaiNZFVHEzJ57RUMV3"
SYSTEM_PROGRAM_ID = "11111111111111111111111111111111"

PROGRAM_DIR = Path(__file__).resolve().parent
IDL_DIR = PROGRAM_DIR / "target" / "idl"
IDL_JSON = IDL_DIR / f"{PROGRAM_NAME}.json"
LEGACY_IDL_JSON = IDL_DIR / f"{PROGRAM_NAME}.legacy.json"
DISCRIMINATORS_H = PROGRAM_DIR / "src" / "discriminators.h"

# ---------------------------------------------------------------------------------------------------------------------
# Types. A field type is a primitive name ("u8", "u64", "i64", "bool", "pubkey") or a fixed byte array ("bytes16").

PRIMITIVE_SIZES: dict[str, int] = {"u8": 1, "bool": 1, "u64": 8, "i64": 8, "pubkey": 32, "bytes16": 16}


def _spec_type(ty: str) -> str | dict[str, object]:
    """Anchor >= 0.30 spelling of a field type."""
    if ty == "bytes16":
        return {"array": ["u8", 16]}
    return ty


def _legacy_type(ty: str) -> str | dict[str, object]:
    """Legacy (anchor < 0.30, anchorpy 0.21) spelling of a field type."""
    if ty == "pubkey":
        return "publicKey"
    return _spec_type(ty)


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    doc: str = ""


@dataclass(frozen=True)
class Struct:
    """A borsh struct. For accounts the 8-byte discriminator precedes the fields."""

    name: str
    fields: tuple[Field, ...]
    doc: str = ""

    def offsets(self, base: int = 8) -> dict[str, int]:
        """Byte offset of each field, counting the discriminator (base=8) as Anchor accounts do."""
        out: dict[str, int] = {}
        off = base
        for f in self.fields:
            out[f.name] = off
            off += PRIMITIVE_SIZES[f.type]
        return out

    def size(self, base: int = 8) -> int:
        return base + sum(PRIMITIVE_SIZES[f.type] for f in self.fields)


@dataclass(frozen=True)
class Seed:
    """A PDA seed: a constant byte string, the key of another account of the instruction, or a pubkey argument."""

    const: bytes | None = None
    account: str | None = None
    arg: str | None = None


@dataclass(frozen=True)
class AccountMeta:
    name: str
    writable: bool = False
    signer: bool = False
    address: str | None = None
    pda: tuple[Seed, ...] = ()
    doc: str = ""


@dataclass(frozen=True)
class Instruction:
    name: str
    accounts: tuple[AccountMeta, ...]
    args: tuple[Field, ...]
    doc: str


@dataclass(frozen=True)
class Error:
    code: int
    name: str
    msg: str


@dataclass(frozen=True)
class Constant:
    name: str
    type: str
    value: int
    doc: str = ""


@dataclass(frozen=True)
class ProgramDefinition:
    accounts: tuple[Struct, ...]
    instructions: tuple[Instruction, ...]
    events: tuple[Struct, ...]
    errors: tuple[Error, ...]
    constants: tuple[Constant, ...] = field(default_factory=tuple)


# ---------------------------------------------------------------------------------------------------------------------
# The definition (mirrors docs/program-abi.md exactly).

VAULT_SEED = b"vault"
DELEGATION_SEED = b"delegation"
LAMPORTS_PER_SOL = 1_000_000_000

VAULT_PDA = (Seed(const=VAULT_SEED), Seed(account="parent"), Seed(account="delegate"))
# approve_delegate has no delegate account: the delegate is its argument.
VAULT_PDA_DELEGATE_ARG = (Seed(const=VAULT_SEED), Seed(account="parent"), Seed(arg="delegate"))
DELEGATION_PDA = (Seed(const=DELEGATION_SEED), Seed(account="vault"))
SYSTEM_PROGRAM = AccountMeta("system_program", address=SYSTEM_PROGRAM_ID)

EPHEMERAL_VAULT = Struct(
    "EphemeralVault",
    (
        Field("parent", "pubkey", "the wallet that opened the session; every refund goes here"),
        Field("delegate", "pubkey", "the ephemeral session key allowed to execute trades"),
        Field("created_at", "i64", "unix seconds (Clock sysvar) at creation"),
        Field("session_expiry", "i64", "unix seconds; trades and deposits need now < session_expiry"),
        Field("max_deposit", "u64", "cap on total_deposited, lamports"),
        Field("total_deposited", "u64", "lamports deposited by the parent so far"),
        Field("total_spent", "u64", "lamports reimbursed to the delegate as trade fees so far"),
        Field("trade_count", "u64", "number of executed trades"),
        Field("last_activity", "i64", "unix seconds of the last trade (created_at until then)"),
        Field("is_active", "bool", "false once revoked"),
        Field("bump", "u8", "canonical bump of the vault PDA"),
    ),
    "Session vault, PDA [\"vault\", parent, delegate].",
)
VAULT_DELEGATION = Struct(
    "VaultDelegation",
    (
        Field("vault", "pubkey", "the vault this delegation belongs to"),
        Field("delegate", "pubkey", "the delegate approved by the parent"),
        Field("approved_at", "i64", "unix seconds of approval"),
        Field("revoked_at", "i64", "unix seconds of revocation, 0 while live"),
        Field("bump", "u8", "canonical bump of the delegation PDA"),
    ),
    "Delegation record, PDA [\"delegation\", vault].",
)

INSTRUCTIONS = (
    Instruction(
        "create_vault",
        (
            AccountMeta("parent", writable=True, signer=True, doc="pays for the vault"),
            AccountMeta("delegate", doc="the ephemeral pubkey; does not sign"),
            AccountMeta("vault", writable=True, pda=VAULT_PDA),
            SYSTEM_PROGRAM,
        ),
        (Field("session_duration", "i64"), Field("max_deposit", "u64")),
        "Create the session vault PDA (canonical bump, rent-exempt, paid by the parent).",
    ),
    Instruction(
        "approve_delegate",
        (
            AccountMeta("parent", writable=True, signer=True),
            AccountMeta("vault", pda=VAULT_PDA_DELEGATE_ARG),
            AccountMeta("delegation", writable=True, pda=DELEGATION_PDA),
            SYSTEM_PROGRAM,
        ),
        (Field("delegate", "pubkey"),),
        "Create the delegation PDA for the vault's recorded delegate.",
    ),
    Instruction(
        "auto_deposit_for_trade",
        (
            AccountMeta("parent", writable=True, signer=True),
            AccountMeta("vault", writable=True),
            SYSTEM_PROGRAM,
        ),
        (Field("amount", "u64"),),
        "Transfer lamports parent -> vault, within max_deposit, while the session is live.",
    ),
    Instruction(
        "execute_trade",
        (
            AccountMeta("delegate", writable=True, signer=True),
            AccountMeta("vault", writable=True),
            AccountMeta("delegation"),
        ),
        (Field("fee_lamports", "u64"), Field("trade_ref", "bytes16")),
        "Record a trade by the delegate and reimburse its fee from the vault.",
    ),
    Instruction(
        "revoke_access",
        (
            AccountMeta("parent", writable=True, signer=True),
            AccountMeta("vault", writable=True),
            AccountMeta("delegation", writable=True, pda=DELEGATION_PDA),
        ),
        (),
        "Deactivate the vault, revoke the delegation, refund everything above rent to the parent.",
    ),
    Instruction(
        "cleanup_vault",
        (
            AccountMeta("cleaner", writable=True, signer=True, doc="anyone; receives the capped reward"),
            AccountMeta("parent", writable=True),
            AccountMeta("vault", writable=True),
            AccountMeta("delegation", writable=True, pda=DELEGATION_PDA),
        ),
        (),
        "After expiry or revocation: pay the cleaner a capped reward, the rest to the parent, close both accounts.",
    ),
)

EVENTS = (
    Struct(
        "VaultCreated",
        (
            Field("vault", "pubkey"),
            Field("parent", "pubkey"),
            Field("delegate", "pubkey"),
            Field("session_expiry", "i64"),
            Field("max_deposit", "u64"),
        ),
    ),
    Struct("DelegateApproved", (Field("vault", "pubkey"), Field("delegate", "pubkey"), Field("approved_at", "i64"))),
    Struct("AutoDeposit", (Field("vault", "pubkey"), Field("amount", "u64"), Field("total_deposited", "u64"))),
    Struct(
        "TradeExecuted",
        (
            Field("vault", "pubkey"),
            Field("delegate", "pubkey"),
            Field("fee_lamports", "u64"),
            Field("total_spent", "u64"),
            Field("trade_count", "u64"),
            Field("trade_ref", "bytes16"),
        ),
    ),
    Struct(
        "AccessRevoked",
        (Field("vault", "pubkey"), Field("parent", "pubkey"), Field("refunded", "u64"), Field("revoked_at", "i64")),
    ),
    Struct(
        "VaultCleaned",
        (
            Field("vault", "pubkey"),
            Field("parent", "pubkey"),
            Field("cleaner", "pubkey"),
            Field("refunded", "u64"),
            Field("reward", "u64"),
        ),
    ),
)

ERRORS = tuple(
    Error(6000 + i, name, msg)
    for i, (name, msg) in enumerate(
        (
            ("InvalidInstructionData", "Unknown instruction discriminator or wrong instruction data length"),
            ("MissingAccounts", "Fewer accounts than the instruction needs"),
            ("MissingSigner", "A required signer did not sign"),
            ("AccountNotWritable", "A required writable account is read-only"),
            ("InvalidAccountOwner", "Account is not owned by the expected program"),
            ("InvalidDiscriminator", "Account data is not of the expected type or is too short"),
            ("InvalidPda", "Address is not the canonical PDA for its seeds"),
            ("InvalidSystemProgram", "The system program account is not the System Program"),
            ("DuplicateAccount", "The same account was passed in two mutable positions"),
            ("ParentMismatch", "vault.parent differs from the parent account"),
            ("DelegateMismatch", "The delegate differs from the one recorded"),
            ("VaultMismatch", "delegation.vault differs from the vault account"),
            ("VaultAlreadyExists", "The vault already exists"),
            ("DelegationAlreadyExists", "The delegation already exists"),
            ("InvalidSessionDuration", "session_duration is outside [MIN_SESSION_DURATION, MAX_SESSION_DURATION]"),
            ("InvalidMaxDeposit", "max_deposit is outside [1, MAX_DEPOSIT_LIMIT]"),
            ("InvalidAmount", "Deposit amount must be greater than zero"),
            ("DepositCapExceeded", "total_deposited + amount would exceed max_deposit"),
            ("VaultInactive", "The vault was revoked"),
            ("SessionExpired", "The session has expired"),
            ("SessionNotExpired", "The vault is active and its session has not expired"),
            ("DelegationRevoked", "The delegation was revoked"),
            ("FeeTooHigh", "fee_lamports exceeds MAX_FEE_PER_TRADE"),
            ("InsufficientVaultBalance", "The vault would drop below its rent-exempt minimum"),
            ("SpendExceedsDeposits", "total_spent + fee would exceed total_deposited"),
            ("ArithmeticOverflow", "Checked arithmetic overflowed"),
        )
    )
)

CONSTANTS = (
    Constant("MIN_SESSION_DURATION", "i64", 60, "seconds"),
    Constant("MAX_SESSION_DURATION", "i64", 86_400, "seconds (24 h)"),
    Constant("MAX_DEPOSIT_LIMIT", "u64", 1_000 * LAMPORTS_PER_SOL, "lamports (1,000 SOL)"),
    Constant("MAX_FEE_PER_TRADE", "u64", 1_000_000, "lamports (0.001 SOL)"),
    Constant("CLEANUP_REWARD_CAP", "u64", 10_000, "lamports (two signature fees)"),
    Constant("EPHEMERAL_VAULT_SIZE", "u64", EPHEMERAL_VAULT.size(), "bytes incl. discriminator"),
    Constant("VAULT_DELEGATION_SIZE", "u64", VAULT_DELEGATION.size(), "bytes incl. discriminator"),
)

DEFINITION = ProgramDefinition(
    accounts=(EPHEMERAL_VAULT, VAULT_DELEGATION),
    instructions=INSTRUCTIONS,
    events=EVENTS,
    errors=ERRORS,
    constants=CONSTANTS,
)

# ---------------------------------------------------------------------------------------------------------------------
# Discriminators (Anchor's namespaces).


def _sha8(preimage: str) -> bytes:
    return hashlib.sha256(preimage.encode()).digest()[:8]


def instruction_discriminator(name: str) -> bytes:
    return _sha8(f"global:{name}")


def account_discriminator(name: str) -> bytes:
    return _sha8(f"account:{name}")


def event_discriminator(name: str) -> bytes:
    return _sha8(f"event:{name}")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


# ---------------------------------------------------------------------------------------------------------------------
# Anchor >= 0.30 spec.


def _spec_seed(seed: Seed) -> dict[str, object]:
    if seed.const is not None:
        return {"kind": "const", "value": list(seed.const)}
    if seed.arg is not None:
        return {"kind": "arg", "path": seed.arg}
    return {"kind": "account", "path": seed.account}


def _spec_account_meta(meta: AccountMeta) -> dict[str, object]:
    out: dict[str, object] = {"name": meta.name}
    if meta.doc:
        out["docs"] = [meta.doc]
    if meta.writable:
        out["writable"] = True
    if meta.signer:
        out["signer"] = True
    if meta.address:
        out["address"] = meta.address
    if meta.pda:
        out["pda"] = {"seeds": [_spec_seed(s) for s in meta.pda]}
    return out


def _spec_fields(fields: tuple[Field, ...]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for f in fields:
        entry: dict[str, object] = {"name": f.name}
        if f.doc:
            entry["docs"] = [f.doc]
        entry["type"] = _spec_type(f.type)
        out.append(entry)
    return out


def _spec_typedef(s: Struct) -> dict[str, object]:
    out: dict[str, object] = {"name": s.name}
    if s.doc:
        out["docs"] = [s.doc]
    out["type"] = {"kind": "struct", "fields": _spec_fields(s.fields)}
    return out


def build_spec_idl(d: ProgramDefinition = DEFINITION) -> dict[str, object]:
    return {
        "address": PROGRAM_ID,
        "metadata": {
            "name": PROGRAM_NAME,
            "version": PROGRAM_VERSION,
            "spec": "0.1.0",
            "description": "Session vaults for Solana dark-pool traders (freestanding C, Anchor-compatible ABI)",
        },
        "instructions": [
            {
                "name": ix.name,
                "docs": [ix.doc],
                "discriminator": list(instruction_discriminator(ix.name)),
                "accounts": [_spec_account_meta(a) for a in ix.accounts],
                "args": [{"name": a.name, "type": _spec_type(a.type)} for a in ix.args],
            }
            for ix in d.instructions
        ],
        "accounts": [{"name": a.name, "discriminator": list(account_discriminator(a.name))} for a in d.accounts],
        "events": [{"name": e.name, "discriminator": list(event_discriminator(e.name))} for e in d.events],
        "errors": [{"code": e.code, "name": e.name, "msg": e.msg} for e in d.errors],
        "types": [_spec_typedef(s) for s in (*d.accounts, *d.events)],
        "constants": [{"name": c.name, "type": c.type, "value": str(c.value)} for c in d.constants],
    }


# ---------------------------------------------------------------------------------------------------------------------
# Legacy format (anchor < 0.30), read by anchorpy 0.21. Names are camelCase as anchor 0.29 emitted them; anchorpy
# snake-cases them back, so clients still write `program.instruction["create_vault"]` and `accounts={"vault": ...}`.


def _legacy_fields(fields: tuple[Field, ...]) -> list[dict[str, object]]:
    return [{"name": _camel(f.name), "type": _legacy_type(f.type)} for f in fields]


def build_legacy_idl(d: ProgramDefinition = DEFINITION) -> dict[str, object]:
    return {
        "version": PROGRAM_VERSION,
        "name": PROGRAM_NAME,
        "instructions": [
            {
                "name": _camel(ix.name),
                "docs": [ix.doc],
                "accounts": [
                    {"name": _camel(a.name), "isMut": a.writable, "isSigner": a.signer} for a in ix.accounts
                ],
                "args": _legacy_fields(ix.args),
            }
            for ix in d.instructions
        ],
        "accounts": [
            {"name": a.name, "type": {"kind": "struct", "fields": _legacy_fields(a.fields)}} for a in d.accounts
        ],
        "events": [
            {"name": e.name, "fields": [{**f, "index": False} for f in _legacy_fields(e.fields)]} for e in d.events
        ],
        "errors": [{"code": e.code, "name": e.name, "msg": e.msg} for e in d.errors],
        "constants": [{"name": c.name, "type": c.type, "value": str(c.value)} for c in d.constants],
        "metadata": {"address": PROGRAM_ID},
    }


# ---------------------------------------------------------------------------------------------------------------------
# C header of discriminators.


def _c_bytes(b: bytes) -> str:
    return ", ".join(f"0x{x:02x}" for x in b)


def build_discriminators_h(d: ProgramDefinition = DEFINITION) -> str:
    lines = [
        "/* GENERATED by programs/ephemeral_vault/idl.py (`make idl`) -- do not edit.",
        " * Anchor discriminators: sha256(\"global:<ix>\" | \"account:<Type>\" | \"event:<Name>\")[:8].",
        " * Each is also given as a little-endian u64 so the entrypoint can dispatch with one 8-byte load. */",
        "#ifndef EPHEMERAL_VAULT_DISCRIMINATORS_H",
        "#define EPHEMERAL_VAULT_DISCRIMINATORS_H",
        "",
    ]
    groups = (
        ("IX", [(ix.name, instruction_discriminator(ix.name)) for ix in d.instructions]),
        ("ACCOUNT", [(a.name, account_discriminator(a.name)) for a in d.accounts]),
        ("EVENT", [(e.name, event_discriminator(e.name)) for e in d.events]),
    )
    for prefix, items in groups:
        for name, disc in items:
            macro = f"{prefix}_{_upper_snake(name)}"
            lines.append(f"#define {macro}_DISC_U64 0x{int.from_bytes(disc, 'little'):016x}ULL")
            lines.append(f"#define {macro}_DISC_BYTES {{{_c_bytes(disc)}}}")
        lines.append("")
    lines.append("#endif")
    return "\n".join(lines) + "\n"


def _upper_snake(name: str) -> str:
    if "_" in name or name.islower():
        return name.upper()
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i:
            out.append("_")
        out.append(ch.upper())
    return "".join(out)


# ---------------------------------------------------------------------------------------------------------------------
# Generation.


def _json_text(obj: object) -> str:
    return json.dumps(obj, indent=2) + "\n"


def generated_files() -> dict[Path, str]:
    return {
        IDL_JSON: _json_text(build_spec_idl()),
        LEGACY_IDL_JSON: _json_text(build_legacy_idl()),
        DISCRIMINATORS_H: build_discriminators_h(),
    }


def stale_files() -> list[Path]:
    """Outputs whose committed text differs from a fresh generation."""
    return [p for p, text in generated_files().items() if not p.exists() or p.read_text() != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a generated file is out of date")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for p in stale:
            print(f"stale: {p} (run `make idl`)", file=sys.stderr)
        return 1 if stale else 0
    for path, text in generated_files().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
