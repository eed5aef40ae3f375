"""Envelope encryption of session keys: seal a new key, sign with it, shred it, re-wrap it under a new KEK.

The plaintext ed25519 secret exists only inside `seal_new_session_key` and inside one signing call. What Python can
and cannot promise about wiping it is written down in `custody/README.md`.
"""

from __future__ import annotations

import hmac
import logging
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TypeVar

from solders.keypair import Keypair
from solders.message import Message, MessageV0, to_bytes_versioned
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import Transaction, VersionedTransaction

from ephemeral_vault.custody.aead import gcm_decrypt_into, gcm_encrypt, wipe
from ephemeral_vault.custody.errors import (
    CustodyError,
    KekUnavailableError,
    KeyIntegrityError,
    KeyShreddedError,
    MalformedSealedKeyError,
    SecretDecryptionError,
    SignerMismatchError,
)
from ephemeral_vault.custody.kek import KekProvider
from ephemeral_vault.custody.sealed_key import ALG_V1, NONCE_LEN, SECRET_LEN, SealedKey, dek_aad, secret_aad

log = logging.getLogger(__name__)

DEK_LEN = 32
T = TypeVar("T")


def seal_new_session_key(session_id: uuid.UUID, kek: KekProvider) -> tuple[SealedKey, Pubkey]:
    """Generate the session's ephemeral keypair and return it sealed, with its public key."""
    if not isinstance(session_id, uuid.UUID):
        raise TypeError(f"session_id must be a uuid.UUID, got {type(session_id).__name__}")
    keypair = Keypair()
    pubkey = keypair.pubkey()
    secret = bytearray(bytes(keypair))
    del keypair
    dek = bytearray(os.urandom(DEK_LEN))
    kek_id = kek.kek_id
    aad = dek_aad(ALG_V1, session_id, pubkey)
    try:
        nonce = os.urandom(NONCE_LEN)
        ciphertext = gcm_encrypt(dek, nonce, secret, secret_aad(ALG_V1, session_id, pubkey))
        wrapped = kek.wrap(dek, aad)
        # Prove the KEK gives the data key back before anything is stored: a provider that can wrap but not unwrap
        # (e.g. an HSM key without CKA_DECRYPT) would otherwise strand the session's key from its first trade.
        echoed = kek.unwrap(wrapped, aad, kek_id)
        try:
            if not hmac.compare_digest(echoed, dek):
                raise KekUnavailableError(f"KEK {kek_id!r} did not return the data key it wrapped")
        finally:
            wipe(echoed)
    finally:
        wipe(secret)
        wipe(dek)
    sealed = SealedKey(
        session_id=session_id,
        ephemeral_pubkey=pubkey,
        kek_id=kek_id,
        wrapped_dek=wrapped,
        secret_ciphertext=ciphertext,
        secret_nonce=nonce,
        alg=ALG_V1,
    )
    log.debug("sealed new session key: %r", sealed)
    return sealed, pubkey


def sign_message(sealed: SealedKey, kek: KekProvider, message: bytes) -> Signature:
    """Decrypt, sign `message` with the ephemeral key, forget the key."""
    with _unsealed_keypair(sealed, kek) as keypair:
        return keypair.sign_message(message)


def sign_transaction(
    sealed: SealedKey, kek: KekProvider, message: Message | MessageV0
) -> Transaction | VersionedTransaction:
    """Sign a compiled message as the ephemeral key.

    The returned transaction carries the ephemeral signature in its slot; any other required signer's slot holds
    the default (all-zero) signature for the caller to fill. Raises `SignerMismatchError` if the ephemeral key is
    not a required signer of `message` (checked before anything is decrypted).
    """
    signers = list(message.account_keys[: message.header.num_required_signatures])
    if sealed.ephemeral_pubkey not in signers:
        raise SignerMismatchError(
            f"session {sealed.session_id}: {sealed.ephemeral_pubkey} is not a required signer of this message"
        )
    position = signers.index(sealed.ephemeral_pubkey)
    signed_bytes = to_bytes_versioned(message) if isinstance(message, MessageV0) else bytes(message)
    signatures = [Signature.default()] * len(signers)
    signatures[position] = sign_message(sealed, kek, signed_bytes)
    if isinstance(message, MessageV0):
        return VersionedTransaction.populate(message, signatures)
    return Transaction.populate(message, signatures)


