"""`ChainClient`: every JSON-RPC call the backend makes, behind one class, with typed errors and safe resends.

Built on solana-py's `AsyncClient` (commitment "confirmed"); every call goes through `_call`, which turns whatever
the transport or the decoder raised into `RetryableRpcError` / `FinalChainError` (see errors.py).

Sending is idempotent by signature. A transaction's first signature is fixed the moment it is signed, before it
goes on the wire, and the chain runs a signature once: `send_and_confirm` sends, and a node that already has it
answers AlreadyProcessed (or, once the blockhash has expired, the status lookup shows whether it landed). A Temporal
activity that crashed after sending and runs again with the same `SignedTx` therefore confirms the first attempt
instead of doubling its effect. The only way to get a *different* transaction with the same intent is
`rebuild_expired`, and it refuses until the old one can provably never land (block height past its
`lastValidBlockHeight`, signature unknown).

Transactions the backend signs itself share one blockhash for SOLANA_BLOCKHASH_REUSE_SECONDS (`shared_blockhash`,
recent.py); everything else asks the node for the newest (`latest_blockhash`).
"""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit

from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Commitment, Confirmed, Finalized
from solana.rpc.types import MemcmpOpts, TxOpts
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.sysvar import CLOCK
from solders.transaction import Transaction, VersionedTransaction
from solders.transaction_status import TransactionConfirmationStatus

from ephemeral_vault.chain.accounts import (
    EPHEMERAL_VAULT,
    DelegationAccount,
    RawAccount,
    VaultAccount,
    account_discriminator,
    decode_delegation,
    decode_vault,
)
from ephemeral_vault.chain.errors import (
    BlockhashExpired,
    ChainError,
    NotYetExpired,
    RetryableRpcError,
    RpcRequestRejected,
    SignatureVerificationFailed,
    SignerKeypairsMismatch,
)
from ephemeral_vault.chain.events import decode_events
from ephemeral_vault.chain.pdas import delegation_pda
from ephemeral_vault.chain.program import ProgramInterface, default_program
from ephemeral_vault.chain.recent import Recent
from ephemeral_vault.chain.send import (
    BlockhashInfo,
    SignedTx,
    TxResult,
    _AlreadyProcessed,
    classify_rpc_exception,
    classify_transaction_error,
)
from ephemeral_vault.chain.transport import RpcSession, RpcTransportError
from ephemeral_vault.settings import get_settings

T = TypeVar("T")

JSON_HEADERS = {"Content-Type": "application/json"}
_LANDED = (TransactionConfirmationStatus.Confirmed, TransactionConfirmationStatus.Finalized)
# While waiting for a confirmation, send the same bytes again every this many polls: a validator may drop a
# transaction under load, and resending identical bytes can never execute twice.
RESEND_EVERY_POLLS = 5
# Clock sysvar layout: slot u64, epoch_start_timestamp i64, epoch u64, leader_schedule_epoch u64, unix_timestamp i64.
CLOCK_UNIX_TIMESTAMP_OFFSET = 32
RENT_REUSE_SECONDS = 60.0


@dataclass(frozen=True)
class SignatureStatus:
    slot: int
    confirmation_status: str  # "processed" | "confirmed" | "finalized"
    err: object | None  # the runtime's TransactionError (solders type) when the transaction failed

    @property
    def landed(self) -> bool:
        return self.confirmation_status in ("confirmed", "finalized")


@dataclass(frozen=True)
class VaultView:
    """What `ChainClient.vault_view` read: the raw accounts (None where there is none) and the Clock's time."""

    chain_time: int
    vault: RawAccount | None
    delegation: RawAccount | None
    delegation_address: Pubkey


def _clock_unix_timestamp(raw: RawAccount | None) -> int:
    if raw is None or len(raw.data) < CLOCK_UNIX_TIMESTAMP_OFFSET + 8:
        raise RetryableRpcError("the node returned no readable Clock sysvar")
    return int(struct.unpack_from("<q", raw.data, CLOCK_UNIX_TIMESTAMP_OFFSET)[0])


def instruction_programs(tx: Transaction | VersionedTransaction) -> list[Pubkey | None]:
    """Program id of each top-level instruction, in order (decides whose error table a custom code is read from).

    None where the index points outside the account keys: such a transaction is malformed, and classifying the
    node's answer about it must not crash on it.
    """
    keys = tx.message.account_keys
    return [keys[ix.program_id_index] if ix.program_id_index < len(keys) else None for ix in tx.message.instructions]


