"""KEK rotation: re-wrapping moves a row to the new KEK id without touching the secret ciphertext."""

from __future__ import annotations

import uuid

import pytest

from ephemeral_vault.custody import (
    EnvKek,
    KekRing,
    KeyShreddedError,
    UnknownKekIdError,
    rewrap,
    seal_new_session_key,
    shred,
    sign_message,
)


def test_rows_under_the_old_kek_still_decrypt_after_the_new_one_becomes_active(kek_bytes: dict[str, bytes]) -> None:
    sealed, pubkey = seal_new_session_key(uuid.uuid4(), EnvKek({"k1": kek_bytes["k1"]}, "k1"))
    rotated_config = EnvKek(kek_bytes, "k2")

    assert sign_message(sealed, rotated_config, b"m").verify(pubkey, b"m")


def test_rewrap_moves_the_data_key_to_the_new_kek_and_keeps_the_secret_ciphertext(
    kek_bytes: dict[str, bytes],
) -> None:
    sealed, pubkey = seal_new_session_key(uuid.uuid4(), EnvKek({"k1": kek_bytes["k1"]}, "k1"))
    both = EnvKek(kek_bytes, "k2")

    rewrapped = rewrap(sealed, both, both)

    assert rewrapped.kek_id == "k2"
    assert rewrapped.wrapped_dek != sealed.wrapped_dek
    assert rewrapped.secret_ciphertext == sealed.secret_ciphertext
    assert rewrapped.secret_nonce == sealed.secret_nonce
    only_new = EnvKek({"k2": kek_bytes["k2"]}, "k2")
    assert sign_message(rewrapped, only_new, b"m").verify(pubkey, b"m")
    with pytest.raises(UnknownKekIdError):
        sign_message(rewrapped, EnvKek({"k1": kek_bytes["k1"]}, "k1"), b"m")


def test_rewrap_without_the_old_key_is_an_unknown_kek_id(kek_bytes: dict[str, bytes]) -> None:
    sealed, _ = seal_new_session_key(uuid.uuid4(), EnvKek({"k1": kek_bytes["k1"]}, "k1"))
    only_new = EnvKek({"k2": kek_bytes["k2"]}, "k2")

    with pytest.raises(UnknownKekIdError, match="'k1'"):
        rewrap(sealed, only_new, only_new)


def test_a_shredded_key_is_not_resurrected_by_rewrap(kek_bytes: dict[str, bytes]) -> None:
    sealed, _ = seal_new_session_key(uuid.uuid4(), EnvKek({"k1": kek_bytes["k1"]}, "k1"))
    both = EnvKek(kek_bytes, "k2")

    with pytest.raises(KeyShreddedError):
        rewrap(shred(sealed), both, both)


def test_a_ring_wraps_with_its_active_member_and_unwraps_with_any(kek_bytes: dict[str, bytes]) -> None:
    old = EnvKek({"k1": kek_bytes["k1"]}, "k1")
    new = EnvKek({"k2": kek_bytes["k2"]}, "k2")
    sealed, pubkey = seal_new_session_key(uuid.uuid4(), old)
    ring = KekRing(new, old)

    rewrapped = rewrap(sealed, ring, ring)

    assert ring.kek_id == "k2"
    assert rewrapped.kek_id == "k2"
    assert sign_message(sealed, ring, b"m").verify(pubkey, b"m")
    assert sign_message(rewrapped, new, b"m").verify(pubkey, b"m")
    with pytest.raises(UnknownKekIdError, match="no configured KEK provider holds key id 'k3'"):
        ring.unwrap(rewrapped.wrapped_dek or b"", b"aad", "k3")
