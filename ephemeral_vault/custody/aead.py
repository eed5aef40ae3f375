"""AES-256-GCM helpers shared by the envelope and the environment KEK, decrypting into wipeable buffers."""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ephemeral_vault.custody.sealed_key import GCM_TAG_LEN


def gcm_encrypt(key: bytes | bytearray, nonce: bytes, plaintext: bytes | bytearray, aad: bytes) -> bytes:
    """Return ciphertext || 16-byte tag."""
    encryptor = Cipher(algorithms.AES(key), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(aad)
    return encryptor.update(plaintext) + encryptor.finalize() + encryptor.tag


def gcm_decrypt_into(
    key: bytes | bytearray,
    nonce: bytes,
    sealed: bytes,
    aad: bytes,
    error: type[Exception],
    what: str,
) -> bytearray:
    """Decrypt ciphertext || tag into a fresh bytearray (wipeable, unlike `bytes`); the scratch buffer is wiped.

    `error` is raised with a message built from `what` only, so no byte of key, nonce or data reaches it.
    """
    if len(sealed) < GCM_TAG_LEN:
        raise error(f"{what} is too short to hold an authentication tag")
    body, tag = sealed[:-GCM_TAG_LEN], sealed[-GCM_TAG_LEN:]
    scratch = bytearray(len(body) + GCM_TAG_LEN)  # update_into wants block-size slack
    decryptor = Cipher(algorithms.AES(key), modes.GCM(nonce, tag)).decryptor()
    decryptor.authenticate_additional_data(aad)
    try:
        written = decryptor.update_into(body, scratch)
        decryptor.finalize()
    except InvalidTag:
        wipe(scratch)
        raise error(f"{what} failed authentication (wrong key, tampered, or bound to another session)") from None
    plain = scratch[:written]
    wipe(scratch)
    return plain


def wipe(buffer: bytearray) -> None:
    """Best-effort zeroing; Python may still hold copies we cannot reach (see custody/README.md)."""
    buffer[:] = bytes(len(buffer))
