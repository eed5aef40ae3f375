"""The demo's flow, against any running stack: a parent wallet opens a session through the API, deposits, a DEX
integration trades through the trade endpoint, then the parent revokes (or the session expires), and the workflow
cleans the vault up and returns every leftover lamport to the parent.

Everything goes over the public interfaces a real frontend uses: signed HTTP requests (`api.client_auth`), wallet
signatures on the transactions the API returns, the chain's JSON-RPC for balances. Nothing here reads PostgreSQL or
Temporal directly except the optional worker check in `preflight`. Secrets: the service token is sent as a header
and never printed; the ephemeral key never leaves the backend (the demo only ever sees its public key).
"""

from __future__ import annotations

import asyncio
import base64
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from rich.console import Console
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.transaction import Transaction

from api.client_auth import ParentWalletAuth
from ephemeral_vault.chain.client import ChainClient, redact_url
from ephemeral_vault.payload_converter import DATA_CONVERTER

SOL = 1_000_000_000
FINAL_STATUSES = ("CLEANED", "ABANDONED")
MIN_SESSION_SECONDS = 60  # the program's lower bound
ACTIVE_QUERY = 'SessionStatus="ACTIVE"'


class DemoError(Exception):
    """A step failed; the message says which and why (no traceback needed)."""


class StackNotRunning(DemoError):
    pass


@dataclass(frozen=True)
class DemoTarget:
    """Where the stack is."""

    api_url: str
    rpc_url: str
    service_token: str | None = field(repr=False)
    temporal_ui_url: str | None = "http://127.0.0.1:8233"
    namespace: str = "default"
    temporal_address: str | None = None  # set to check that a worker polls `task_queue` before starting
    task_queue: str | None = None


@dataclass(frozen=True)
class DemoOptions:
    trades: int = 3
    expire: bool = False  # let the session expire instead of revoking
    session_seconds: int | None = None  # default: 3600, or the minimum (60) with expire
    max_deposit_lamports: int = 2 * SOL
    initial_deposit_lamports: int = SOL // 4
    top_up_lamports: int = SOL // 10  # deposited when the vault already covers the expected trades
    fee_lamports: int = 5_000  # per trade, reimbursed vault → delegate
    airdrop_lamports: int = 10 * SOL
    cleanup_timeout_seconds: float = 180.0

    @property
    def duration(self) -> int:
        if self.session_seconds is not None:
            return self.session_seconds
        return MIN_SESSION_SECONDS if self.expire else 3600


@dataclass
class Balances:
    parent: int | None
    vault: int | None  # None once the vault account is closed
    delegate: int | None

    def describe(self) -> str:
        def fmt(lamports: int | None) -> str:
            return "closed" if lamports is None else f"{lamports / SOL:,.9f} SOL"

        return f"parent {fmt(self.parent)} · vault {fmt(self.vault)} · delegate {fmt(self.delegate)}"


@dataclass
class DemoResult:
    session_id: str
    parent_wallet: str
    vault_pda: str
    ephemeral_pubkey: str
    final_status: str
    trade_count: int
    total_deposited: int
    total_spent: int
    trade_signatures: list[str] = field(default_factory=list)
    balances: dict[str, Balances] = field(default_factory=dict)  # step name → balances after it
    workflow_url: str | None = None
    filter_url: str | None = None


def wallet_sign(transaction_base64: str, keypair: Keypair) -> str:
    """What a wallet's signTransaction does: sign the offered message as it is (blockhash included), re-encode."""
    tx = Transaction.from_bytes(base64.b64decode(transaction_base64))
    tx.partial_sign([keypair], tx.message.recent_blockhash)
    return base64.b64encode(bytes(tx)).decode()


def workflow_url(target: DemoTarget, session_id: str) -> str | None:
    if not target.temporal_ui_url:
        return None
    return f"{target.temporal_ui_url}/namespaces/{target.namespace}/workflows/session-{session_id}"


def filter_url(target: DemoTarget, query: str) -> str | None:
    if not target.temporal_ui_url:
        return None
    return f"{target.temporal_ui_url}/namespaces/{target.namespace}/workflows?query={urllib.parse.quote(query)}"


