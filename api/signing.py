"""The signed-request format shared by the server (api/auth.py) and clients (api/client_auth.py).

A request acting for a parent wallet carries four headers and the wallet's ed25519 signature over one canonical,
line-oriented UTF-8 message (Sign-In-With-Solana style: human-readable, so a wallet's "sign message" dialog shows what
is being authorised):

    <domain> API request
    method: POST
    path: /session/create
    body-sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    wallet: 7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU
    timestamp: 1764300000
    nonce: 1f9c0b6a2d3e4f50

- `path` is the request target exactly as sent: the raw path plus `?query` when there is one, so paging parameters
  are covered by the signature too.
- `body-sha256` is the lowercase hex SHA-256 of the raw body bytes (of the empty string for GET and WebSocket).
- `timestamp` is unix seconds; the server accepts it within AUTH_MAX_SKEW_SECONDS of its own clock.
- `nonce` is single-use per wallet (16-64 characters of `[A-Za-z0-9_-]`), remembered in PostgreSQL by every instance.
- `domain` (AUTH_DOMAIN) binds the signature to one deployment.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

HEADER_WALLET = "X-EV-Wallet"
HEADER_TIMESTAMP = "X-EV-Timestamp"
HEADER_NONCE = "X-EV-Nonce"
HEADER_SIGNATURE = "X-EV-Signature"
AUTH_HEADERS = (HEADER_WALLET, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE)

NONCE_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
TIMESTAMP_RE = re.compile(r"^[0-9]{1,12}$")
EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True)
class SignedRequest:
    """The fields that the parent wallet signs."""

    domain: str
    method: str
    target: str  # raw path + optional "?query"
    body_sha256: str
    wallet: str
    timestamp: int
    nonce: str

    def message(self) -> bytes:
        return (
            f"{self.domain} API request\n"
            f"method: {self.method.upper()}\n"
            f"path: {self.target}\n"
            f"body-sha256: {self.body_sha256}\n"
            f"wallet: {self.wallet}\n"
            f"timestamp: {self.timestamp}\n"
            f"nonce: {self.nonce}"
        ).encode()


def body_sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()
