"""One LiteSVM behind one lock, made to behave like a validator's bank: slots and clock that move with wall time,
blockhashes that expire, a status cache, fees, transaction history and a durable ledger.

Every public method takes the lock, first brings the SVM's Clock up to wall time (`_sync_locked`), then acts. The
RPC layer runs these methods in worker threads so the asyncio loop never waits on the SVM.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import based58
from solders.account import Account
from solders.clock import Clock
from solders.hash import Hash
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message, MessageV0
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction, VersionedTransaction
from solders.transaction_metadata import FailedTransactionMetadata, TransactionMetadata

from localnet.blockhashes import RETAINED_SLOTS, BlockhashRegistry
from localnet.fees import PrioritizationFeeRecord, compute_unit_price, signature_fee
from localnet.ledger import Ledger
from localnet.loader import deploy_upgradeable, loader_v3_feature_set, programdata_address
from localnet.records import TransactionRecord
from localnet.slot_clock import ClockReading, SlotClock
from localnet.tx_errors import error_json

# A confirmed block is finalized (rooted) once 32 blocks are built on it.
FINALIZATION_DEPTH = 32
# Without searchTransactionHistory a validator answers from its status cache, which spans ~300 slots.
STATUS_CACHE_SLOTS = 300
FAUCET_LAMPORTS = 10**18
DEPLOY_PAYER_LAMPORTS = 100 * 10**9
ADDRESS_LOOKUP_TABLE_META_SIZE = 56
NATIVE_LOADER_ID = Pubkey.from_string("NativeLoader1111111111111111111111111111111")
SYSVAR_OWNER_ID = Pubkey.from_string("Sysvar1111111111111111111111111111111111111")

COMMITMENTS = ("processed", "confirmed", "finalized")


class ProgramFileMissing(FileNotFoundError):
    pass


class SignatureVerificationFailure(Exception):
    """A signature does not verify (a validator's -32003)."""


@dataclass
class ExecutionOutcome:
    """What a simulation (or a preflight) observed."""

    err: Any  # JSON form, None on success
    logs: list[str]
    units_consumed: int
    return_data: dict[str, Any] | None = None
    inner_instructions: list[dict[str, Any]] = field(default_factory=list)
    post_accounts: dict[str, Account | None] = field(default_factory=dict)


class PreflightFailure(Exception):
    def __init__(self, outcome: ExecutionOutcome) -> None:
        super().__init__(outcome.err)
        self.outcome = outcome


@dataclass(frozen=True)
class ChainConfig:
    slot_ms: int = 400
    ledger_dir: Path | None = None
    program_so: Path | None = None  # None: start without the program
    program_keypair: Path | None = None
    upgrade_authority: Path | None = None


@dataclass(frozen=True)
class ResolvedKeys:
    static: list[Pubkey]
    loaded_writable: list[Pubkey]
    loaded_readonly: list[Pubkey]
    writable: list[Pubkey]

    @property
    def all(self) -> list[Pubkey]:
        return [*self.static, *self.loaded_writable, *self.loaded_readonly]


def load_keypair(path: Path) -> Keypair:
    return Keypair.from_bytes(bytes(json.loads(path.read_text())))


def _present(account: Account | None) -> Account | None:
    """A validator reports an account with zero lamports as absent."""
    return account if account is not None and account.lamports > 0 else None


def _return_data_json(meta: TransactionMetadata) -> dict[str, Any] | None:
    data = meta.return_data()
    raw = bytes(data.data)
    if not raw:
        return None
    return {"programId": str(data.program_id), "data": [base64.b64encode(raw).decode(), "base64"]}


def _inner_instructions_json(meta: TransactionMetadata) -> list[dict[str, Any]]:
    out = []
    for index, inner in enumerate(meta.inner_instructions()):
        if not inner:
            continue
        instructions = []
        for item in inner:
            compiled = item.instruction()
            stack_height = json.loads(item.to_json()).get("stackHeight")
            instructions.append(
                {
                    "programIdIndex": compiled.program_id_index,
                    "accounts": list(bytes(compiled.accounts)),
                    "data": based58.b58encode(bytes(compiled.data)).decode(),
                    "stackHeight": stack_height,
                }
            )
        out.append({"index": index, "instructions": instructions})
    return out


AIRDROP_ATTEMPTS = 3


class AirdropRefused(RuntimeError):
    """The faucet's transfer did not execute, so there is no signature to give out."""


class LocalChain:
    def __init__(self, config: ChainConfig) -> None:
        self.config = config
        self._lock = threading.RLock()
        self.svm = LiteSVM().with_builtins(loader_v3_feature_set())
        # The node checks signatures and blockhash ages itself: a validator accepts any of the last 150 blockhashes,
        # LiteSVM only its latest one; and simulateTransaction must be able to skip signature checks.
        self.svm.with_sigverify(False).with_blockhash_check(False)
        self.ledger = Ledger(config.ledger_dir)
        self.blockhashes = BlockhashRegistry()
        self.fees = PrioritizationFeeRecord()
        self.known_accounts: set[Pubkey] = set()
        self.program_id: Pubkey | None = None
        self._faucet = Keypair()

        if config.program_so is not None:
            self._deploy_program(config)
        self._restore_ledger()
        self.svm.set_account(self._faucet.pubkey(), Account(FAUCET_LAMPORTS, b"", SYSTEM_PROGRAM_ID))

        saved_slot = int(self.ledger.get_state("slot") or -1)
        start_slot = max(self.svm.get_clock().slot, saved_slot + 1)
        self.clock = SlotClock(start_slot, config.slot_ms, float(self.ledger.get_state("time_offset") or 0.0))
        self._slot = -1
        self._unix_timestamp = int(self.ledger.get_state("unix_timestamp") or 0)
        saved_epoch_start = self.ledger.get_state("epoch_start_timestamp")
        self._epoch_start_timestamp = int(saved_epoch_start or self.clock.read().unix_timestamp)
        self.ledger.set_state({"epoch_start_timestamp": str(self._epoch_start_timestamp)})
        genesis = self.ledger.get_state("genesis_hash")
        if genesis is None:
            genesis = str(Hash(secrets.token_bytes(32)))  # a new ledger is a new cluster
            self.ledger.set_state({"genesis_hash": genesis})
        self.genesis_hash = genesis
        with self._lock:
            self._sync_locked()

    # --- start-up ----------------------------------------------------------------------------------------------
    def _deploy_program(self, config: ChainConfig) -> None:
        assert config.program_so is not None
        if not config.program_so.is_file():
            raise ProgramFileMissing(
                f"program not found at {config.program_so}: build it with `make program`, "
                "pass --program-so PATH, or start with --no-program"
            )
        if config.program_keypair is None or config.upgrade_authority is None:
            raise ValueError("deploying the program needs its keypair and upgrade authority keypair")
        program = load_keypair(config.program_keypair)
        authority = load_keypair(config.upgrade_authority)
        payer = Keypair()
        self.svm.airdrop(payer.pubkey(), DEPLOY_PAYER_LAMPORTS)
        deploy_upgradeable(self.svm, payer, program, authority, config.program_so.read_bytes())
        self.program_id = program.pubkey()
        self.known_accounts.update({program.pubkey(), programdata_address(program.pubkey())})

    def _restore_ledger(self) -> None:
        # The freshly deployed .so wins over whatever an earlier run recorded for the program's own accounts.
        protected = set()
        if self.program_id is not None:
            protected = {self.program_id, programdata_address(self.program_id)}
        for address, account in self.ledger.accounts():
            if address not in protected:
                self.svm.set_account(address, account)
            self.known_accounts.add(address)
        for blockhash, slot in self.ledger.blockhashes():
            self.blockhashes.issue(blockhash, slot)

    # --- time --------------------------------------------------------------------------------------------------
    def _sync_locked(self) -> None:
        """Bring the SVM's Clock sysvar and the blockhash to the wall-time slot."""
        reading = self.clock.read()
        slot_changed = reading.slot > self._slot
        if slot_changed:
            self._issue_blockhash_locked(reading.slot)
            self._slot = reading.slot
        timestamp = max(reading.unix_timestamp, self._unix_timestamp)
        if slot_changed or timestamp != self._unix_timestamp:
            self._unix_timestamp = timestamp
            schedule = self.svm.get_epoch_schedule()
            epoch = schedule.get_epoch(self._slot)
            leader_epoch = schedule.get_leader_schedule_epoch(self._slot)
            self.svm.set_clock(Clock(self._slot, self._epoch_start_timestamp, epoch, leader_epoch, timestamp))
            self.ledger.set_state(
                {"slot": str(self._slot), "unix_timestamp": str(timestamp), "time_offset": repr(self.clock.time_offset)}
            )

    def _issue_blockhash_locked(self, slot: int) -> Hash:
        # The node draws its own blockhashes (LiteSVM's blockhash check is off, so the SVM never sees them): LiteSVM
        # derives each one from the one before, from the same start on every run, so a restarted node would issue
        # again the hashes its earlier run issued slots ago — still on record under their old slots, hence
        # BlockhashNotFound for a fresh one — and could hand a client a blockhash a past transaction used.
        issued = Hash(secrets.token_bytes(32))
        blockhash = str(issued)
        self.blockhashes.issue(blockhash, slot)
        self.ledger.record_blockhash(blockhash, slot, slot - RETAINED_SLOTS)
        return issued

    def commitment_slot(self, commitment: str) -> int:
        with self._lock:
            self._sync_locked()
            return self._commitment_slot_locked(commitment)

    def _commitment_slot_locked(self, commitment: str) -> int:
        if commitment == "finalized":
            return max(0, self._slot - FINALIZATION_DEPTH)
        return self._slot

    def clock_reading(self) -> ClockReading:
        with self._lock:
            self._sync_locked()
            return ClockReading(self._slot, self._unix_timestamp)

    def warp_clock(self, *, seconds: float | None = None, unix_timestamp: int | None = None) -> ClockReading:
        with self._lock:
            self._sync_locked()
            if unix_timestamp is not None:
                if unix_timestamp < self._unix_timestamp:
                    raise ValueError(
                        f"the clock cannot be moved backwards (now {self._unix_timestamp}, asked for {unix_timestamp})"
                    )
                self.clock.warp_seconds(unix_timestamp - self._unix_timestamp)
            else:
                self.clock.warp_seconds(seconds or 0)
            self._sync_locked()
            return ClockReading(self._slot, self._unix_timestamp)

    def advance_slots(self, slots: int) -> ClockReading:
        with self._lock:
            self.clock.advance_slots(slots)
            self._sync_locked()
            return ClockReading(self._slot, self._unix_timestamp)

    # --- blockhashes -------------------------------------------------------------------------------------------
    def latest_blockhash(self, commitment: str) -> tuple[int, str, int]:
        """(context slot, blockhash, lastValidBlockHeight) as seen at `commitment`."""
        with self._lock:
            self._sync_locked()
            slot = self._commitment_slot_locked(commitment)
            blockhash, issued = self.blockhashes.latest_at(slot)
            return slot, blockhash, self.blockhashes.last_valid_block_height(issued)

    def is_blockhash_valid(self, blockhash: str) -> tuple[int, bool]:
        with self._lock:
            self._sync_locked()
            return self._slot, self.blockhashes.is_valid(blockhash, self._slot)

    # --- accounts ----------------------------------------------------------------------------------------------
    def get_accounts(self, addresses: Sequence[Pubkey]) -> tuple[int, list[Account | None]]:
        with self._lock:
            self._sync_locked()
            return self._slot, [_present(self.svm.get_account(a)) for a in addresses]

    def program_accounts(self, owner: Pubkey) -> tuple[int, list[tuple[Pubkey, Account]]]:
        with self._lock:
            self._sync_locked()
            found = []
            for address in sorted(self.known_accounts, key=bytes):
                account = _present(self.svm.get_account(address))
                if account is not None and account.owner == owner:
                    found.append((address, account))
            return self._slot, found

    def minimum_balance_for_rent_exemption(self, size: int) -> int:
        with self._lock:
            return int(self.svm.minimum_balance_for_rent_exemption(size))

    # --- transactions ------------------------------------------------------------------------------------------
    def _resolve_keys_locked(self, message: Message | MessageV0) -> ResolvedKeys:
        static = list(message.account_keys)
        header = message.header
        signed = header.num_required_signatures
        writable = [
            key
            for i, key in enumerate(static)
            if (i < signed - header.num_readonly_signed_accounts)
            or (signed <= i < len(static) - header.num_readonly_unsigned_accounts)
        ]
        loaded_writable: list[Pubkey] = []
        loaded_readonly: list[Pubkey] = []
        if isinstance(message, MessageV0):
            for lookup in message.address_table_lookups:
                table = self.svm.get_account(lookup.account_key)
                raw = bytes(table.data)[ADDRESS_LOOKUP_TABLE_META_SIZE:] if table is not None else b""
                addresses = [Pubkey.from_bytes(raw[i : i + 32]) for i in range(0, len(raw) - 31, 32)]
                loaded_writable += [addresses[i] for i in bytes(lookup.writable_indexes) if i < len(addresses)]
                loaded_readonly += [addresses[i] for i in bytes(lookup.readonly_indexes) if i < len(addresses)]
        return ResolvedKeys(static, loaded_writable, loaded_readonly, writable + loaded_writable)

    def _balance_locked(self, address: Pubkey) -> int:
        account = self.svm.get_account(address)
        return 0 if account is None else int(account.lamports)

    def _precheck_locked(self, tx: VersionedTransaction, check_blockhash: bool) -> Any:
        """The bank's age and status-cache checks, in its order. Returns the JSON error or None."""
        if check_blockhash and not self.blockhashes.is_valid(str(tx.message.recent_blockhash), self._slot):
            return "BlockhashNotFound"
        if self.ledger.has_transaction(str(tx.signatures[0])):
            return "AlreadyProcessed"
        return None

    def _simulate_locked(self, tx: VersionedTransaction, check_blockhash: bool) -> ExecutionOutcome:
        precheck = self._precheck_locked(tx, check_blockhash)
        if precheck is not None:
            return ExecutionOutcome(err=precheck, logs=[], units_consumed=0)
        result = self.svm.simulate_transaction(tx)
        if isinstance(result, FailedTransactionMetadata):
            meta = result.meta()
            return ExecutionOutcome(
                err=error_json(result.err()),
                logs=list(meta.logs()),
                units_consumed=int(meta.compute_units_consumed()),
                return_data=_return_data_json(meta),
                inner_instructions=_inner_instructions_json(meta),
            )
        meta = result.meta()
        return ExecutionOutcome(
            err=None,
            logs=list(meta.logs()),
            units_consumed=int(meta.compute_units_consumed()),
            return_data=_return_data_json(meta),
            inner_instructions=_inner_instructions_json(meta),
            post_accounts={str(k): _present(a) for k, a in result.post_accounts()},
        )

    def simulate(self, tx: VersionedTransaction, *, sig_verify: bool, replace_blockhash: bool) -> ExecutionOutcome:
        with self._lock:
            self._sync_locked()
            if sig_verify and not all(tx.verify_with_results()):
                raise SignatureVerificationFailure
            return self._simulate_locked(tx, check_blockhash=not replace_blockhash)

    def send(self, tx: VersionedTransaction, wire: bytes, *, preflight: bool) -> str:
        """Submit like a validator's sendTransaction: with preflight, failures are raised; without, a transaction
        that cannot land (bad signature, unknown blockhash, duplicate, unpayable fee) is silently dropped."""
        signature = str(tx.signatures[0])
        with self._lock:
            self._sync_locked()
            signatures_ok = all(tx.verify_with_results())
            if preflight:
                if not signatures_ok:
                    raise SignatureVerificationFailure
                outcome = self._simulate_locked(tx, check_blockhash=True)
                if outcome.err is not None:
                    raise PreflightFailure(outcome)
            if signatures_ok:
                self._execute_locked(tx, wire)
        return signature

    def _execute_locked(self, tx: VersionedTransaction, wire: bytes) -> TransactionRecord | None:
        if self._precheck_locked(tx, check_blockhash=True) is not None:
            return None
        message = tx.message
        keys = self._resolve_keys_locked(message)
        every_key = keys.all
        pre_balances = [self._balance_locked(k) for k in every_key]
        result = self.svm.send_transaction(tx)
        if isinstance(result, FailedTransactionMetadata):
            if self.svm.get_transaction(tx.signatures[0]) is None:
                return None  # refused before execution (no fee charged): it never lands
            err, meta = error_json(result.err()), result.meta()
        else:
            err, meta = None, result
        record = TransactionRecord(
            signature=str(tx.signatures[0]),
            slot=self._slot,
            block_time=self._unix_timestamp,
            wire=wire,
            err=err,
            fee=signature_fee(message),
            pre_balances=pre_balances,
            post_balances=[self._balance_locked(k) for k in every_key],
            log_messages=list(meta.logs()),
            compute_units_consumed=int(meta.compute_units_consumed()),
            inner_instructions=_inner_instructions_json(meta),
            return_data=_return_data_json(meta),
            loaded_writable=[str(k) for k in keys.loaded_writable],
            loaded_readonly=[str(k) for k in keys.loaded_readonly],
            account_keys=[str(k) for k in every_key],
            compute_unit_price=compute_unit_price(message),
        )
        changes = []
        for address in keys.writable:
            account = _present(self.svm.get_account(address))
            if account is not None and account.owner in (NATIVE_LOADER_ID, SYSVAR_OWNER_ID):
                continue  # runtime-owned accounts are recreated by LiteSVM itself
            changes.append((address, account))
        self.ledger.record_transaction(record, changes)
        self.known_accounts.update(every_key)
        self.fees.record(self._slot, record.compute_unit_price, [str(k) for k in keys.writable])
        return record

    def request_airdrop(self, recipient: Pubkey, lamports: int) -> str:
        """A faucet transfer executed as a real transaction, so it has a signature, a status and a history entry."""
        with self._lock:
            self._sync_locked()
            if self._balance_locked(self._faucet.pubkey()) < FAUCET_LAMPORTS // 2:
                # The faucet never runs dry: a local chain's airdrops are for development, not a scarce supply.
                self.svm.set_account(self._faucet.pubkey(), Account(FAUCET_LAMPORTS, b"", SYSTEM_PROGRAM_ID))
            blockhash = Hash.from_string(self.blockhashes.latest_at(self._slot)[0])
            for _ in range(AIRDROP_ATTEMPTS):
                tx = VersionedTransaction.from_legacy(self._faucet_transfer(recipient, lamports, blockhash))
                # The same airdrop twice in one slot would be a duplicate (skipped here); a transfer the node refuses
                # before executing it would never land — a signature for it would leave the caller polling until its
                # timeout. Either way: a fresh blockhash, and again.
                signature = str(tx.signatures[0])
                if not self.ledger.has_transaction(signature) and self._execute_locked(tx, bytes(tx)) is not None:
                    return signature
                blockhash = self._issue_blockhash_locked(self._slot)
            raise AirdropRefused(
                f"the faucet's transfer to {recipient} was refused {AIRDROP_ATTEMPTS} times "
                f"({self._precheck_locked(tx, check_blockhash=True) or 'by the runtime before execution'})"
            )

    def _faucet_transfer(self, recipient: Pubkey, lamports: int, blockhash: Hash) -> Transaction:
        ix = transfer(TransferParams(from_pubkey=self._faucet.pubkey(), to_pubkey=recipient, lamports=lamports))
        message = Message.new_with_blockhash([ix], self._faucet.pubkey(), blockhash)
        return Transaction([self._faucet], message, blockhash)

    def fee_for_message(self, message: Message | MessageV0) -> tuple[int, int | None]:
        with self._lock:
            self._sync_locked()
            if not self.blockhashes.is_valid(str(message.recent_blockhash), self._slot):
                return self._slot, None
            return self._slot, signature_fee(message)

    def recent_prioritization_fees(self, accounts: list[str]) -> list[dict[str, int]]:
        with self._lock:
            self._sync_locked()
            return self.fees.recent(self._slot, accounts)

    # --- history -----------------------------------------------------------------------------------------------
    def _confirmation_locked(self, slot: int) -> tuple[int | None, str]:
        depth = self._slot - slot
        if depth >= FINALIZATION_DEPTH:
            return None, "finalized"
        return depth, "confirmed"

    def signature_statuses(self, signatures: list[str], search_history: bool) -> tuple[int, list[dict | None]]:
        with self._lock:
            self._sync_locked()
            statuses: list[dict | None] = []
            for signature in signatures:
                record = self.ledger.transaction(signature)
                if record is None or (not search_history and self._slot - record.slot > STATUS_CACHE_SLOTS):
                    statuses.append(None)
                    continue
                confirmations, status = self._confirmation_locked(record.slot)
                statuses.append(
                    {
                        "slot": record.slot,
                        "confirmations": confirmations,
                        "err": record.err,
                        "status": {"Ok": None} if record.err is None else {"Err": record.err},
                        "confirmationStatus": status,
                    }
                )
            return self._slot, statuses

    def transaction(self, signature: str, commitment: str) -> TransactionRecord | None:
        with self._lock:
            self._sync_locked()
            record = self.ledger.transaction(signature)
            if record is None or record.slot > self._commitment_slot_locked(commitment):
                return None
            return record

    def signatures_for_address(
        self, address: str, limit: int, before: str | None, until: str | None, commitment: str
    ) -> list[dict[str, Any]]:
        with self._lock:
            self._sync_locked()
            horizon = self._commitment_slot_locked(commitment)
            rows = self.ledger.signatures_for_address(address, limit, before, until)
            out = []
            for signature, slot, block_time, meta_json in rows:
                if slot > horizon:
                    continue
                err = json.loads(meta_json)["err"]
                out.append(
                    {
                        "signature": signature,
                        "slot": slot,
                        "err": err,
                        "memo": None,
                        "blockTime": block_time,
                        "confirmationStatus": self._confirmation_locked(slot)[1],
                    }
                )
            return out

    def svm_feature_ids(self) -> list[Pubkey]:
        return list(loader_v3_feature_set().active)

    def transaction_count(self) -> int:
        with self._lock:
            return self.ledger.transaction_count()

    def epoch_info(self, commitment: str) -> dict[str, int]:
        with self._lock:
            self._sync_locked()
            slot = self._commitment_slot_locked(commitment)
            schedule = self.svm.get_epoch_schedule()
            epoch, slot_index = schedule.get_epoch_and_slot_index(slot)
            return {
                "absoluteSlot": slot,
                "blockHeight": slot,
                "epoch": epoch,
                "slotIndex": slot_index,
                "slotsInEpoch": schedule.get_slots_in_epoch(epoch),
                "transactionCount": self.ledger.transaction_count(),
            }

    def close(self) -> None:
        with self._lock:
            self.ledger.close()
