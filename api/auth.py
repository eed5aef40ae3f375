"""Authentication: the parent wallet's ed25519 signature (api/signing.py) or, for the DEX integration, a service token.

Order of checks for a signed request, cheapest and least revealing first:
1. all four headers present and well-formed (else 401 `auth_missing` / `auth_malformed`);
2. timestamp within AUTH_MAX_SKEW_SECONDS of the server clock (else 401 `auth_stale`);
3. the signature verifies over the canonical message with the wallet's key (else 401 `auth_bad_signature`) —
   before touching the database, so nobody can burn another wallet's nonces or rate budget;
4. one PostgreSQL call (`api_admit_request`, migrations/0900_api_auth.sql): the wallet's shared rate limit
   (429 `rate_limited` with Retry-After) and the single-use nonce (401 `auth_replayed`).
"""

from __future__ import annotations

import hmac
import math
import time
from dataclasses import dataclass

import asyncpg
from solders.pubkey import Pubkey
from solders.signature import Signature

from api.errors import ApiError, unauthorized
from api.signing import (
    AUTH_HEADERS,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    HEADER_WALLET,
    NONCE_RE,
    TIMESTAMP_RE,
    SignedRequest,
)
from ephemeral_vault.settings import Settings


@dataclass(frozen=True)
class Parent:
    """The authenticated parent wallet of a request."""

    wallet: str


def request_target(raw_path: bytes, query_string: bytes) -> str:
    """The request target as the client sent it: raw path plus `?query` when present."""
    target = raw_path.decode("latin-1")
    if query_string:
        target += "?" + query_string.decode("latin-1")
    return target


def verify_signed_headers(
    headers: dict[str, str | None],
    *,
    method: str,
    target: str,
    body_sha256: str,
    settings: Settings,
    now: float | None = None,
) -> SignedRequest:
    """Steps 1-3 (no I/O). `headers` maps each of AUTH_HEADERS to its value or None. Raises ApiError(401)."""
    missing = [name for name in AUTH_HEADERS if not headers.get(name)]
    if missing:
        raise unauthorized("auth_missing", f"missing authentication header(s): {', '.join(missing)}", missing[0])
    wallet = headers[HEADER_WALLET] or ""
    timestamp_text = headers[HEADER_TIMESTAMP] or ""
    nonce = headers[HEADER_NONCE] or ""
    signature_text = headers[HEADER_SIGNATURE] or ""

    try:
        pubkey = Pubkey.from_string(wallet)
    except ValueError:
        raise unauthorized("auth_malformed", "X-EV-Wallet must be a base58 public key", HEADER_WALLET) from None
    if str(pubkey) != wallet:  # non-canonical spellings would dodge the per-wallet nonce and rate-limit keys
        raise unauthorized("auth_malformed", "X-EV-Wallet must be a base58 public key", HEADER_WALLET)
    if not TIMESTAMP_RE.match(timestamp_text):
        raise unauthorized("auth_malformed", "X-EV-Timestamp must be unix seconds", HEADER_TIMESTAMP)
    if not NONCE_RE.match(nonce):
        raise unauthorized("auth_malformed", "X-EV-Nonce must be 16-64 characters of [A-Za-z0-9_-]", HEADER_NONCE)
    try:
        signature = Signature.from_string(signature_text)
    except ValueError:
        raise unauthorized("auth_malformed", "X-EV-Signature must be a base58 ed25519 signature",
                           HEADER_SIGNATURE) from None

    timestamp = int(timestamp_text)
    current = time.time() if now is None else now
    if abs(current - timestamp) > settings.auth_max_skew_seconds:
        raise unauthorized(
            "auth_stale",
            f"X-EV-Timestamp is more than {settings.auth_max_skew_seconds} s away from the server clock",
            HEADER_TIMESTAMP,
        )

    signed = SignedRequest(
        domain=settings.auth_domain, method=method, target=target, body_sha256=body_sha256,
        wallet=wallet, timestamp=timestamp, nonce=nonce,
    )
    if not signature.verify(pubkey, signed.message()):
        raise unauthorized("auth_bad_signature", "the signature does not match this request and wallet",
                           HEADER_SIGNATURE)
    return signed


async def admit(pool: asyncpg.Pool, signed: SignedRequest, settings: Settings) -> None:
    """Step 4: the shared rate limit, then the single-use nonce. Raises ApiError(429 or 401)."""
    nonce_ttl = 2 * settings.auth_max_skew_seconds + 1  # a timestamp up to skew ahead stays valid for 2 x skew
    verdict = await pool.fetchval(
        "SELECT api_admit_request($1, $2, $3, $4)",
        signed.wallet, signed.nonce, float(nonce_ttl), settings.rate_limit_per_minute,
    )
    if verdict == -1:
        raise unauthorized("auth_replayed", "this nonce was already used by this wallet", HEADER_NONCE)
    if verdict > 0:
        retry_after = max(1, math.ceil(verdict))
        raise ApiError(
            429, "rate_limited", f"more than {settings.rate_limit_per_minute} requests per minute for this wallet",
            details={"retry_after_seconds": retry_after}, headers={"Retry-After": str(retry_after)},
        )


def check_service_token(authorization: str | None, settings: Settings) -> None:
    """`Authorization: Bearer <API_SERVICE_TOKEN>`, compared in constant time. Unset token = the route is closed."""
    expected = settings.api_service_token
    if expected is None or not expected.get_secret_value():
        raise ApiError(403, "service_auth_disabled", "API_SERVICE_TOKEN is not configured on this server")
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "auth_missing", "Authorization: Bearer <service token> required", field="Authorization",
                       headers={"WWW-Authenticate": 'Bearer realm="dex-integration"'})
    if not hmac.compare_digest(token.strip().encode(), expected.get_secret_value().encode()):
        raise ApiError(401, "auth_bad_token", "invalid service token", field="Authorization",
                       headers={"WWW-Authenticate": 'Bearer realm="dex-integration"'})
