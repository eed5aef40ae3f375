"""No string custody produces — repr, str, exception text and tracebacks, log records — contains key material."""

from __future__ import annotations

import dataclasses
import logging
import os
import traceback
import uuid

import pytest

from ephemeral_vault.custody import (
    CustodyError,
    EnvKek,
    SealedKey,
    rewrap,
    seal_new_session_key,
    shred,
    sign_message,
)
from ephemeral_vault.custody.pkcs11_kek import Pkcs11Kek, generate_kek_on_token
from tests.custody.helpers import RecordingKek, assert_no_leak, encodings_of, secret_of
from tests.custody.softhsm import SoftHsmToken


def test_the_leak_detector_finds_every_encoding() -> None:
    secret = os.urandom(64)
    for form in encodings_of(secret):
        with pytest.raises(AssertionError, match="key material leaked"):
            assert_no_leak(f"prefix {form} suffix", [secret])


def _stored_bytes(sealed: SealedKey) -> list[bytes]:
    return [sealed.secret_ciphertext, sealed.wrapped_dek or b""]


def _failures(sealed: SealedKey, kek: EnvKek) -> list[CustodyError]:
    """Drive every custody error path once and collect the exceptions."""
    attempts = [
        dataclasses.replace(sealed, session_id=uuid.uuid4()),
        dataclasses.replace(sealed, kek_id="unknown"),
        dataclasses.replace(sealed, secret_ciphertext=sealed.secret_ciphertext[:-1] + b"\x00"),
        dataclasses.replace(sealed, wrapped_dek=(sealed.wrapped_dek or b"")[:-1] + b"\x00"),
        dataclasses.replace(sealed, secret_nonce=b"\x00" * 5),
        dataclasses.replace(sealed, alg="v9"),
        shred(sealed),
    ]
    caught: list[CustodyError] = []
    for attempt in attempts:
        with pytest.raises(CustodyError) as info:
            sign_message(attempt, kek, b"m")
        caught.append(info.value)
    with pytest.raises(CustodyError) as info:
        sign_message(sealed, EnvKek({sealed.kek_id: os.urandom(32)}, sealed.kek_id), b"m")
    caught.append(info.value)
    return caught


def test_repr_str_and_every_error_are_free_of_the_secret_the_data_key_and_the_kek(
    kek_bytes: dict[str, bytes],
) -> None:
    kek = RecordingKek(EnvKek({"k1": kek_bytes["k1"]}, "k1"))
    sealed, _ = seal_new_session_key(uuid.uuid4(), kek)
    rotated = rewrap(sealed, kek, kek)
    # Ciphertexts count too: the working agreement keeps them out of logs and messages as well.
    secrets = [secret_of(sealed, kek), *kek.deks, kek_bytes["k1"], *_stored_bytes(sealed), *_stored_bytes(rotated)]

    texts = [repr(sealed), str(sealed), f"{sealed}", repr(shred(sealed)), repr(rotated), repr(kek.inner)]
    assert isinstance(kek.inner, EnvKek)
    for error in _failures(sealed, kek.inner):
        texts += [str(error), repr(error), "".join(traceback.format_exception(error))]

    assert "secret_ciphertext=<80 bytes>" in repr(sealed)
    assert "wrapped_dek=None" in repr(shred(sealed))
    for text in texts:
        assert_no_leak(text, secrets)


def test_a_full_seal_sign_rotate_shred_cycle_logs_no_key_material(
    caplog: pytest.LogCaptureFixture, kek_bytes: dict[str, bytes]
) -> None:
    kek = RecordingKek(EnvKek(kek_bytes, "k1"))
    with caplog.at_level(logging.DEBUG):
        sealed, _ = seal_new_session_key(uuid.uuid4(), kek)
        sign_message(sealed, kek, b"trade")
        rotated = rewrap(sealed, kek, EnvKek(kek_bytes, "k2"))
        shredded = shred(rotated)
        with pytest.raises(CustodyError):
            sign_message(shredded, kek, b"trade")
    secrets = [secret_of(sealed, kek), *kek.deks, *kek_bytes.values(), *_stored_bytes(sealed), *_stored_bytes(rotated)]

    logged = "\n".join(record.getMessage() for record in caplog.records) + caplog.text
    assert str(sealed.session_id) in logged  # the cycle was logged at all
    assert_no_leak(logged, secrets)


def test_a_full_cycle_through_the_hsm_logs_neither_key_material_nor_the_pin(
    caplog: pytest.LogCaptureFixture, softhsm_token: SoftHsmToken
) -> None:
    label = f"leak-{uuid.uuid4().hex[:8]}"
    generate_kek_on_token(softhsm_token.module, softhsm_token.label, softhsm_token.pin, label)
    kek = RecordingKek(Pkcs11Kek(softhsm_token.module, softhsm_token.label, softhsm_token.pin, label))
    with caplog.at_level(logging.DEBUG):  # the root logger, so python-pkcs11's own records are captured too
        sealed, _ = seal_new_session_key(uuid.uuid4(), kek)
        sign_message(sealed, kek, b"trade")
        with pytest.raises(CustodyError) as failure:
            sign_message(dataclasses.replace(sealed, session_id=uuid.uuid4()), kek, b"trade")
        shred(sealed)
    secrets = [secret_of(sealed, kek), *kek.deks, *_stored_bytes(sealed), softhsm_token.pin.get_secret_value().encode()]

    logged = "\n".join(record.getMessage() for record in caplog.records) + caplog.text
    assert str(sealed.session_id) in logged
    assert_no_leak(logged + "".join(traceback.format_exception(failure.value)) + repr(kek.inner), secrets)
    assert softhsm_token.pin.get_secret_value() not in logged
