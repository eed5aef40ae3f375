"""Sign API requests with a parent wallet's Keypair (tests, the demo, `python -m api.sign` for curl).

    headers = signed_headers(keypair, "POST", "/session/create", body_bytes)
    httpx.post(url, content=body_bytes, headers={**headers, "Content-Type": "application/json"})

or let httpx do it: `httpx.AsyncClient(auth=ParentWalletAuth(keypair))` signs every request it sends (the exact raw
path, query and body bytes that go on the wire).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Generator

import httpx
from solders.keypair import Keypair

from api.signing import (
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    HEADER_WALLET,
    SignedRequest,
    body_sha256,
)

DEFAULT_DOMAIN = "ephemeral-vault"


def new_nonce() -> str:
    return secrets.token_urlsafe(18)  # 24 characters of [A-Za-z0-9_-]


def signed_headers(
    keypair: Keypair,
    method: str,
    target: str,
    body: bytes = b"",
    *,
    domain: str = DEFAULT_DOMAIN,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The four X-EV-* headers for one request. `target` is the raw path plus `?query` exactly as sent."""
    signed = SignedRequest(
        domain=domain,
        method=method.upper(),
        target=target,
        body_sha256=body_sha256(body),
        wallet=str(keypair.pubkey()),
        timestamp=int(time.time()) if timestamp is None else timestamp,
        nonce=new_nonce() if nonce is None else nonce,
    )
    return {
        HEADER_WALLET: signed.wallet,
        HEADER_TIMESTAMP: str(signed.timestamp),
        HEADER_NONCE: signed.nonce,
        HEADER_SIGNATURE: str(keypair.sign_message(signed.message())),
    }


def ws_auth_message(keypair: Keypair, target: str = "/ws/session", *, domain: str = DEFAULT_DOMAIN) -> dict[str, str]:
    """The first WebSocket message for clients that cannot send headers on the upgrade request."""
    headers = signed_headers(keypair, "GET", target, b"", domain=domain)
    return {"type": "auth", "wallet": headers[HEADER_WALLET], "timestamp": headers[HEADER_TIMESTAMP],
            "nonce": headers[HEADER_NONCE], "signature": headers[HEADER_SIGNATURE]}


class ParentWalletAuth(httpx.Auth):
    """httpx auth flow: signs each request as it will be sent."""

    requires_request_body = True

    def __init__(self, keypair: Keypair, *, domain: str = DEFAULT_DOMAIN) -> None:
        self.keypair = keypair
        self.domain = domain

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        target = request.url.raw_path.decode("ascii")
        request.headers.update(signed_headers(self.keypair, request.method, target, request.content,
                                              domain=self.domain))
        yield request
