"""Envelope encryption with the environment KEK: round trip, binding to the row, tampering, shredding."""

from __future__ import annotations

import dataclasses
import os
import uuid

import pytest
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message, MessageV0
from solders.pubkey import Pubkey
from solders.transaction import Transaction, VersionedTransaction

from ephemeral_vault.custody import (
    ALG_V1,
    CustodyError,
    DekUnwrapError,
    EnvKek,
    KekUnavailableError,
    KeyShreddedError,
    MalformedSealedKeyError,
    SealedKey,
    SecretDecryptionError,
    SignerMismatchError,
    UnknownKekIdError,
    seal_new_session_key,
    shred,
    sign_message,
    sign_transaction,
    with_session_keypair,
)


def _flip_last_bit(value: bytes) -> bytes:
    return value[:-1] + bytes([value[-1] ^ 1])


def _instruction_signed_by(signer: Pubkey) -> Instruction:
    return Instruction(Pubkey.new_unique(), b"trade", [AccountMeta(signer, is_signer=True, is_writable=True)])


def test_sealed_key_signs_as_its_ephemeral_pubkey(kek: EnvKek) -> None:
    session_id = uuid.uuid4()
    sealed, pubkey = seal_new_session_key(session_id, kek)

    signature = sign_message(sealed, kek, b"execute_trade")

    assert sealed.session_id == session_id
    assert sealed.ephemeral_pubkey == pubkey
    assert sealed.kek_id == "k1"
    assert sealed.alg == ALG_V1
    assert signature.verify(pubkey, b"execute_trade")
    assert not signature.verify(pubkey, b"another message")


def test_sealed_record_holds_only_ciphertext_of_the_expected_shape(kek: EnvKek, sealed: SealedKey) -> None:
    assert len(sealed.secret_ciphertext) == 64 + 16
    assert len(sealed.secret_nonce) == 12
    assert sealed.wrapped_dek is not None and len(sealed.wrapped_dek) == 12 + 32 + 16
    assert sealed.dek_nonce is None
    secret = with_session_keypair(sealed, kek, bytes)
    assert secret not in sealed.secret_ciphertext


def test_every_session_gets_its_own_keypair_data_key_and_nonces(kek: EnvKek) -> None:
    first, _ = seal_new_session_key(uuid.uuid4(), kek)
    second, _ = seal_new_session_key(uuid.uuid4(), kek)

    assert first.ephemeral_pubkey != second.ephemeral_pubkey
    assert first.secret_nonce != second.secret_nonce
    assert first.wrapped_dek != second.wrapped_dek


def test_legacy_transaction_is_signed_by_the_ephemeral_key(kek: EnvKek, sealed: SealedKey) -> None:
    message = Message.new_with_blockhash(
        [_instruction_signed_by(sealed.ephemeral_pubkey)], sealed.ephemeral_pubkey, Hash.new_unique()
    )

    tx = sign_transaction(sealed, kek, message)

    assert isinstance(tx, Transaction)
    tx.verify()  # raises if any signature is wrong
    assert tx.signatures[0].verify(sealed.ephemeral_pubkey, bytes(message))


def test_v0_transaction_is_signed_by_the_ephemeral_key(kek: EnvKek, sealed: SealedKey) -> None:
    message = MessageV0.try_compile(
        sealed.ephemeral_pubkey, [_instruction_signed_by(sealed.ephemeral_pubkey)], [], Hash.new_unique()
    )

    tx = sign_transaction(sealed, kek, message)

    assert isinstance(tx, VersionedTransaction)
    assert tx.verify_with_results() == [True]


def test_ephemeral_signature_lands_in_its_own_slot_when_another_signer_pays(kek: EnvKek, sealed: SealedKey) -> None:
    payer = Keypair()
    message = Message.new_with_blockhash(
        [_instruction_signed_by(sealed.ephemeral_pubkey)], payer.pubkey(), Hash.new_unique()
    )

    tx = sign_transaction(sealed, kek, message)

    assert isinstance(tx, Transaction)
    assert tx.verify_with_results() == [False, True]  # payer's slot left for the caller
    tx.partial_sign([payer], message.recent_blockhash)
    tx.verify()


def test_signing_a_message_the_ephemeral_key_is_not_a_signer_of_is_refused(kek: EnvKek, sealed: SealedKey) -> None:
    other = Keypair().pubkey()
    message = Message.new_with_blockhash([_instruction_signed_by(other)], other, Hash.new_unique())

    with pytest.raises(SignerMismatchError, match="not a required signer"):
        sign_transaction(sealed, kek, message)


def test_keypair_cannot_be_returned_out_of_the_signing_call(kek: EnvKek, sealed: SealedKey) -> None:
    with pytest.raises(CustodyError, match="must stay inside the call"):
        with_session_keypair(sealed, kek, lambda keypair: keypair)


def test_ciphertext_copied_to_another_session_row_fails(kek: EnvKek, sealed: SealedKey) -> None:
    copied = dataclasses.replace(sealed, session_id=uuid.uuid4())

    with pytest.raises(DekUnwrapError):
        sign_message(copied, kek, b"m")


