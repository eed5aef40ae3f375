"""The signed-message format is a wire contract for every client (browser wallets, the DEX integration's tooling):
pinned byte for byte here, and checked with an independent ed25519 implementation."""

from __future__ import annotations

import based58
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from solders.keypair import Keypair

from api.client_auth import signed_headers
from api.signing import SignedRequest, body_sha256

SEED = bytes(range(32))
BODY = b'{"session_duration_seconds":3600,"max_deposit_lamports":500000000}'


def test_canonical_message_is_pinned() -> None:
    wallet = str(Keypair.from_seed(SEED).pubkey())
    message = SignedRequest(domain="ephemeral-vault", method="post", target="/sessions?limit=5",
                            body_sha256=body_sha256(BODY), wallet=wallet, timestamp=1764300000,
                            nonce="AAAAAAAAAAAAAAAAAAAAAAAA").message()
    assert message == (
        "ephemeral-vault API request\n"
        "method: POST\n"
        "path: /sessions?limit=5\n"
        "body-sha256: " + body_sha256(BODY) + "\n"
        "wallet: " + wallet + "\n"
        "timestamp: 1764300000\n"
        "nonce: AAAAAAAAAAAAAAAAAAAAAAAA"
    ).encode()


def test_client_signature_verifies_with_another_ed25519_implementation() -> None:
    keypair = Keypair.from_seed(SEED)
    headers = signed_headers(keypair, "POST", "/session/create", BODY, timestamp=1764300000,
                             nonce="AAAAAAAAAAAAAAAAAAAAAAAA")
    message = SignedRequest(domain="ephemeral-vault", method="POST", target="/session/create",
                            body_sha256=body_sha256(BODY), wallet=headers["X-EV-Wallet"], timestamp=1764300000,
                            nonce="AAAAAAAAAAAAAAAAAAAAAAAA").message()
    public_key = Ed25519PublicKey.from_public_bytes(based58.b58decode(headers["X-EV-Wallet"].encode()))
    public_key.verify(based58.b58decode(headers["X-EV-Signature"].encode()), message)  # raises if invalid