class Reporter:
    """Prints the steps. Long waits show a live spinner on a terminal and a line every few seconds otherwise."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False, soft_wrap=True)
        self.step_no = 0

    def step(self, title: str) -> None:
        self.step_no += 1
        self.console.print(f"\n[bold cyan]{self.step_no}. {title}[/]")

    def info(self, text: str) -> None:
        self.console.print(f"   {text}")

    def balances(self, balances: Balances) -> None:
        self.console.print(f"   [dim]balances:[/] {balances.describe()}")

    @asynccontextmanager
    async def progress(self, label: str, describe: Callable[[], str] = lambda: "") -> AsyncIterator[None]:
        started = time.monotonic()

        def text() -> str:
            extra = describe()
            return f"{label} … {time.monotonic() - started:.0f}s" + (f" ({extra})" if extra else "")

        async def tick(update: Callable[[str], None], every: float) -> None:
            while True:
                await asyncio.sleep(every)
                update(text())

        if self.console.is_terminal:
            with self.console.status(text()) as status:
                ticker = asyncio.create_task(tick(lambda t: status.update(t), 0.25))
                try:
                    yield
                finally:
                    ticker.cancel()
        else:
            ticker = asyncio.create_task(tick(lambda t: self.info(t), 5.0))
            try:
                yield
            finally:
                ticker.cancel()
        self.info(f"{label}: done in {time.monotonic() - started:.1f}s")


def _error_text(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
        detail = f" ({error['field']})" if error.get("field") else ""
        return f"{response.status_code} {error['code']}: {error['message']}{detail}"
    except (ValueError, KeyError, TypeError):
        return f"{response.status_code}: {response.text[:200]}"


def _ok(response: httpx.Response, what: str, status: int = 200) -> dict[str, Any]:
    if response.status_code != status:
        raise DemoError(f"{what} failed: {_error_text(response)}")
    body: dict[str, Any] = response.json()
    return body


async def preflight(target: DemoTarget) -> None:
    """Fail fast, with what to do, when the stack is not there."""
    hint = "Start the stack with `make run` in another terminal, wait for 'Ephemeral Vault is running', then retry."
    async with httpx.AsyncClient(timeout=5) as http:
        try:
            ready = await http.get(f"{target.api_url}/readyz")
        except httpx.TransportError:
            raise StackNotRunning(f"the API does not answer at {target.api_url}. {hint}") from None
        if ready.status_code != 200:
            try:
                failing = [name for name, check in ready.json()["checks"].items() if not check["ok"]]
            except (ValueError, KeyError, TypeError, AttributeError):
                failing = []
            raise StackNotRunning(
                f"the API at {target.api_url} is not ready ({', '.join(failing) or ready.status_code}). {hint}"
            )
        try:
            health = await http.post(target.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": "getHealth"})
        except httpx.TransportError:
            raise StackNotRunning(f"the chain does not answer at {redact_url(target.rpc_url)}. {hint}") from None
        if health.status_code != 200 or health.json().get("result") != "ok":
            raise StackNotRunning(f"the chain at {redact_url(target.rpc_url)} is not healthy. {hint}")
    if not target.service_token:
        raise DemoError(
            "no API_SERVICE_TOKEN: the demo trades as the DEX integration. `make run` writes one to "
            "var/devstack.env; elsewhere set API_SERVICE_TOKEN to the API's value."
        )
    if target.temporal_address and target.task_queue:
        await _check_worker(target.temporal_address, target.namespace, target.task_queue, hint)


async def _check_worker(address: str, namespace: str, task_queue: str, hint: str) -> None:
    from temporalio.api.enums.v1 import TaskQueueType
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
    from temporalio.client import Client

    try:
        client = await asyncio.wait_for(Client.connect(address, namespace=namespace, data_converter=DATA_CONVERTER), 10)
        described = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=namespace,
                task_queue=TaskQueue(name=task_queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            )
        )
    except Exception as exc:  # any connection failure: the message is what matters
        raise StackNotRunning(f"Temporal does not answer at {address} ({type(exc).__name__}). {hint}") from None
    if not described.pollers:
        raise StackNotRunning(f"no worker polls task queue {task_queue!r} on {address}. {hint}")


async def run_demo(target: DemoTarget, options: DemoOptions, reporter: Reporter | None = None) -> DemoResult:
    """The whole demo. Raises DemoError (StackNotRunning first of all) with a readable message on failure."""
    out = reporter or Reporter()
    await preflight(target)
    parent = Keypair()
    wallet = str(parent.pubkey())
    trade_headers = {"Authorization": f"Bearer {target.service_token}"}
    async with (
        ChainClient(target.rpc_url, poll_interval_seconds=0.1, confirm_timeout_seconds=60) as chain,
        httpx.AsyncClient(base_url=target.api_url, auth=ParentWalletAuth(parent), timeout=60) as http,
        httpx.AsyncClient(base_url=target.api_url, timeout=60) as dex,
    ):
        return await _Flow(target, options, out, chain, http, dex, parent, wallet, trade_headers).run()


@dataclass
class _Flow:
    target: DemoTarget
    options: DemoOptions
    out: Reporter
    chain: ChainClient
    http: httpx.AsyncClient  # signs every request with the parent wallet
    dex: httpx.AsyncClient  # the DEX integration: bearer token, no wallet
    parent: Keypair = field(repr=False)  # solders' Keypair repr prints the secret bytes
    wallet: str
    trade_headers: dict[str, str] = field(repr=False)  # carries the service token
    result: DemoResult | None = None

    async def balances(self, step: str) -> Balances:
        assert self.result is not None
        keys = [self.parent.pubkey(), Pubkey.from_string(self.result.vault_pda),
                Pubkey.from_string(self.result.ephemeral_pubkey)]
        accounts = await self.chain.raw_accounts(keys)
        found = Balances(*(None if acc is None else acc.lamports for acc in accounts))
        self.result.balances[step] = found
        self.out.balances(found)
        return found

    async def run(self) -> DemoResult:
        opts, out = self.options, self.out

        out.step("Parent wallet")
        out.info(f"generated keypair {self.wallet} (the demo's stand-in for a browser wallet)")
        async with out.progress(f"airdrop {opts.airdrop_lamports / SOL:g} SOL on the local chain"):
            await self.chain.request_airdrop(self.parent.pubkey(), opts.airdrop_lamports)
        out.info(f"balance {await self.chain.balance(self.parent.pubkey()) / SOL:,.9f} SOL")

        out.step("POST /session/create (signed by the parent wallet)")
        async with out.progress("create: workflow start + session key provisioned"):
            created = _ok(await self.http.post("/session/create", json={
                "session_duration_seconds": opts.duration,
                "max_deposit_lamports": opts.max_deposit_lamports,
                "initial_deposit_lamports": opts.initial_deposit_lamports,
            }), "create", 201)
        session_id = created["session_id"]
        self.result = DemoResult(
            session_id=session_id, parent_wallet=self.wallet, vault_pda=created["vault_pda"],
            ephemeral_pubkey=created["ephemeral_pubkey"], final_status=created["status"], trade_count=0,
            total_deposited=0, total_spent=0, workflow_url=workflow_url(self.target, session_id),
            filter_url=filter_url(self.target, f'ParentWallet="{self.wallet}"'),
        )
        out.info(f"session   {session_id}  status {created['status']}")
        out.info(f"vault     {created['vault_pda']}")
        out.info(f"delegate  {created['ephemeral_pubkey']}  (public key; the secret stays sealed in the backend)")
        out.info(f"duration  {opts.duration}s, max deposit {opts.max_deposit_lamports / SOL:g} SOL, "
                 f"fee float {created['fee_float_lamports'] / SOL:g} SOL")
        if self.result.workflow_url:
            out.info(f"Temporal UI: {self.result.workflow_url}")
            out.info(f"             {self.result.filter_url}")
        await self.balances("created")

        out.step("Parent signs the session-opening transaction once; POST /session/approve")
        out.info("create_vault + approve_delegate + initial deposit + the delegate's fee float, one signature")
        async with out.progress("approve: submit, confirm, verify vault and delegation on chain"):
            approved = _ok(await self.http.post("/session/approve", json={
                "session_id": session_id, "vault_pda": created["vault_pda"],
                "signed_transaction": wallet_sign(created["unsigned_transaction"], self.parent),
            }), "approve")
        out.info(f"status {approved['status']}, deposited {approved['total_deposited'] / SOL:g} SOL, "
                 f"expires at {time.strftime('%H:%M:%S', time.localtime(approved['session_expiry']))}, "
                 f"tx {approved.get('signature')}")
        await self.balances("approved")

        out.step(f"POST /session/deposit for {opts.trades} expected trades; parent signs; POST /session/deposit/submit")
        quote = _ok(await self.http.post("/session/deposit", json={
            "session_id": session_id, "expected_trades": opts.trades}), "deposit quote")
        out.info(f"calculator: {quote['fee_per_trade_lamports']} lamports per trade, vault holds "
                 f"{quote['vault_balance'] / SOL:,.9f} SOL, headroom {quote['headroom_lamports'] / SOL:g} SOL "
                 f"-> deposit {quote['amount_lamports'] / SOL:,.9f} SOL")
        if quote["amount_lamports"] == 0:
            out.info(f"the vault already covers {opts.trades} trades; topping up "
                     f"{opts.top_up_lamports / SOL:g} SOL instead")
            quote = _ok(await self.http.post("/session/deposit", json={
                "session_id": session_id, "amount_lamports": opts.top_up_lamports}), "deposit quote")
        async with out.progress("deposit: submit and confirm"):
            deposit = _ok(await self.http.post("/session/deposit/submit", json={
                "session_id": session_id,
                "signed_transaction": wallet_sign(quote["unsigned_transaction"], self.parent),
            }), "deposit")
        self.result.total_deposited = deposit["total_deposited"]
        out.info(f"deposited {deposit['amount_lamports'] / SOL:,.9f} SOL, total {deposit['total_deposited'] / SOL:,.9f}"
                 f" SOL, tx {deposit['signature']}")
        await self.balances("deposited")

        out.step(f"{opts.trades} trades through POST /session/trade (the DEX integration, service token)")
        for n in range(1, opts.trades + 1):
            trade_id = str(uuid.uuid4())
            traded = _ok(await self.dex.post("/session/trade", headers=self.trade_headers, json={
                "session_id": session_id, "trade_id": trade_id, "fee_lamports": opts.fee_lamports,
                "market": "SOL-USDC", "side": "buy" if n % 2 else "sell", "size": 10 * n,
            }), f"trade {n}")
            self.result.trade_signatures.append(traded["signature"])
            self.result.trade_count, self.result.total_spent = traded["trade_count"], traded["total_spent"]
            out.info(f"trade {n}: slot {traded['slot']}, fee {traded['fee_lamports']} lamports, "
                     f"spent {traded['total_spent']}, tx {traded['signature']}")
        await self.balances("traded")

        if opts.expire:
            await self.let_expire(approved["session_expiry"])
        else:
            await self.revoke()

        status = await self.wait_final()
        self.result.final_status = status["status"]
        self.result.trade_count = status["trade_count"]
        self.result.total_deposited, self.result.total_spent = status["total_deposited"], status["total_spent"]
        out.info(f"status {status['status']}: {status['trade_count']} trades, deposited "
                 f"{status['total_deposited'] / SOL:,.9f} SOL, spent {status['total_spent']} lamports, "
                 f"cleanup tx {status.get('cleanup_signature')}")
        final = await self.balances("final")
        start = self.result.balances["created"]
        if start.parent is not None and final.parent is not None:
            out.info(f"the parent paid {(start.parent - final.parent) / SOL:,.9f} SOL in all "
                     f"(trade fees, transaction fees, cleanup reward); the rest came back")

        out.step("Where to look")
        if self.result.workflow_url:
            out.info(f"workflow history   {self.result.workflow_url}")
            out.info(f"this parent        {self.result.filter_url}")
            out.info(f"live sessions      {filter_url(self.target, ACTIVE_QUERY)}")
        out.info(f"session status     GET {self.target.api_url}/session/status/{session_id} (signed)")
        return self.result

    async def revoke(self) -> None:
        assert self.result is not None
        out, session_id = self.out, self.result.session_id
        out.step("Parent revokes: POST /session/revoke (key shredded at once), signs revoke_access, posts it")
        offered = _ok(await self.http.post("/session/revoke", json={"session_id": session_id,
                                                                    "reason": "demo"}), "revoke")
        out.info(f"key shredded: {offered['key_shredded']}; revoke_access offered for the parent's signature")
        async with out.progress("revoke: submit and confirm revoke_access"):
            revoked = _ok(await self.http.post("/session/revoke", json={
                "session_id": session_id,
                "signed_transaction": wallet_sign(offered["unsigned_transaction"], self.parent),
            }), "revoke submit")
        out.info(f"status {revoked['status']}, revoked on chain: {revoked['revoked_on_chain']}, "
                 f"tx {revoked['signature']}")
        refused = await self.dex.post("/session/trade", headers=self.trade_headers, json={
            "session_id": session_id, "trade_id": str(uuid.uuid4()), "fee_lamports": self.options.fee_lamports})
        out.info(f"a trade after revoke is refused: {_error_text(refused)}")
        await self.balances("revoked")

    async def let_expire(self, session_expiry: int) -> None:
        out = self.out
        out.step("No revoke: waiting for the session to expire (the workflow's timer, then cleanup)")

        def remaining() -> str:
            left = session_expiry - time.time()
            return f"expires in {left:.0f}s" if left > 0 else "expired; waiting for the workflow"

        async with out.progress("expiry", remaining):
            await self.poll_status(lambda s: s["status"] != "ACTIVE", session_expiry - time.time() + 60)

    async def wait_final(self) -> dict[str, Any]:
        self.out.step("The workflow cleans up: cleanup_vault returns the vault's lamports to the parent")
        seen: list[str] = []

        def describe() -> str:
            return " → ".join(seen)

        async with self.out.progress("cleanup", describe):
            return await self.poll_status(lambda s: s["status"] in FINAL_STATUSES,
                                          self.options.cleanup_timeout_seconds, seen)

    async def poll_status(self, done: Callable[[dict[str, Any]], bool], within_seconds: float,
                          seen: list[str] | None = None) -> dict[str, Any]:
        assert self.result is not None
        deadline = time.monotonic() + max(within_seconds, 5)
        while True:
            status = _ok(await self.http.get(f"/session/status/{self.result.session_id}"), "status")
            if seen is not None and (not seen or seen[-1] != status["status"]):
                seen.append(status["status"])
            if done(status):
                return status
            if time.monotonic() > deadline:
                raise DemoError(f"session still {status['status']} after {within_seconds:.0f}s "
                                f"(last error: {status.get('last_error')}); see the workflow in the Temporal UI")
            await asyncio.sleep(0.5)

