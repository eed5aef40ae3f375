"""Field-by-field check that the vault and delegation on chain are the session the backend expects.

Used by the approve activity before a session goes ACTIVE: the parent (or its wallet) submitted the opening
transaction, so nothing about it is trusted until the accounts themselves say so. Returns every mismatch rather
than the first, so an operator sees the whole picture in one log line.
"""

from __future__ import annotations

from dataclasses import dataclass

from solders.pubkey import Pubkey

from ephemeral_vault.chain.accounts import (
    EPHEMERAL_VAULT,
    VAULT_DELEGATION,
    DelegationAccount,
    RawAccount,
    VaultAccount,
    decode_delegation,
    decode_vault,
)
from ephemeral_vault.chain.client import ChainClient
from ephemeral_vault.chain.errors import AccountError, AccountNotFound
from ephemeral_vault.chain.pdas import SessionAddresses
from ephemeral_vault.chain.program import ProgramInterface

DEFAULT_EXPIRY_TOLERANCE_SECONDS = 120


@dataclass(frozen=True)
class ExpectedSession:
    parent: Pubkey
    delegate: Pubkey
    max_deposit: int
    # Expiry as estimated by the backend at create time; the vault's real one is set when the parent's transaction
    # lands, so it may be later by up to the approval window: that is what the tolerance is for.
    session_expiry: int | None = None
    expiry_tolerance_seconds: int = DEFAULT_EXPIRY_TOLERANCE_SECONDS
    session_duration: int | None = None  # if given, session_expiry - created_at must equal it exactly
    min_total_deposited: int = 0
    claimed_vault: Pubkey | None = None  # the vault address a client sent, checked against the derivation


@dataclass(frozen=True)
class Mismatch:
    account: str  # "vault" | "delegation"
    field: str
    expected: str
    actual: str

    @property
    def is_missing(self) -> bool:
        """The account does not exist (yet): a retry after the transaction confirms may succeed."""
        return self.field == "account" and self.actual == "missing"

    def __str__(self) -> str:
        return f"{self.account}.{self.field}: expected {self.expected}, found {self.actual}"


def _account_problem(name: str, exc: AccountError) -> Mismatch:
    actual = "missing" if isinstance(exc, AccountNotFound) else str(exc)
    type_name = EPHEMERAL_VAULT if name == "vault" else VAULT_DELEGATION
    return Mismatch(name, "account", f"a {type_name} owned by the program", actual)


def compare_vault(vault: VaultAccount, expected: ExpectedSession, addrs: SessionAddresses) -> list[Mismatch]:
    out: list[Mismatch] = []

    def check(field: str, want: object, got: object) -> None:
        if want != got:
            out.append(Mismatch("vault", field, str(want), str(got)))

    check("parent", expected.parent, vault.parent)
    check("delegate", expected.delegate, vault.delegate)
    check("max_deposit", expected.max_deposit, vault.max_deposit)
    check("is_active", True, vault.is_active)
    check("bump", addrs.vault_bump, vault.bump)
    if expected.session_expiry is not None:
        drift = vault.session_expiry - expected.session_expiry
        if abs(drift) > expected.expiry_tolerance_seconds:
            out.append(
                Mismatch(
                    "vault",
                    "session_expiry",
                    f"{expected.session_expiry} ± {expected.expiry_tolerance_seconds} s",
                    str(vault.session_expiry),
                )
            )
    if expected.session_duration is not None:
        check("session_expiry - created_at", expected.session_duration, vault.session_expiry - vault.created_at)
    if vault.total_deposited < expected.min_total_deposited:
        out.append(
            Mismatch("vault", "total_deposited", f">= {expected.min_total_deposited}", str(vault.total_deposited))
        )
    return out


def compare_delegation(
    delegation: DelegationAccount, expected: ExpectedSession, addrs: SessionAddresses
) -> list[Mismatch]:
    out: list[Mismatch] = []

    def check(field: str, want: object, got: object) -> None:
        if want != got:
            out.append(Mismatch("delegation", field, str(want), str(got)))

    check("vault", addrs.vault, delegation.vault)
    check("delegate", expected.delegate, delegation.delegate)
    check("revoked_at", 0, delegation.revoked_at)
    check("bump", addrs.delegation_bump, delegation.bump)
    if delegation.approved_at <= 0:
        out.append(Mismatch("delegation", "approved_at", "> 0", str(delegation.approved_at)))
    return out


def compare_session(
    expected: ExpectedSession,
    vault_raw: RawAccount | None,
    delegation_raw: RawAccount | None,
    program: ProgramInterface,
) -> list[Mismatch]:
    """Pure comparison of fetched accounts (at the derived PDAs) against `expected`."""
    addrs = SessionAddresses.derive(expected.parent, expected.delegate, program.program_id)
    out: list[Mismatch] = []
    if expected.claimed_vault is not None and expected.claimed_vault != addrs.vault:
        out.append(Mismatch("vault", "address", str(addrs.vault), str(expected.claimed_vault)))
    try:
        out += compare_vault(decode_vault(vault_raw, addrs.vault, program), expected, addrs)
    except AccountError as exc:
        out.append(_account_problem("vault", exc))
    try:
        out += compare_delegation(decode_delegation(delegation_raw, addrs.delegation, program), expected, addrs)
    except AccountError as exc:
        out.append(_account_problem("delegation", exc))
    return out


async def verify_session(chain: ChainClient, expected: ExpectedSession) -> list[Mismatch]:
    """Fetch both PDAs in one request and compare; an empty list means the session is exactly as expected."""
    addrs = SessionAddresses.derive(expected.parent, expected.delegate, chain.program.program_id)
    vault_raw, delegation_raw = await chain.raw_accounts([addrs.vault, addrs.delegation])
    return compare_session(expected, vault_raw, delegation_raw, chain.program)
