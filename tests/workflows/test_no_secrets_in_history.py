"""No key material in Temporal history: the full history of a session that traded and was revoked contains neither
the ephemeral secret, nor its ciphertext, nor the data key (plain or wrapped), in any encoding."""

from __future__ import annotations

import base64
import uuid

from solders.pubkey import Pubkey

from ephemeral_vault.custody import SealedKey, with_session_keypair
from ephemeral_vault.custody.sealed_key import dek_aad
from ephemeral_vault.db import session_keys
from tests.workflows.conftest import Harness, wallet_sign
from workflows.messages import REVOKE_UPDATE, TRADE_UPDATE, RevokeRequest, RevokeResult, TradeRequest, TradeResult

BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58(data: bytes) -> str:
    num, out = int.from_bytes(data, "big"), ""
    while num:
        num, rem = divmod(num, 58)
        out = BASE58[rem] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def encodings(secret: bytes) -> dict[str, bytes]:
    """Every way a byte string could plausibly be written into a payload, a failure message or a log line."""
    forms = {
        "raw": secret,
        "hex": secret.hex().encode(),
        "HEX": secret.hex().upper().encode(),
        "base64": base64.b64encode(secret),
        "base64url": base64.urlsafe_b64encode(secret),
        "base64-unpadded": base64.b64encode(secret).rstrip(b"="),
        "base58": b58(secret).encode(),
        "json-list": str(list(secret)).encode(),
        "json-list-compact": str(list(secret)).replace(" ", "").encode(),
        "python-bytes-repr": repr(secret).encode(),
    }
    # A prefix long enough to be unambiguous catches truncated or re-wrapped copies too.
    forms["hex-prefix"] = secret[:16].hex().encode()
    forms["base64-prefix"] = base64.b64encode(secret[:15])
    return forms


def found_in(haystacks: list[bytes], secret: bytes) -> list[str]:
    return [name for name, form in encodings(secret).items() if any(form in h for h in haystacks)]


async def test_full_session_history_contains_no_key_material(harness: Harness, parent) -> None:
    created, handle, _ = await harness.open(parent)
    await handle.execute_update(
        TRADE_UPDATE, TradeRequest(trade_id=str(uuid.uuid4()), fee_lamports=5_000), result_type=TradeResult
    )
    # Capture the key material while it still exists (revoke shreds it).
    record = await session_keys.load_session_key(harness.pool, uuid.UUID(created.session_id))
    sealed = SealedKey.from_record(record)
    secret = with_session_keypair(sealed, harness.resources.kek, lambda kp: bytes(kp))
    assert sealed.wrapped_dek is not None
    dek = bytes(
        harness.resources.kek.unwrap(
            sealed.wrapped_dek, dek_aad(sealed.alg, sealed.session_id, sealed.ephemeral_pubkey), sealed.kek_id
        )
    )
    revoked = await handle.execute_update(REVOKE_UPDATE, RevokeRequest(), result_type=RevokeResult)
    assert revoked.unsigned_transaction is not None
    await handle.execute_update(
        REVOKE_UPDATE,
        RevokeRequest(signed_transaction=wallet_sign(revoked.unsigned_transaction, parent)),
        result_type=RevokeResult,
    )
    await harness.finish(handle)

    history = await handle.fetch_history()
    haystacks = [history.to_json().encode(), b"".join(e.SerializeToString() for e in history.events)]

    # The search itself works: public values the history must contain are found in these haystacks.
    assert "base58" in found_in(haystacks, bytes(Pubkey.from_string(created.ephemeral_pubkey)))
    assert len(secret) == 64 and Pubkey(secret[32:]) == Pubkey.from_string(created.ephemeral_pubkey)
    assert found_in(haystacks, secret) == []
    assert found_in(haystacks, secret[:32]) == []  # the ed25519 seed alone
    assert found_in(haystacks, sealed.secret_ciphertext) == []
    assert found_in(haystacks, sealed.secret_nonce) == []
    assert found_in(haystacks, sealed.wrapped_dek) == []
    assert found_in(haystacks, dek) == []