def with_session_keypair(sealed: SealedKey, kek: KekProvider, use: Callable[[Keypair], T]) -> T:
    """Run `use(keypair)` with the decrypted keypair, for signing flows the two helpers above do not cover.

    `use` must not keep the keypair or anything derived from its secret; returning the keypair itself is refused.
    """
    with _unsealed_keypair(sealed, kek) as keypair:
        result = use(keypair)
    if isinstance(result, Keypair):
        raise CustodyError("with_session_keypair: the callback returned the keypair; it must stay inside the call")
    return result


def shred(sealed: SealedKey) -> SealedKey:
    """Forget the wrapped data key: the ciphertext that remains can never be decrypted again."""
    shredded = sealed.shredded()
    log.debug("shredded session key: %r", shredded)
    return shredded


def rewrap(sealed: SealedKey, old: KekProvider, new_active: KekProvider) -> SealedKey:
    """Re-wrap the data key under `new_active`'s KEK. The secret ciphertext is untouched and never decrypted."""
    _require_usable(sealed)
    aad = dek_aad(sealed.alg, sealed.session_id, sealed.ephemeral_pubkey)
    assert sealed.wrapped_dek is not None  # _require_usable
    dek = old.unwrap(sealed.wrapped_dek, aad, sealed.kek_id)
    try:
        wrapped = new_active.wrap(dek, aad)
    finally:
        wipe(dek)
    rewrapped = replace(sealed, kek_id=new_active.kek_id, wrapped_dek=wrapped, dek_nonce=None)
    log.debug("re-wrapped session key %s: kek %r -> %r", sealed.session_id, sealed.kek_id, rewrapped.kek_id)
    return rewrapped


def _require_usable(sealed: SealedKey) -> None:
    if sealed.alg != ALG_V1:
        raise MalformedSealedKeyError(f"session {sealed.session_id}: unsupported algorithm tag {sealed.alg!r}")
    if sealed.wrapped_dek is None:
        raise KeyShreddedError(f"session {sealed.session_id}: the session key was shredded and cannot be used")
    if sealed.dek_nonce is not None:
        # v1 providers keep their nonce inside wrapped_dek; a value here means the row was edited or mis-written.
        raise MalformedSealedKeyError(f"session {sealed.session_id}: dek_nonce must be NULL for {ALG_V1}")
    if len(sealed.secret_nonce) != NONCE_LEN:
        raise MalformedSealedKeyError(f"session {sealed.session_id}: secret_nonce must be {NONCE_LEN} bytes")


@contextmanager
def _unsealed_keypair(sealed: SealedKey, kek: KekProvider) -> Iterator[Keypair]:
    secret = _open_secret(sealed, kek)
    try:
        keypair = Keypair.from_bytes(secret)
    except ValueError:
        # solders' message is generic, but `from None` keeps the secret-holding frame's data out of the chain.
        raise KeyIntegrityError(f"session {sealed.session_id}: decrypted secret is not a valid keypair") from None
    finally:
        wipe(secret)
    try:
        if keypair.pubkey() != sealed.ephemeral_pubkey:
            raise KeyIntegrityError(f"session {sealed.session_id}: decrypted secret does not match ephemeral_pubkey")
        yield keypair
    finally:
        del keypair


def _open_secret(sealed: SealedKey, kek: KekProvider) -> bytearray:
    _require_usable(sealed)
    assert sealed.wrapped_dek is not None  # _require_usable
    dek = kek.unwrap(sealed.wrapped_dek, dek_aad(sealed.alg, sealed.session_id, sealed.ephemeral_pubkey), sealed.kek_id)
    try:
        secret = gcm_decrypt_into(
            dek,
            sealed.secret_nonce,
            sealed.secret_ciphertext,
            secret_aad(sealed.alg, sealed.session_id, sealed.ephemeral_pubkey),
            SecretDecryptionError,
            f"session {sealed.session_id}: secret ciphertext",
        )
    finally:
        wipe(dek)
    if len(secret) != SECRET_LEN:
        wipe(secret)
        raise MalformedSealedKeyError(f"session {sealed.session_id}: secret must be {SECRET_LEN} bytes")
    return secret