def test_secret_ciphertext_moved_under_another_sessions_data_key_fails(kek: EnvKek, sealed: SealedKey) -> None:
    other, _ = seal_new_session_key(uuid.uuid4(), kek)
    # Keep the other row's own (valid) wrapped data key and identity; graft this row's secret onto it.
    grafted = dataclasses.replace(
        other, secret_ciphertext=sealed.secret_ciphertext, secret_nonce=sealed.secret_nonce
    )

    with pytest.raises(SecretDecryptionError):
        sign_message(grafted, kek, b"m")


def test_ciphertext_bound_to_another_pubkey_fails(kek: EnvKek, sealed: SealedKey) -> None:
    relabelled = dataclasses.replace(sealed, ephemeral_pubkey=Keypair().pubkey())

    with pytest.raises(DekUnwrapError):
        sign_message(relabelled, kek, b"m")


@pytest.mark.parametrize(
    ("field", "tamper", "error"),
    [
        ("wrapped_dek", _flip_last_bit, DekUnwrapError),
        ("wrapped_dek", lambda v: bytes([v[0] ^ 1]) + v[1:], DekUnwrapError),  # its embedded nonce
        ("wrapped_dek", lambda v: v[:-1], DekUnwrapError),
        ("secret_ciphertext", _flip_last_bit, SecretDecryptionError),
        ("secret_ciphertext", lambda v: bytes([v[0] ^ 1]) + v[1:], SecretDecryptionError),
        ("secret_ciphertext", lambda v: v[:-16], SecretDecryptionError),
        ("secret_ciphertext", lambda v: b"", SecretDecryptionError),
        ("secret_nonce", _flip_last_bit, SecretDecryptionError),
        ("secret_nonce", lambda v: v + b"\x00", MalformedSealedKeyError),
        ("dek_nonce", lambda v: os.urandom(12), MalformedSealedKeyError),
        ("alg", lambda v: "ev-envelope-v0", MalformedSealedKeyError),
    ],
)
def test_tampering_with_a_field_is_detected(kek: EnvKek, sealed: SealedKey, field: str, tamper, error) -> None:
    tampered = dataclasses.replace(sealed, **{field: tamper(getattr(sealed, field))})

    with pytest.raises(error):
        sign_message(tampered, kek, b"m")


def test_a_kek_id_no_provider_holds_is_reported_as_unknown(kek: EnvKek, sealed: SealedKey) -> None:
    with pytest.raises(UnknownKekIdError, match="'retired-2019'"):
        sign_message(dataclasses.replace(sealed, kek_id="retired-2019"), kek, b"m")


def test_relabelling_the_kek_id_to_another_known_key_fails(kek_bytes: dict[str, bytes], sealed: SealedKey) -> None:
    both = EnvKek(kek_bytes, "k1")

    with pytest.raises(DekUnwrapError):
        sign_message(dataclasses.replace(sealed, kek_id="k2"), both, b"m")


def test_same_kek_id_with_different_key_bytes_fails(sealed: SealedKey) -> None:
    impostor = EnvKek({"k1": os.urandom(32)}, "k1")

    with pytest.raises(DekUnwrapError):
        sign_message(sealed, impostor, b"m")


def test_shredded_key_can_never_sign_again(kek: EnvKek, sealed: SealedKey) -> None:
    shredded = shred(sealed)

    assert shredded.wrapped_dek is None
    assert shredded.is_shredded and not sealed.is_shredded
    assert shredded.secret_ciphertext == sealed.secret_ciphertext  # only the data key is destroyed
    with pytest.raises(KeyShreddedError, match=str(sealed.session_id)):
        sign_message(shredded, kek, b"m")


def test_record_round_trips_through_row_form(sealed: SealedKey) -> None:
    row = sealed.to_record()

    assert isinstance(row["ephemeral_pubkey"], str)
    assert SealedKey.from_record(row) == sealed
    assert SealedKey.from_record({**row, "session_id": str(sealed.session_id)}) == sealed


def test_row_with_a_malformed_pubkey_is_rejected_by_name(sealed: SealedKey) -> None:
    with pytest.raises(MalformedSealedKeyError, match="ephemeral_pubkey"):
        SealedKey.from_record({**sealed.to_record(), "ephemeral_pubkey": "not-base58-0OIl"})


def test_sealing_refuses_a_session_id_that_is_not_a_uuid(kek: EnvKek) -> None:
    with pytest.raises(TypeError, match=r"session_id must be a uuid\.UUID, got str"):
        seal_new_session_key(str(uuid.uuid4()), kek)  # type: ignore[arg-type]


class _WrapOnlyKek:
    """A real EnvKek whose unwrap answers with the wrong key, like a misconfigured HSM key."""

    def __init__(self, inner: EnvKek) -> None:
        self.inner = inner

    @property
    def kek_id(self) -> str:
        return self.inner.kek_id

    def wrap(self, dek: bytes | bytearray, aad: bytes) -> bytes:
        return self.inner.wrap(dek, aad)

    def unwrap(self, wrapped: bytes, aad: bytes, kek_id: str) -> bytearray:
        return bytearray(32)


def test_sealing_refuses_a_kek_that_does_not_give_the_data_key_back(kek: EnvKek) -> None:
    with pytest.raises(KekUnavailableError, match="did not return the data key it wrapped"):
        seal_new_session_key(uuid.uuid4(), _WrapOnlyKek(kek))