def sign_transaction(
    instructions: Sequence[Instruction], payer: Keypair, signers: Sequence[Keypair], blockhash: BlockhashInfo
) -> SignedTx:
    """Compile and sign a legacy transaction; `payer` pays the fee and signs first (its signature is the id)."""
    message = Message.new_with_blockhash(list(instructions), payer.pubkey(), blockhash.blockhash)
    keypairs = _keypairs_for(message, [payer, *signers])
    return SignedTx.from_transaction(
        Transaction(keypairs, message, blockhash.blockhash), blockhash.last_valid_block_height
    )


def _keypairs_for(message: Message, keypairs: Sequence[Keypair]) -> list[Keypair]:
    """The keypairs in the message's signer order; exactly the required signers, or a precise error."""
    by_key = {kp.pubkey(): kp for kp in keypairs}
    required = list(message.account_keys[: message.header.num_required_signatures])
    missing = [str(k) for k in required if k not in by_key]
    extra = [str(k) for k in by_key if k not in required]
    if missing or extra:
        raise SignerKeypairsMismatch(
            f"keypairs do not match the required signers: missing {missing or 'none'}, not needed {extra or 'none'}"
        )
    return [by_key[k] for k in required]


class ChainClient:
    """The backend's one chain client. Use as `async with ChainClient() as chain: ...`."""

    def __init__(
        self,
        rpc_url: str | None = None,
        *,
        program: ProgramInterface | None = None,
        rpc_timeout_seconds: float | None = None,
        poll_interval_seconds: float | None = None,
        confirm_timeout_seconds: float | None = None,
        blockhash_reuse_seconds: float | None = None,
    ) -> None:
        settings = get_settings()
        self.rpc_url = rpc_url or settings.solana_rpc_url
        self.program = program or default_program()
        self.poll_interval_seconds = poll_interval_seconds or settings.solana_confirm_poll_seconds
        self.confirm_timeout_seconds = confirm_timeout_seconds or settings.solana_confirm_timeout_seconds
        timeout = rpc_timeout_seconds or settings.solana_rpc_timeout_seconds
        # A bounded connection pool: providers limit concurrent connections per client; 16 carry the worker's 50
        # activity slots against a node that answers in milliseconds.
        self._session = RpcSession(timeout_seconds=timeout, max_connections=settings.solana_rpc_max_connections)
        self._rpc = AsyncClient(self.rpc_url, commitment=Confirmed, timeout=timeout)
        # solana-py 0.36 posts through an httpx client of its own: swap in the aiohttp session (transport.py says
        # why) before the httpx one is ever used, and close that one unused.
        self._unused_httpx = self._rpc._provider.session
        self._rpc._provider.session = self._session
        reuse = settings.solana_blockhash_reuse_seconds if blockhash_reuse_seconds is None else blockhash_reuse_seconds
        self._shared_blockhash = Recent(self.latest_blockhash, reuse)
        self._rent_minimums: dict[int, Recent[int]] = {}  # by account data length

    async def __aenter__(self) -> ChainClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._rpc.close()  # closes self._session
        await self._unused_httpx.aclose()

    def __repr__(self) -> str:
        return f"ChainClient(rpc_url={redact_url(self.rpc_url)!r}, program_id={self.program.program_id})"

    # --- one choke point for every RPC call -------------------------------------------------------------------------

    async def _call(
        self,
        request: Callable[[], Awaitable[T]],
        *,
        sending: bool = False,
        tx: Transaction | None = None,
    ) -> T:
        try:
            resp = await request()
        except BaseException as exc:
            # pyo3's PanicException (a malformed response) is a BaseException; cancellation and exits are not ours.
            if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
                raise
            raise classify_rpc_exception(
                exc,
                program=self.program,
                instruction_programs=instruction_programs(tx) if tx is not None else None,
                sending=sending,
                signature=str(tx.signatures[0]) if tx is not None else None,
            ) from _chainable(exc)
        if isinstance(resp, int):
            # solders decodes an error code it does not know to the bare int instead of raising.
            raise RetryableRpcError(f"RPC answered with unrecognised error code {resp}")
        return resp

    # --- reads -----------------------------------------------------------------------------------------------------

    async def latest_blockhash(self) -> BlockhashInfo:
        """The newest blockhash, always asked of the node (offers the parent signs, expiry bounds, rebuilds)."""
        resp = await self._call(lambda: self._rpc.get_latest_blockhash(Confirmed))
        return BlockhashInfo(resp.value.blockhash, resp.value.last_valid_block_height)

    async def shared_blockhash(self) -> BlockhashInfo:
        """A blockhash for a transaction the backend signs itself, shared for SOLANA_BLOCKHASH_REUSE_SECONDS
        (recent.py says why, and which transactions must not use it)."""
        return await self._shared_blockhash.get()

    async def block_height(self, commitment: Commitment = Confirmed) -> int:
        resp = await self._call(lambda: self._rpc.get_block_height(commitment))
        return int(resp.value)

    async def balance(self, address: Pubkey) -> int:
        resp = await self._call(lambda: self._rpc.get_balance(address, Confirmed))
        return int(resp.value)

    async def minimum_balance_for_rent_exemption(self, data_len: int) -> int:
        """Remembered per size for RENT_REUSE_SECONDS (recent.py says why)."""
        remembered = self._rent_minimums.get(data_len)
        if remembered is None:
            remembered = self._rent_minimums[data_len] = Recent(partial(self._ask_rent, data_len), RENT_REUSE_SECONDS)
        return await remembered.get()

    async def _ask_rent(self, data_len: int) -> int:
        resp = await self._call(lambda: self._rpc.get_minimum_balance_for_rent_exemption(data_len, Confirmed))
        return int(resp.value)

    async def clock_unix_timestamp(self) -> int:
        """The Clock sysvar's unix_timestamp: the time the program compares `session_expiry` against (not wall time;
        a local node's clock can be warped, a validator's drifts)."""
        return _clock_unix_timestamp(await self.raw_account(CLOCK))

    async def vault_view(self, vault: Pubkey) -> VaultView:
        """The vault, its delegation and the chain clock in one request: one round trip instead of two or three,
        and all three as of the same slot."""
        delegation = delegation_pda(vault, self.program.program_id)[0]
        clock, vault_raw, delegation_raw = await self.raw_accounts([CLOCK, vault, delegation])
        return VaultView(_clock_unix_timestamp(clock), vault_raw, delegation_raw, delegation)

    async def raw_accounts(self, addresses: Sequence[Pubkey]) -> list[RawAccount | None]:
        resp = await self._call(lambda: self._rpc.get_multiple_accounts(list(addresses), Confirmed, "base64"))
        return [
            None
            if acc is None
            else RawAccount(address=addr, owner=acc.owner, lamports=acc.lamports, data=bytes(acc.data))
            for addr, acc in zip(addresses, resp.value, strict=True)
        ]

    async def raw_account(self, address: Pubkey) -> RawAccount | None:
        return (await self.raw_accounts([address]))[0]

    async def fetch_vault(self, address: Pubkey) -> VaultAccount:
        """The decoded vault; `AccountNotFound` / `AccountOwnerMismatch` / `AccountTypeMismatch` otherwise."""
        return decode_vault(await self.raw_account(address), address, self.program)

    async def fetch_delegation(self, address: Pubkey) -> DelegationAccount:
        return decode_delegation(await self.raw_account(address), address, self.program)

    async def program_vaults(self) -> list[VaultAccount]:
        """Every `EphemeralVault` the program owns (for the sweep): filtered by size and discriminator on the node."""
        size = self.program.constant("EPHEMERAL_VAULT_SIZE")
        filters: list[int | MemcmpOpts] = [
            size,
            MemcmpOpts(offset=0, bytes=_base58(account_discriminator(EPHEMERAL_VAULT))),
        ]
        resp = await self._call(
            lambda: self._rpc.get_program_accounts(self.program.program_id, Confirmed, "base64", None, filters)
        )
        return [
            decode_vault(
                RawAccount(keyed.pubkey, keyed.account.owner, keyed.account.lamports, bytes(keyed.account.data)),
                keyed.pubkey,
                self.program,
            )
            for keyed in resp.value
        ]

    async def recent_prioritization_fees(self, writable_accounts: Sequence[Pubkey] = ()) -> list[int]:
        """Recent per-slot minimum priority prices (micro-lamports per CU) for transactions locking these accounts,
        oldest first, as the deposit calculator's input."""
        result = await self._raw_call("getRecentPrioritizationFees", [[str(a) for a in writable_accounts]])
        try:
            return [int(entry["prioritizationFee"]) for entry in sorted(result, key=lambda e: int(e["slot"]))]
        except (TypeError, KeyError, ValueError) as exc:
            raise RetryableRpcError("malformed getRecentPrioritizationFees answer") from exc

    async def blockhash_is_valid(self, blockhash: str, commitment: Commitment = Confirmed) -> bool:
        result = await self._raw_call("isBlockhashValid", [blockhash, {"commitment": commitment}])
        try:
            return bool(result["value"])
        except (TypeError, KeyError) as exc:
            raise RetryableRpcError("malformed isBlockhashValid answer") from exc

    async def _raw_call(self, method: str, params: list[object]) -> Any:
        payload = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        try:
            response = await self._session.post(self.rpc_url, headers=JSON_HEADERS, content=payload)
            response.raise_for_status()
            body = json.loads(response.text)
        except (RpcTransportError, ValueError) as exc:
            raise classify_rpc_exception(exc, program=self.program) from _chainable(exc)
        error = body.get("error") if isinstance(body, dict) else None
        if error is not None:
            code = error.get("code") if isinstance(error, dict) else None
            message = error.get("message") if isinstance(error, dict) else error
            if code in (-32600, -32601, -32602):
                raise RpcRequestRejected(f"{method} rejected: {message}")
            raise RetryableRpcError(f"{method} failed: {message}")
        if not isinstance(body, dict) or "result" not in body:
            raise RetryableRpcError(f"{method}: response without a result")
        return body["result"]

    async def signature_status(self, signature: str | Signature) -> SignatureStatus | None:
        sig = signature if isinstance(signature, Signature) else Signature.from_string(signature)
        resp = await self._call(lambda: self._rpc.get_signature_statuses([sig], search_transaction_history=True))
        status = resp.value[0]
        if status is None:
            return None
        level = status.confirmation_status
        if level is not None:
            name = str(level).rsplit(".", 1)[-1].lower()
        else:
            # Nodes that predate confirmationStatus: `confirmations: null` means rooted (finalized).
            name = "finalized" if status.confirmations is None else "processed"
        return SignatureStatus(slot=status.slot, confirmation_status=name, err=status.err)

    async def transaction_result(self, signature: str | Signature) -> TxResult | None:
        """A confirmed transaction as `TxResult` (events decoded from its logs); None while the node has no record.

        Raises the classified error if the transaction landed but failed.
        """
        sig = signature if isinstance(signature, Signature) else Signature.from_string(signature)
        resp = await self._call(lambda: self._rpc.get_transaction(sig, "base64", Confirmed, 0))
        found = resp.value
        if found is None or found.transaction.meta is None:
            return None
        meta = found.transaction.meta
        logs = list(meta.log_messages or [])
        if meta.err is not None:
            landed_tx = found.transaction.transaction
            programs = (
                instruction_programs(landed_tx) if isinstance(landed_tx, Transaction | VersionedTransaction) else None
            )
            raise classify_transaction_error(
                meta.err, program=self.program, instruction_programs=programs, signature=str(sig), logs=logs
            )
        return TxResult(
            signature=str(sig),
            slot=found.slot,
            fee=meta.fee,
            compute_units_consumed=meta.compute_units_consumed,
            block_time=found.block_time,
            logs=logs,
            events=decode_events(logs, self.program),
        )

    async def wait_for_signature(self, signature: str | Signature) -> SignatureStatus:
        """Poll until `signature` is confirmed (returned even if it failed: see `.err`), or `RetryableRpcError`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.confirm_timeout_seconds
        while True:
            status = await self.signature_status(signature)
            if status is not None and status.landed:
                return status
            if loop.time() >= deadline:
                raise RetryableRpcError(f"{signature} not confirmed within {self.confirm_timeout_seconds:g} s")
            await asyncio.sleep(self.poll_interval_seconds)

    async def request_airdrop(self, address: Pubkey, lamports: int) -> str:
        """Faucet lamports (local node, devnet, testnet) and wait for the confirmation."""
        resp = await self._call(lambda: self._rpc.request_airdrop(address, lamports, Confirmed))
        status = await self.wait_for_signature(resp.value)
        if status.err is not None:
            raise classify_transaction_error(status.err, program=self.program, instruction_programs=None)
        return str(resp.value)

    # --- writes ----------------------------------------------------------------------------------------------------

    async def sign(
        self, instructions: Sequence[Instruction], payer: Keypair, signers: Sequence[Keypair] = ()
    ) -> SignedTx:
        """A backend-signed transaction on the shared blockhash. Persist it before sending if a retry must find it."""
        return sign_transaction(instructions, payer, signers, await self.shared_blockhash())

    async def send_and_confirm(self, signed: SignedTx, *, on_poll: Callable[[], None] | None = None) -> TxResult:
        """Send `signed` unless its signature already landed, then wait for "confirmed".

        Returns the `TxResult`; raises the classified error if it failed, `BlockhashExpired` if it can no longer
        land, `RetryableRpcError` on transport trouble or when `SOLANA_CONFIRM_TIMEOUT_SECONDS` passes (calling
        again with the same `signed` is always safe). `on_poll` runs once per status poll (e.g. `activity.heartbeat`).
        """
        tx = signed.transaction()
        try:
            tx.verify()
        except Exception as exc:  # solders raises its own error type for a bad or missing signature
            raise SignatureVerificationFailed(
                "a signature is missing or does not match the message", signature=signed.signature
            ) from exc
        # Send first, ask after: no status check and no block-height check before the send, one RPC round trip less
        # each for every transaction (most sends are first sends). A signature that already landed is answered as
        # AlreadyProcessed while its blockhash lives (`_send` then lets polling find it) and fails preflight as
        # "Blockhash not found" once it has expired — then the status decides: landed, it is confirmed below; not
        # landed, the send's error stands (BlockhashExpired when it can no longer land).
        try:
            await self._send(signed, tx, preflight=True)
        except RetryableRpcError:
            if await self.signature_status(signed.signature) is None:
                raise
        return await self._await_confirmation(signed, tx, on_poll)

    async def _send(self, signed: SignedTx, tx: Transaction, *, preflight: bool) -> None:
        opts = TxOpts(skip_confirmation=True, skip_preflight=not preflight, preflight_commitment=Confirmed)
        try:
            await self._call(lambda: self._rpc.send_raw_transaction(signed.wire(), opts), sending=True, tx=tx)
        except _AlreadyProcessed:
            return  # the node has it already: confirmation polling will find it
        except RetryableRpcError:
            # "Blockhash not found" at send time means either a lagging node (retry) or an expired blockhash
            # (rebuild): the block height decides which the caller gets. Either way the next transaction signed here
            # asks for a new blockhash rather than reuse the shared one.
            self._shared_blockhash.forget()
            await self._ensure_not_expired(signed)
            raise

    async def _ensure_not_expired(self, signed: SignedTx) -> None:
        height = await self.block_height()
        if height > signed.last_valid_block_height:
            # The status check closes the race between "not found" and "height passed".
            if await self.signature_status(signed.signature) is None:
                self._shared_blockhash.forget()  # it may be this one: past its height, so past reuse
                raise BlockhashExpired(signed.signature, signed.last_valid_block_height, height)

    async def _await_confirmation(
        self, signed: SignedTx, tx: Transaction, on_poll: Callable[[], None] | None
    ) -> TxResult:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.confirm_timeout_seconds
        polls = 0
        while True:
            status = await self.signature_status(signed.signature)
            if status is not None and status.landed:
                if status.err is not None:
                    raise await self._landed_failure(signed, tx, status)
                result = await self.transaction_result(signed.signature)
                if result is not None:
                    return result
            elif status is None and polls % RESEND_EVERY_POLLS == RESEND_EVERY_POLLS - 1:
                # Every few polls (not every one: that doubled the round trips of a normal confirmation), give up if
                # the blockhash has expired unlanded, else nudge the node with the same bytes.
                await self._ensure_not_expired(signed)
                await self._resend_quietly(signed, tx)
            if loop.time() >= deadline:
                raise RetryableRpcError(
                    f"{signed.signature} not confirmed within {self.confirm_timeout_seconds:g} s; "
                    "sending the same SignedTx again is safe"
                )
            polls += 1
            if on_poll is not None:
                on_poll()
            await asyncio.sleep(self.poll_interval_seconds)

    async def _landed_failure(self, signed: SignedTx, tx: Transaction, status: SignatureStatus) -> ChainError:
        try:
            await self.transaction_result(signed.signature)
        except ChainError as failure:
            return failure  # classified with the logs from getTransaction
        return classify_transaction_error(
            status.err, program=self.program, instruction_programs=instruction_programs(tx), signature=signed.signature
        )

    async def _resend_quietly(self, signed: SignedTx, tx: Transaction) -> None:
        try:
            await self._send(signed, tx, preflight=False)
        except RetryableRpcError:
            pass  # the next poll decides; a resend is only a nudge

    async def prove_expired(self, old: SignedTx) -> None:
        """Return only if `old` can provably never land; else raise `NotYetExpired`.

        Three independent facts must hold: the chain has no status for its signature, the *finalized* block height
        is past `old.last_valid_block_height` (no fork can still include it), and the finalized bank no longer
        accepts its blockhash (which does not trust the caller's `last_valid_block_height`). The status is checked
        again last to close the race with a landing in between. For signers outside this process (custody), call
        this, then sign a new message on a fresh blockhash.
        """
        if await self.signature_status(old.signature) is not None:
            raise NotYetExpired(f"{old.signature} is known to the chain; confirm it instead of rebuilding")
        height = await self.block_height(Finalized)
        if height <= old.last_valid_block_height:
            raise NotYetExpired(
                f"{old.signature} may still land: finalized height {height} <= last valid {old.last_valid_block_height}"
            )
        if await self.blockhash_is_valid(str(old.transaction().message.recent_blockhash), Finalized):
            raise NotYetExpired(f"{old.signature} may still land: the chain still accepts its blockhash")
        if await self.signature_status(old.signature) is not None:
            raise NotYetExpired(f"{old.signature} landed while its expiry was being checked")

    async def rebuild_expired(self, old: SignedTx, signers: Sequence[Keypair]) -> SignedTx:
        """The same message on a fresh blockhash, re-signed with `signers` — only after `prove_expired(old)`.

        Raises `NotYetExpired` while `old` may still land or once it has a status (then call
        `send_and_confirm(old)`, which returns its result or its error).
        """
        await self.prove_expired(old)
        message = old.transaction().message
        keypairs = _keypairs_for(message, signers)
        blockhash = await self.latest_blockhash()
        fresh = Transaction(keypairs, message, blockhash.blockhash)
        return SignedTx.from_transaction(fresh, blockhash.last_valid_block_height)

    async def submit(
        self,
        instructions: Sequence[Instruction],
        payer: Keypair,
        signers: Sequence[Keypair] = (),
        *,
        previous: SignedTx | None = None,
        on_signed: Callable[[SignedTx], Awaitable[None]] | None = None,
        max_rebuilds: int = 2,
        on_poll: Callable[[], None] | None = None,
    ) -> TxResult:
        """Sign (or resume `previous`), send, confirm; on expiry rebuild and re-sign, at most `max_rebuilds` times.

        `on_signed` is awaited with every SignedTx BEFORE it is sent, so an activity can persist it; on a retry the
        activity passes the last persisted one as `previous`, and a transaction that already landed is recognised.
        """
        keypairs = [payer, *signers]
        signed = previous
        if signed is None:
            signed = await self.sign(instructions, payer, signers)
            if on_signed is not None:
                await on_signed(signed)
        rebuilds = 0
        while True:
            try:
                return await self.send_and_confirm(signed, on_poll=on_poll)
            except BlockhashExpired:
                if rebuilds >= max_rebuilds:
                    raise
                rebuilds += 1
                signed = await self._rebuild_when_provable(signed, keypairs)
                if on_signed is not None:
                    await on_signed(signed)

    async def _rebuild_when_provable(self, old: SignedTx, keypairs: Sequence[Keypair]) -> SignedTx:
        # Confirmed height already passed; finalized trails it by a few dozen slots on a real cluster.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.confirm_timeout_seconds
        while True:
            try:
                return await self.rebuild_expired(old, keypairs)
            except NotYetExpired:
                if loop.time() >= deadline or await self.signature_status(old.signature) is not None:
                    raise
                await asyncio.sleep(self.poll_interval_seconds)


def redact_url(url: str) -> str:
    """scheme://host[:port] only: hosted RPC endpoints carry API keys in the path, query or userinfo."""
    parsed = urlsplit(url)
    host = parsed.hostname or ""
    port = f":{parsed.port}" if parsed.port else ""
    rest = "/…" if (parsed.path not in ("", "/") or parsed.query) else ""
    return f"{parsed.scheme}://{host}{port}{rest}"


def _chainable(exc: BaseException) -> BaseException | None:
    """The cause to chain onto a classified error. Transport exceptions are dropped: HTTP clients put the request
    URL (an API key, on hosted RPC) in their messages, and a chained cause travels into logs and Temporal history."""
    if isinstance(exc, RpcTransportError):
        return None
    return exc


def _base58(data: bytes) -> str:
    # A 32-byte Pubkey's str() is base58; the discriminator is 8 bytes, so encode it directly.
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    num = int.from_bytes(data, "big")
    out = ""
    while num:
        num, rem = divmod(num, 58)
        out = alphabet[rem] + out
    pad = len(data) - len(data.lstrip(b"\x00"))
    return "1" * pad + out
