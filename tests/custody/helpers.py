"""Test helpers: find key material in any string, in every encoding someone might print it in; a recording KEK."""

from __future__ import annotations

import base64
import os

import based58

from ephemeral_vault.custody import KekProvider, SealedKey, with_session_keypair


def encodings_of(secret: bytes) -> list[str]:
    """The textual forms a leaked secret (or any 16+ byte prefix of it) could take."""
    forms: list[str] = []
    for chunk in {secret, secret[:32], secret[:16]}:
        forms += [
            chunk.hex(),
            chunk.hex().upper(),
            based58.b58encode(chunk).decode(),
            base64.b64encode(chunk).decode(),
            base64.urlsafe_b64encode(chunk).decode(),
            repr(chunk)[2:-1],  # Python bytes literal body
            ", ".join(str(b) for b in chunk),  # list-of-ints, as Rust's Debug prints a [u8]
        ]
    return forms


def assert_no_leak(text: str, secrets: list[bytes]) -> None:
    for secret in secrets:
        for form in encodings_of(secret):
            assert form not in text, f"key material leaked ({len(secret)}-byte value) in: {text[:200]!r}"


def random_kek_b64() -> str:
    return base64.b64encode(os.urandom(32)).decode()


class RecordingKek:
    """A real KEK provider that remembers every data key it wrapped, so leak tests can search for them too."""

    def __init__(self, inner: KekProvider) -> None:
        self.inner = inner
        self.deks: list[bytes] = []

    @property
    def kek_id(self) -> str:
        return self.inner.kek_id

    def wrap(self, dek: bytes | bytearray, aad: bytes) -> bytes:
        self.deks.append(bytes(dek))
        return self.inner.wrap(dek, aad)

    def unwrap(self, wrapped: bytes, aad: bytes, kek_id: str) -> bytearray:
        return self.inner.unwrap(wrapped, aad, kek_id)


def kek_keys_text(keys: dict[str, bytes]) -> str:
    return ",".join(f"{kek_id}:{base64.b64encode(key).decode()}" for kek_id, key in keys.items())


def secret_of(sealed: SealedKey, kek: object) -> bytes:
    """The plaintext 64-byte secret, for tests that hunt for it."""
    return with_session_keypair(sealed, kek, bytes)  # type: ignore[arg-type]
