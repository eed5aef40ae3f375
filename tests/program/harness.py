"""A LiteSVM running the real `ephemeral_vault` .so, driven through anchorpy and the legacy IDL.

Everything a program test needs: instructions built by `anchorpy.Program` from the generated IDL, transactions sent
to LiteSVM (5,000 lamports per signature, charged to the first signer), accounts decoded with
`program.coder.accounts`, events parsed from the `Program data:` log lines with anchorpy's `EventParser`, a clock
to move, and `expect_error`, which asserts a named program error AND that no account changed except the fee payer's
fee. The fixtures in `conftest.py` construct it; the program is deployed through the real BPFLoaderUpgradeable.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anchorpy import Context, Idl, Program, Provider, Wallet
from anchorpy.program.event import EventParser
from anchorpy.provider import DEFAULT_OPTIONS
from solana.rpc.async_api import AsyncClient
from solders.account import Account
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from solders.transaction import Transaction
from solders.transaction_metadata import FailedTransactionMetadata, TransactionMetadata
from solders.transaction_status import InstructionErrorCustom, TransactionErrorInstructionError

from programs.ephemeral_vault import idl as idl_def

LAMPORTS_PER_SIGNATURE = 5_000
LAMPORTS_PER_SOL = 1_000_000_000
PROGRAM_DIR = Path(idl_def.__file__).resolve().parent
PROGRAM_ID = Pubkey.from_string(idl_def.PROGRAM_ID)
ERROR_NAMES: dict[int, str] = {e.code: e.name for e in idl_def.ERRORS}
ERROR_CODES: dict[str, int] = {e.name: e.code for e in idl_def.ERRORS}
CONSTANTS: dict[str, int] = {c.name: c.value for c in idl_def.CONSTANTS}


def load_keypair(path: Path) -> Keypair:
    return Keypair.from_bytes(bytes(json.loads(path.read_text())))


def load_program(program_id: Pubkey = PROGRAM_ID) -> Program:
    """anchorpy Program over the committed legacy IDL. Its provider is never used to talk to a cluster: instructions
    are built offline and sent to LiteSVM."""
    idl = Idl.from_json(idl_def.LEGACY_IDL_JSON.read_text())
    provider = Provider(AsyncClient("http://127.0.0.1:1"), Wallet(Keypair()), DEFAULT_OPTIONS)
    return Program(idl, program_id, provider)


class TransactionFailed(AssertionError):
    """A transaction expected to succeed failed; carries the runtime error and the logs."""

    def __init__(self, result: FailedTransactionMetadata) -> None:
        self.result = result
        logs = "\n".join(result.meta().logs())
        super().__init__(f"transaction failed: {result.err()}\n{logs}")


def custom_error_code(result: FailedTransactionMetadata) -> int | None:
    """The custom program error code of a failed transaction, or None if it failed otherwise."""
    err = result.err()
    if isinstance(err, TransactionErrorInstructionError) and isinstance(err.err, InstructionErrorCustom):
        return err.err.code
    return None


def with_meta(ix: Instruction, index: int, *, signer: bool | None = None, writable: bool | None = None) -> Instruction:
    """A copy of `ix` with account `index` re-flagged: how a test drops a signature or a write lock."""
    metas = list(ix.accounts)
    m = metas[index]
    metas[index] = AccountMeta(
        m.pubkey,
        is_signer=m.is_signer if signer is None else signer,
        is_writable=m.is_writable if writable is None else writable,
    )
    return Instruction(ix.program_id, ix.data, metas)


def with_data(ix: Instruction, data: bytes) -> Instruction:
    return Instruction(ix.program_id, data, list(ix.accounts))


def truncated_accounts(ix: Instruction, count: int) -> Instruction:
    return Instruction(ix.program_id, ix.data, list(ix.accounts)[:count])


@dataclass(frozen=True)
class Session:
    """The keys and addresses of one session (a vault and its delegation PDA)."""

    parent: Keypair
    delegate: Keypair
    vault: Pubkey
    vault_bump: int
    delegation: Pubkey
    delegation_bump: int

    def __repr__(self) -> str:
        # Keypair's repr prints its secret bytes: show public keys only, even for throwaway test keys.
        return (
            f"Session(parent={self.parent.pubkey()}, delegate={self.delegate.pubkey()}, vault={self.vault}, "
            f"delegation={self.delegation})"
        )


@dataclass(frozen=True)
class Sent:
    """A successful transaction: its metadata, its decoded events, its fee."""

    meta: TransactionMetadata
    events: list[Any]
    fee: int

    @property
    def compute_units(self) -> int:
        return self.meta.compute_units_consumed()

    def event(self, name: str) -> Any:
        """The data of the single event named `name` (asserts there is exactly one)."""
        found = [e.data for e in self.events if e.name == name]
        assert len(found) == 1, f"expected one {name} event, got {[e.name for e in self.events]}"
        return found[0]


class VaultHarness:
    """LiteSVM + the deployed program + anchorpy. One per test (fresh chain state)."""

    def __init__(self, svm: LiteSVM, program: Program, program_id: Pubkey = PROGRAM_ID) -> None:
        self.svm = svm
        self.program = program
        self.program_id = program_id
        self._event_parser = EventParser(program_id, program.coder)
        # Error names as clients see them: from the IDL anchorpy loaded, not from the generator's Python data.
        self.error_names: dict[int, str] = {e.code: e.name for e in program.idl.errors}

    # ---- keys and addresses -----------------------------------------------------------------------------------

    def funded_keypair(self, lamports: int = 10 * LAMPORTS_PER_SOL) -> Keypair:
        kp = Keypair()
        self.svm.airdrop(kp.pubkey(), lamports)
        return kp

    def vault_address(self, parent: Pubkey, delegate: Pubkey) -> tuple[Pubkey, int]:
        return Pubkey.find_program_address([idl_def.VAULT_SEED, bytes(parent), bytes(delegate)], self.program_id)

    def delegation_address(self, vault: Pubkey) -> tuple[Pubkey, int]:
        return Pubkey.find_program_address([idl_def.DELEGATION_SEED, bytes(vault)], self.program_id)

    def new_session(self, parent: Keypair, delegate: Keypair | None = None) -> Session:
        """Keys and PDAs for a session (nothing sent)."""
        delegate = delegate or Keypair()
        vault, vault_bump = self.vault_address(parent.pubkey(), delegate.pubkey())
        delegation, delegation_bump = self.delegation_address(vault)
        return Session(parent, delegate, vault, vault_bump, delegation, delegation_bump)

    # ---- instructions (built by anchorpy from the IDL) -------------------------------------------------------

    def ix(self, name: str, *args: Any, accounts: dict[str, Pubkey]) -> Instruction:
        return self.program.instruction[name](*args, ctx=Context(accounts=accounts))

    def create_vault_ix(
        self, s: Session, session_duration: int = 3_600, max_deposit: int = LAMPORTS_PER_SOL, **override: Pubkey
    ) -> Instruction:
        accounts = {
            "parent": s.parent.pubkey(),
            "delegate": s.delegate.pubkey(),
            "vault": s.vault,
            "system_program": SYSTEM_PROGRAM_ID,
        }
        return self.ix("create_vault", session_duration, max_deposit, accounts={**accounts, **override})

    def approve_delegate_ix(self, s: Session, delegate: Pubkey | None = None, **override: Pubkey) -> Instruction:
        accounts = {
            "parent": s.parent.pubkey(),
            "vault": s.vault,
            "delegation": s.delegation,
            "system_program": SYSTEM_PROGRAM_ID,
        }
        arg = delegate if delegate is not None else s.delegate.pubkey()
        return self.ix("approve_delegate", arg, accounts={**accounts, **override})

    def deposit_ix(self, s: Session, amount: int, **override: Pubkey) -> Instruction:
        accounts = {"parent": s.parent.pubkey(), "vault": s.vault, "system_program": SYSTEM_PROGRAM_ID}
        return self.ix("auto_deposit_for_trade", amount, accounts={**accounts, **override})

    def execute_trade_ix(
        self, s: Session, fee_lamports: int = 5_000, trade_ref: bytes = bytes(16), **override: Pubkey
    ) -> Instruction:
        accounts = {"delegate": s.delegate.pubkey(), "vault": s.vault, "delegation": s.delegation}
        return self.ix("execute_trade", fee_lamports, trade_ref, accounts={**accounts, **override})

    def revoke_access_ix(self, s: Session, **override: Pubkey) -> Instruction:
        accounts = {"parent": s.parent.pubkey(), "vault": s.vault, "delegation": s.delegation}
        return self.ix("revoke_access", accounts={**accounts, **override})

    def cleanup_vault_ix(self, s: Session, cleaner: Pubkey, **override: Pubkey) -> Instruction:
        accounts = {"cleaner": cleaner, "parent": s.parent.pubkey(), "vault": s.vault, "delegation": s.delegation}
        return self.ix("cleanup_vault", accounts={**accounts, **override})

    # ---- sending ------------------------------------------------------------------------------------------------

    def try_send(
        self, ixs: Instruction | Sequence[Instruction], signers: Sequence[Keypair]
    ) -> TransactionMetadata | FailedTransactionMetadata:
        """Send one transaction; the first signer pays the fee. The blockhash is expired afterwards so an identical
        transaction can be sent again (LiteSVM would otherwise refuse it as already processed)."""
        ix_list = [ixs] if isinstance(ixs, Instruction) else list(ixs)
        unique = list({bytes(k.pubkey()): k for k in signers}.values())
        blockhash = self.svm.latest_blockhash()
        msg = Message.new_with_blockhash(ix_list, unique[0].pubkey(), blockhash)
        result = self.svm.send_transaction(Transaction(unique, msg, blockhash))
        self.svm.expire_blockhash()
        return result

    def send(self, ixs: Instruction | Sequence[Instruction], signers: Sequence[Keypair]) -> Sent:
        """Send and require success; returns the metadata, the decoded events and the fee charged."""
        result = self.try_send(ixs, signers)
        if isinstance(result, FailedTransactionMetadata):
            raise TransactionFailed(result)
        fee = LAMPORTS_PER_SIGNATURE * len({bytes(k.pubkey()) for k in signers})
        return Sent(result, self.events(result.logs()), fee)

    def events(self, logs: Sequence[str]) -> list[Any]:
        out: list[Any] = []
        self._event_parser.parse_logs(list(logs), out.append)
        return out

    # ---- state --------------------------------------------------------------------------------------------------

    def account(self, key: Pubkey) -> Account | None:
        return self.svm.get_account(key)

    def lamports(self, key: Pubkey) -> int:
        return self.svm.get_balance(key) or 0

    def decode(self, key: Pubkey) -> Any:
        """The program account at `key`, decoded through the IDL (discriminator selects the type)."""
        acct = self.svm.get_account(key)
        assert acct is not None, f"no account at {key}"
        return self.program.coder.accounts.decode(bytes(acct.data))

    def rent_minimum(self, data_len: int) -> int:
        return self.svm.minimum_balance_for_rent_exemption(data_len)

    def set_lamports(self, key: Pubkey, lamports: int) -> None:
        acct = self.svm.get_account(key)
        assert acct is not None
        self.svm.set_account(key, Account(lamports, bytes(acct.data), acct.owner, acct.executable, acct.rent_epoch))

    def set_field(self, key: Pubkey, field: str, value: int | bool | Pubkey) -> None:
        """Overwrite one field of a program account in place, at the offset the IDL definition gives.

        For tests of rules the program never lets a real history reach (e.g. a live vault whose delegation is
        revoked): the program must still refuse such a state if it ever met it.
        """
        acct = self.svm.get_account(key)
        assert acct is not None
        data = bytearray(acct.data)
        struct_def = next(
            s for s in idl_def.DEFINITION.accounts if bytes(data[:8]) == idl_def.account_discriminator(s.name)
        )
        ty = next(f.type for f in struct_def.fields if f.name == field)
        off = struct_def.offsets()[field]
        if ty == "pubkey":
            assert isinstance(value, Pubkey)
            raw = bytes(value)
        elif ty in ("u8", "bool"):
            raw = int(value).to_bytes(1, "little")
        else:
            assert isinstance(value, int)
            raw = value.to_bytes(8, "little", signed=ty == "i64")
        data[off : off + len(raw)] = raw
        self.svm.set_account(key, Account(acct.lamports, bytes(data), acct.owner, acct.executable, acct.rent_epoch))

    def snapshot(self, keys: Iterable[Pubkey]) -> dict[Pubkey, Account | None]:
        return {k: self.svm.get_account(k) for k in keys}

    # ---- time ---------------------------------------------------------------------------------------------------

    def now(self) -> int:
        return self.svm.get_clock().unix_timestamp

    def set_time(self, unix_timestamp: int) -> None:
        """Move the Clock sysvar's unix_timestamp (and the slot forward by one, as real time would)."""
        clock = self.svm.get_clock()
        clock.unix_timestamp = unix_timestamp
        clock.slot = clock.slot + 1
        self.svm.set_clock(clock)

    def advance(self, seconds: int) -> None:
        self.set_time(self.now() + seconds)

    # ---- failure assertions -------------------------------------------------------------------------------------

    def expect_error(
        self,
        ixs: Instruction | Sequence[Instruction],
        signers: Sequence[Keypair],
        error_name: str,
        also_watch: Iterable[Pubkey] = (),
    ) -> FailedTransactionMetadata:
        """Assert the transaction fails with the program's named error and changes nothing but the fee payer's fee.

        Every account the instructions reference (and `also_watch`) is compared before and after, field by field.
        """
        assert error_name in self.error_names.values(), f"{error_name} is not an error of the IDL"
        ix_list = [ixs] if isinstance(ixs, Instruction) else list(ixs)
        watched = {m.pubkey for ix in ix_list for m in ix.accounts} | set(also_watch)
        payer = signers[0].pubkey()
        watched.add(payer)
        before = self.snapshot(watched)
        result = self.try_send(ix_list, signers)
        assert isinstance(result, FailedTransactionMetadata), f"expected {error_name}, but the transaction succeeded"
        code = custom_error_code(result)
        got = self.error_names.get(code, f"unknown code {code}") if code is not None else str(result.err())
        assert got == error_name, f"expected {error_name}, got {got}\n" + "\n".join(result.meta().logs())
        after = self.snapshot(watched)
        for key in watched:
            b, a = before[key], after[key]
            if key == payer:
                assert b is not None and a is not None
                assert a.lamports == b.lamports - LAMPORTS_PER_SIGNATURE * len({bytes(k.pubkey()) for k in signers})
                assert (a.data, a.owner, a.executable) == (b.data, b.owner, b.executable)
            else:
                assert a == b, f"account {key} changed by a failed transaction:\n before {b}\n after  {a}"
        return result
