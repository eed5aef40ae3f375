"""Chain activities: build what the parent signs, submit what comes back, verify accounts field by field, trade with
the session key, clean up, sweep the fee float.

Idempotency rests on one fact (see ephemeral_vault.chain.client): a transaction's signature is fixed when it is
signed, before it is sent, and every transaction is recorded in `vault_transactions` under that signature BEFORE it
goes on the wire. A retried activity therefore finds the earlier attempt and confirms it instead of acting twice; a
fresh transaction with the same intent is signed only once the earlier one can provably never land.

Time: everything that depends on expiry reads the CHAIN's clock (the Clock sysvar), never the worker's or Temporal's.
Temporal's clock decides when a workflow *tries* (its durable timer at `session_expiry`); the chain decides whether
the program will accept. The two differ in production (skew, slow slots) and wildly in tests (the time-skipping
server jumps hours; the local chain only moves when warped), so "not yet expired on chain" is a retryable error here.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from solana.rpc.commitment import Finalized
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from temporalio import activity

from activities.errors import business, from_chain_error, from_custody_error, retryable
from activities.models import (
    CleanupInput,
    CleanupOutcome,
    DepositOffer,
    FeeFloatInput,
    FeeFloatSweep,
    ObserveVaultInput,
    OfferedTransaction,
    QuoteDepositInput,
    RevokeOfferInput,
    SessionOpeningInput,
    SubmitSignedInput,
    SubmittedTransaction,
    TradeInput,
    TradeOnchain,
    VaultSnapshot,
    VerifyVaultInput,
)
from activities.resources import Resources
from ephemeral_vault.chain import instructions as ixs
from ephemeral_vault.chain.accounts import decode_delegation, decode_vault
from ephemeral_vault.chain.client import ChainClient, VaultView
from ephemeral_vault.chain.errors import (
    AccountNotFound,
    BlockhashExpired,
    ChainError,
    FinalChainError,
    SignedTransactionMismatch,
)
from ephemeral_vault.chain.events import TradeExecuted, VaultCleaned, events_of_type
from ephemeral_vault.chain.pdas import SessionAddresses
from ephemeral_vault.chain.send import SignedTx, TxResult
from ephemeral_vault.chain.session_tx import (
    InvalidSessionParameters,
    UnsignedTx,
    build_deposit,
    build_revoke,
    build_session_opening,
    verify_parent_signed,
)
from ephemeral_vault.chain.verify import ExpectedSession, compare_session
from ephemeral_vault.custody import CustodyError, SealedKey
from ephemeral_vault.custody import sign_transaction as custody_sign
from ephemeral_vault.db import ledger, session_keys
from ephemeral_vault.db.errors import ConflictingWriteError, SessionKeyNotFoundError
from ephemeral_vault.db.models import NewCleanup, NewTransaction, VaultTransaction
from ephemeral_vault.deposit_calculator import (
    SIGNATURE_FEE_LAMPORTS,
    DepositInputError,
    DepositInputs,
    calculate_deposit,
)
from workflows.messages import ErrorType


def _offered(u: UnsignedTx) -> OfferedTransaction:
    return OfferedTransaction(
        transaction_base64=u.transaction_base64,
        message_base64=u.message_base64,
        fee_payer=u.fee_payer,
        required_signers=list(u.required_signers),
        recent_blockhash=u.recent_blockhash,
        last_valid_block_height=u.last_valid_block_height,
    )


def _unsigned(o: OfferedTransaction) -> UnsignedTx:
    return UnsignedTx(
        transaction_base64=o.transaction_base64,
        message_base64=o.message_base64,
        fee_payer=o.fee_payer,
        required_signers=tuple(o.required_signers),
        recent_blockhash=o.recent_blockhash,
        last_valid_block_height=o.last_valid_block_height,
    )


def _pubkey(name: str, value: str) -> Pubkey:
    try:
        return Pubkey.from_string(value)
    except ValueError:
        raise business(ErrorType.INVALID_REQUEST, f"{name} is not a base58 public key") from None


class ChainActivities:
    def __init__(self, resources: Resources) -> None:
        self.r = resources

    @property
    def chain(self) -> ChainClient:
        return self.r.chain

    # --- helpers --------------------------------------------------------------------------------------------------

    async def _record(
        self, session_id: uuid.UUID | None, signature: str, kind: str, status: str, **kw: Any
    ) -> VaultTransaction | None:
        """The ledger row as it stands after this report (None: a transaction of no session, e.g. an orphan's)."""
        if session_id is None:
            return None
        recorded = await ledger.record_transaction(
            self.r.pool, NewTransaction(signature=signature, session_id=session_id, kind=kind, status=status, **kw)
        )
        return recorded.transaction

    async def _load_sealed(self, session_id: uuid.UUID) -> SealedKey | None:
        """The sealed key, or None once shredded (the session was revoked or has ended)."""
        try:
            record = await session_keys.load_session_key(self.r.pool, session_id)
        except SessionKeyNotFoundError:
            raise business(ErrorType.KEY_UNAVAILABLE, f"session {session_id} has no key") from None
        return None if record.is_shredded else SealedKey.from_record(record)

    async def _settle_superseded(self, session_id: uuid.UUID, kind: str) -> VaultTransaction | None:
        """Record how earlier attempts at a cleanup or fee-float sweep ended, once the intent is fulfilled (the vault
        is closed, the key's balance is swept): none of them can succeed any more. A retry signs a fresh transaction
        without consulting them, so an attempt whose send failed (or was dropped) would otherwise stay 'submitted'
        forever. Landed → recorded as it landed (the landed success is returned); unknown to the chain → failed."""
        landed: VaultTransaction | None = None
        for tx in await ledger.list_transactions(self.r.pool, session_id, kind=kind):
            if tx.status == "confirmed" and landed is None:
                landed = tx
            if tx.status != "submitted":
                continue
            try:
                status = await self.chain.signature_status(tx.signature)
                if status is None:
                    await self._record(
                        session_id, tx.signature, kind, "failed", error="superseded: never landed", lamports=tx.lamports
                    )
                    continue
                if not status.landed:
                    continue  # processed, not yet confirmed: a later retry or audit settles it
                try:
                    result = await self.chain.transaction_result(tx.signature)
                except FinalChainError as exc:
                    await self._record(
                        session_id, tx.signature, kind, "failed", error=str(exc)[:500], lamports=tx.lamports
                    )
                    continue
            except ChainError as exc:
                raise from_chain_error(exc) from None
            if result is not None:
                recorded = await self._record(
                    session_id, tx.signature, kind, "confirmed", slot=result.slot, fee=result.fee, lamports=tx.lamports
                )
                landed = landed or recorded
        return landed

    def _sign_as_session_key(self, sealed: SealedKey, message: Message, last_valid: int) -> SignedTx:
        """Decrypt, sign, forget — inside custody's one call."""
        try:
            tx = custody_sign(sealed, self.r.kek, message)
        except CustodyError as exc:
            raise from_custody_error(exc, str(sealed.session_id)) from None
        return SignedTx.from_transaction(tx, last_valid)  # type: ignore[arg-type]

    async def _send_recorded(
        self, session_id: uuid.UUID | None, signed: SignedTx, kind: str, *, resign_on_expiry: bool = False, **kw: Any
    ) -> TxResult:
        """Record as submitted, send, confirm, record the outcome. Chain errors are mapped for Temporal.

        `resign_on_expiry`: the backend signed this transaction (trade, cleanup, fee-float sweep), so a blockhash
        that expired before it landed is retryable — the retry signs a fresh one. Only a parent-signed transaction
        needs its signer to act again.
        """
        await self._record(session_id, signed.signature, kind, "submitted", **kw)
        try:
            result = await self.chain.send_and_confirm(signed)
        except BlockhashExpired as exc:
            await self._record(session_id, signed.signature, kind, "failed", error="blockhash expired", **kw)
            if resign_on_expiry:
                raise retryable("BlockhashExpired", f"{signed.signature} expired unlanded; signing afresh") from None
            raise from_chain_error(exc) from None
        except FinalChainError as exc:
            await self._record(session_id, signed.signature, kind, "failed", error=str(exc)[:500], **kw)
            raise from_chain_error(exc) from None
        except ChainError as exc:
            raise from_chain_error(exc) from None
        await self._record(session_id, signed.signature, kind, "confirmed", slot=result.slot, fee=result.fee, **kw)
        return result

    # --- session opening / parent-signed transactions ------------------------------------------------------------

    @activity.defn
    async def build_session_opening_transaction(self, req: SessionOpeningInput) -> OfferedTransaction:
        """The unsigned opening transaction (create_vault + approve_delegate [+ deposit] + fee float) for the parent."""
        try:
            opening = await build_session_opening(
                self.chain,
                _pubkey("parent_wallet", req.parent_wallet),
                _pubkey("ephemeral_pubkey", req.ephemeral_pubkey),
                session_duration=req.session_duration_seconds,
                max_deposit=req.max_deposit_lamports,
                initial_deposit=req.initial_deposit_lamports,
                fee_float_lamports=req.fee_float_lamports,
            )
        except (InvalidSessionParameters, ValueError) as exc:
            raise business(ErrorType.INVALID_REQUEST, str(exc)) from None
        except ChainError as exc:
            raise from_chain_error(exc) from None
        return _offered(opening.unsigned)

    @activity.defn
    async def submit_signed_transaction(self, req: SubmitSignedInput) -> SubmittedTransaction:
        """Check the parent-signed transaction is exactly the one offered, then submit and confirm it (idempotent:
        a signature that already landed — resent by a retry, or submitted by the wallet itself — is confirmed)."""
        signed: SignedTx | None = None
        for offered in [req.offered, *req.alternatives]:
            try:
                signed = verify_parent_signed(_unsigned(offered), req.signed_transaction)
                break
            except SignedTransactionMismatch as exc:
                mismatch = exc
            except ChainError as exc:
                raise business(ErrorType.INVALID_TRANSACTION, str(exc)) from None
        if signed is None:
            raise business(ErrorType.INVALID_TRANSACTION, str(mismatch))
        result = await self._send_recorded(uuid.UUID(req.session_id), signed, req.kind, lamports=req.lamports)
        return SubmittedTransaction(signature=result.signature, slot=result.slot, fee=result.fee)

    @activity.defn
    async def verify_vault_onchain(self, req: VerifyVaultInput) -> VaultSnapshot:
        """Vault and delegation, field by field, against what the session expects (DESIGN.md §4 step 2)."""
        parent = _pubkey("parent_wallet", req.parent_wallet)
        delegate = _pubkey("ephemeral_pubkey", req.ephemeral_pubkey)
        expected = ExpectedSession(
            parent=parent,
            delegate=delegate,
            max_deposit=req.max_deposit_lamports,
            session_duration=req.session_duration_seconds,
            claimed_vault=_pubkey("vault_pda", req.claimed_vault),
        )
        derived = SessionAddresses.derive(parent, delegate, self.chain.program.program_id).vault
        try:
            # One read for the comparison and the snapshot (the delegation PDA follows from the derived vault).
            view = await self.chain.vault_view(derived)
        except ChainError as exc:
            raise from_chain_error(exc) from None
        mismatches = compare_session(expected, view.vault, view.delegation, self.chain.program)
        if mismatches:
            if all(m.is_missing for m in mismatches):
                # The opening transaction may not have landed yet: retried a few times by the workflow's policy.
                raise retryable(ErrorType.VAULT_NOT_FOUND, f"vault {req.claimed_vault} is not on chain (yet)")
            raise business(
                ErrorType.VERIFICATION_FAILED,
                "on-chain accounts differ from the session: " + "; ".join(str(m) for m in mismatches),
                mismatches=[str(m) for m in mismatches],
            )
        return self._snapshot_of(derived, view)  # no mismatch: the claimed vault is the derived one

    async def _snapshot(self, vault_pk: Pubkey) -> VaultSnapshot:
        try:
            view = await self.chain.vault_view(vault_pk)
        except ChainError as exc:
            raise from_chain_error(exc) from None
        return self._snapshot_of(vault_pk, view)

    def _snapshot_of(self, vault_pk: Pubkey, view: VaultView) -> VaultSnapshot:
        program = self.chain.program
        try:
            try:
                vault = decode_vault(view.vault, vault_pk, program)
            except AccountNotFound:
                return VaultSnapshot(exists=False, chain_time=view.chain_time)
            revoked = False
            if not vault.is_active:
                try:
                    revoked = decode_delegation(view.delegation, view.delegation_address, program).is_revoked
                except AccountNotFound:
                    revoked = False
        except ChainError as exc:
            raise from_chain_error(exc) from None
        return VaultSnapshot(
            exists=True,
            chain_time=view.chain_time,
            is_active=vault.is_active,
            session_expiry=vault.session_expiry,
            created_at=vault.created_at,
            total_deposited=vault.total_deposited,
            total_spent=vault.total_spent,
            trade_count=vault.trade_count,
            lamports=vault.lamports,
            delegation_revoked=revoked,
        )

    @activity.defn
    async def observe_vault(self, req: ObserveVaultInput) -> VaultSnapshot:
        """Read-only: is the vault still there, active, revoked? (for revoke observation and polling)"""
        return await self._snapshot(_pubkey("vault_pda", req.vault_pda))

    # --- deposit --------------------------------------------------------------------------------------------------

    @activity.defn
    async def quote_deposit(self, req: QuoteDepositInput) -> DepositOffer:
        """Size a deposit with the AutoDepositCalculator from the live fee market and the vault, and build the
        auto_deposit_for_trade transaction for the parent to sign."""
        parent = _pubkey("parent_wallet", req.parent_wallet)
        vault_pk = _pubkey("vault_pda", req.vault_pda)
        try:
            vault = await self.chain.fetch_vault(vault_pk)
            rent = await self.chain.minimum_balance_for_rent_exemption(
                self.chain.program.constant("EPHEMERAL_VAULT_SIZE")
            )
        except AccountNotFound:
            raise business(ErrorType.VAULT_NOT_FOUND, f"vault {req.vault_pda} is not on chain") from None
        except ChainError as exc:
            raise from_chain_error(exc) from None
        headroom = vault.max_deposit - vault.total_deposited
        fee_per_trade = 0
        if req.amount_lamports is not None:
            amount = req.amount_lamports
            if amount > headroom:
                raise business(
                    ErrorType.DEPOSIT_UNAVAILABLE, f"{amount} lamports exceed the headroom {headroom} under max_deposit"
                )
        else:
            try:
                fees = tuple(await self.chain.recent_prioritization_fees([vault_pk]))
            except ChainError as exc:
                raise from_chain_error(exc) from None
            try:
                plan = calculate_deposit(
                    DepositInputs(
                        expected_trades=req.expected_trades or 1,
                        vault_balance=vault.lamports,
                        rent_exempt_minimum=rent,
                        max_deposit=vault.max_deposit,
                        total_deposited=vault.total_deposited,
                        total_spent=vault.total_spent,
                        recent_prioritization_fees=fees,
                    )
                )
            except DepositInputError as exc:
                raise business(ErrorType.INVALID_REQUEST, str(exc)) from None
            amount = plan.deposit_lamports
            fee_per_trade = plan.per_trade_cost
            if amount == 0 and headroom == 0:
                raise business(ErrorType.DEPOSIT_UNAVAILABLE, "max_deposit is reached: nothing more can be deposited")
        offered = OfferedTransaction("", "", req.parent_wallet, [req.parent_wallet], "", 0)
        if amount > 0:
            try:
                offered = _offered(await build_deposit(self.chain, parent, vault_pk, amount))
            except ChainError as exc:
                raise from_chain_error(exc) from None
        return DepositOffer(
            amount_lamports=amount,
            offered=offered,
            vault_balance=vault.lamports,
            headroom_lamports=headroom,
            fee_per_trade_lamports=fee_per_trade,
        )

    # --- trade ----------------------------------------------------------------------------------------------------

    @activity.defn
    async def execute_trade_onchain(self, req: TradeInput) -> TradeOnchain:
        """Sign `execute_trade` with the session key (inside custody), submit, confirm, record.

        At most one on-chain trade per trade id: an earlier attempt's transaction (found in vault_transactions by
        trade_ref) is confirmed, not repeated; a new one is signed only when the earlier one can never land.
        """
        session_id = uuid.UUID(req.session_id)
        trade_ref = uuid.UUID(req.trade_id)
        earlier = await self._earlier_trade(session_id, trade_ref)
        if earlier is not None:
            return earlier
        sealed = await self._load_sealed(session_id)
        if sealed is None:
            raise business(ErrorType.SESSION_REVOKED, f"session {session_id}: the key was shredded; no trade signed")
        vault_pk = _pubkey("vault_pda", req.vault_pda)
        try:
            ix = ixs.execute_trade(
                sealed.ephemeral_pubkey, vault_pk, req.fee_lamports, trade_ref.bytes, self.chain.program
            )
            blockhash = await self.chain.shared_blockhash()
        except ChainError as exc:
            raise from_chain_error(exc) from None
        except ValueError as exc:
            raise business(ErrorType.INVALID_REQUEST, str(exc)) from None
        message = Message.new_with_blockhash([ix], sealed.ephemeral_pubkey, blockhash.blockhash)
        signed = self._sign_as_session_key(sealed, message, blockhash.last_valid_block_height)
        del sealed
        try:
            result = await self._send_recorded(
                session_id, signed, "trade", resign_on_expiry=True, lamports=req.fee_lamports, trade_ref=trade_ref
            )
        except ConflictingWriteError:
            # A racing attempt recorded a live transaction for this trade first: let the retry confirm that one.
            raise retryable("TradeInFlight", f"trade {trade_ref} has a transaction in flight") from None
        return self._trade_result(result, trade_ref)

    def _trade_result(self, result: TxResult, trade_ref: uuid.UUID) -> TradeOnchain:
        for event in events_of_type(result.events, TradeExecuted):
            if bytes(event.trade_ref) == trade_ref.bytes:
                return TradeOnchain(
                    signature=result.signature,
                    slot=result.slot,
                    fee_lamports=event.fee_lamports,
                    total_spent=event.total_spent,
                    trade_count=event.trade_count,
                )
        raise business(ErrorType.TRANSACTION_FAILED, f"{result.signature} has no TradeExecuted event for {trade_ref}")

    async def _earlier_trade(self, session_id: uuid.UUID, trade_ref: uuid.UUID) -> TradeOnchain | None:
        """The outcome of an earlier attempt at this trade, or None if a new transaction may be signed."""
        for tx in await ledger.list_transactions(self.r.pool, session_id, kind="trade"):
            if tx.trade_ref != trade_ref or tx.status == "failed":
                continue
            try:
                status = await self.chain.signature_status(tx.signature)
                if status is not None and status.landed:
                    result = await self.chain.transaction_result(tx.signature)
                    if result is None:
                        raise retryable("TradePending", f"{tx.signature} landed but is not readable yet")
                    await self._record(
                        session_id,
                        tx.signature,
                        "trade",
                        "confirmed",
                        slot=result.slot,
                        fee=result.fee,
                        lamports=tx.lamports,
                        trade_ref=trade_ref,
                    )
                    return self._trade_result(result, trade_ref)
                if status is not None:
                    raise retryable("TradePending", f"{tx.signature} is processed, not yet confirmed")
                # Unknown signature: never sent, or dropped. Any blockhash it used is older than the latest one, so
                # once the finalized height passes the latest blockhash's last valid height it can never land. (The
                # latest, asked of the node now: the shared one may be older than the one that attempt used.)
                bound = (await self.chain.latest_blockhash()).last_valid_block_height
                while await self.chain.block_height(Finalized) <= bound:
                    activity.heartbeat("waiting for an earlier trade transaction to expire")
                    if await self.chain.signature_status(tx.signature) is not None:
                        raise retryable("TradePending", f"{tx.signature} appeared; confirming it on retry")
                    await asyncio.sleep(self.chain.poll_interval_seconds)
                if await self.chain.signature_status(tx.signature) is not None:
                    raise retryable("TradePending", f"{tx.signature} appeared; confirming it on retry")
            except FinalChainError as exc:
                await self._record(
                    session_id,
                    tx.signature,
                    "trade",
                    "failed",
                    error=str(exc)[:500],
                    lamports=tx.lamports,
                    trade_ref=trade_ref,
                )
                raise from_chain_error(exc) from None
            except ChainError as exc:
                raise from_chain_error(exc) from None
            await self._record(
                session_id,
                tx.signature,
                "trade",
                "failed",
                error="expired without landing",
                lamports=tx.lamports,
                trade_ref=trade_ref,
            )
        return None

    # --- revoke ---------------------------------------------------------------------------------------------------

    @activity.defn
    async def build_revoke_transaction(self, req: RevokeOfferInput) -> OfferedTransaction:
        try:
            return _offered(
                await build_revoke(
                    self.chain, _pubkey("parent_wallet", req.parent_wallet), _pubkey("vault_pda", req.vault_pda)
                )
            )
        except ChainError as exc:
            raise from_chain_error(exc) from None

    # --- cleanup --------------------------------------------------------------------------------------------------

    @activity.defn
    async def cleanup_vault_onchain(self, req: CleanupInput) -> CleanupOutcome:
        """`cleanup_vault` signed by the backend's cleaner key; the vault's lamports go to the parent.

        Compares against the CHAIN clock: before `session_expiry` on chain (and not revoked) the program would
        refuse, so this raises a RETRYABLE error and the retry policy tries again — Temporal's timer firing only
        means "it is time to try". Idempotent: a vault that is already closed is reported closed (with our earlier
        transaction's outcome if it was ours), never cleaned twice.
        """
        session_id = uuid.UUID(req.session_id) if req.session_id else None
        vault_pk = _pubkey("vault_pda", req.vault_pda)
        parent = _pubkey("parent_wallet", req.parent_wallet)
        try:
            view = await self.chain.vault_view(vault_pk)
            try:
                vault = decode_vault(view.vault, vault_pk, self.chain.program)
            except AccountNotFound:
                return await self._already_closed(session_id, req)
            if vault.parent != parent:
                raise business(ErrorType.VERIFICATION_FAILED, f"vault {vault_pk} belongs to {vault.parent}")
            now = view.chain_time
            if vault.is_active and now < vault.session_expiry:
                raise retryable(
                    "SessionNotExpiredOnChain",
                    f"vault {vault_pk}: chain time {now} < session_expiry {vault.session_expiry}",
                )
            ix = ixs.cleanup_vault(self.r.cleaner.pubkey(), parent, vault_pk, self.chain.program)
            signed = await self.chain.sign([ix], self.r.cleaner)
        except ChainError as exc:
            raise from_chain_error(exc) from None
        try:
            result = await self._send_recorded(session_id, signed, "cleanup", resign_on_expiry=True)
        except Exception:
            # Someone else (the sweep, another cleaner) may have closed it between our read and our send.
            try:
                await self.chain.fetch_vault(vault_pk)
            except AccountNotFound:
                return await self._already_closed(session_id, req)
            except ChainError:
                pass
            raise
        return await self._record_cleanup(session_id, req, result)

    async def _record_cleanup(
        self, session_id: uuid.UUID | None, req: CleanupInput, result: TxResult
    ) -> CleanupOutcome:
        if session_id is not None:
            await self._settle_superseded(session_id, "cleanup")
        cleaned = events_of_type(result.events, VaultCleaned)
        refunded = cleaned[0].refunded if cleaned else 0
        reward = cleaned[0].reward if cleaned else 0
        cleaner = str(cleaned[0].cleaner) if cleaned else str(self.r.cleaner.pubkey())
        await ledger.record_cleanup(
            self.r.pool,
            NewCleanup(
                vault_pda=req.vault_pda,
                signature=result.signature,
                refunded=refunded,
                reward=reward,
                cleaner=cleaner,
                trigger=req.trigger,
                session_id=session_id,
            ),
            actor="workflow" if req.trigger == "timer" else req.trigger,
        )
        return CleanupOutcome(
            vault_pda=req.vault_pda,
            closed=True,
            signature=result.signature,
            refunded=refunded,
            reward=reward,
            cleaner=cleaner,
        )

    async def _already_closed(self, session_id: uuid.UUID | None, req: CleanupInput) -> CleanupOutcome:
        """The vault is gone. If one of OUR cleanup transactions closed it (a retry after a crash), finish recording
        it; otherwise someone else cleaned it (permissionless) and there is nothing of ours to record."""
        if session_id is not None:
            for event in await ledger.list_cleanups(self.r.pool, session_id):
                if event.vault_pda == req.vault_pda:
                    return CleanupOutcome(
                        vault_pda=req.vault_pda,
                        closed=True,
                        signature=event.signature,
                        refunded=event.refunded,
                        reward=event.reward,
                        cleaner=event.cleaner,
                    )
            for tx in await ledger.list_transactions(self.r.pool, session_id, kind="cleanup"):
                if tx.status == "failed":
                    continue
                try:
                    result = await self.chain.transaction_result(tx.signature)
                except FinalChainError:
                    result = None
                except ChainError as exc:
                    raise from_chain_error(exc) from None
                if result is not None:
                    await self._record(
                        session_id, tx.signature, "cleanup", "confirmed", slot=result.slot, fee=result.fee
                    )
                    return await self._record_cleanup(session_id, req, result)
        return CleanupOutcome(vault_pda=req.vault_pda, closed=True)

    # --- fee float ------------------------------------------------------------------------------------------------

    @activity.defn
    async def sweep_fee_float(self, req: FeeFloatInput) -> FeeFloatSweep:
        """Return the ephemeral key's remaining SOL (the fee float) to the parent: must run BEFORE the key is shredded,
        since afterwards nothing can ever sign for that account. Naturally idempotent: it moves the current balance
        minus the fee, so a second attempt after a landed first finds nothing to move (and a duplicate of an
        unlanded first cannot both land: the second would find the account empty and fail for funds)."""
        session_id = uuid.UUID(req.session_id)
        sealed = await self._load_sealed(session_id)
        if sealed is None:
            return FeeFloatSweep(swept_lamports=0)
        parent = _pubkey("parent_wallet", req.parent_wallet)
        try:
            balance = await self.chain.balance(sealed.ephemeral_pubkey)
            fee = SIGNATURE_FEE_LAMPORTS
            if balance <= fee:
                # Nothing to move — perhaps because an earlier attempt landed while its sender saw a timeout.
                landed = await self._settle_superseded(session_id, "sweep")
                if landed is not None:
                    return FeeFloatSweep(swept_lamports=landed.lamports, signature=landed.signature)
                return FeeFloatSweep(swept_lamports=0)
            amount = balance - fee
            blockhash = await self.chain.shared_blockhash()
        except ChainError as exc:
            raise from_chain_error(exc) from None
        ix = transfer(TransferParams(from_pubkey=sealed.ephemeral_pubkey, to_pubkey=parent, lamports=amount))
        message = Message.new_with_blockhash([ix], sealed.ephemeral_pubkey, blockhash.blockhash)
        signed = self._sign_as_session_key(sealed, message, blockhash.last_valid_block_height)
        del sealed
        result = await self._send_recorded(session_id, signed, "sweep", resign_on_expiry=True, lamports=amount)
        await self._settle_superseded(session_id, "sweep")
        return FeeFloatSweep(swept_lamports=amount, signature=result.signature)
