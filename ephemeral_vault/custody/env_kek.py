"""KEKs from the environment: `KEK_KEYS` = `id:base64(32 bytes)` pairs, `KEK_ACTIVE_ID` names the wrapping one.

Every listed id can unwrap, so rotating is: add a new id, make it active, run `python -m
ephemeral_vault.custody.rotate`, then drop the old id. Errors name the id or the position, never the key text.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping

from ephemeral_vault.custody.aead import gcm_decrypt_into, gcm_encrypt
from ephemeral_vault.custody.errors import DekUnwrapError, KekConfigError, UnknownKekIdError
from ephemeral_vault.custody.sealed_key import GCM_TAG_LEN, NONCE_LEN

KEK_LEN = 32
DEK_LEN = 32
# Key ids are stored in every row and printed by the rotation tool: keep them short and printable.
KEK_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def parse_kek_keys(text: str) -> dict[str, bytes]:
    """Parse `id:base64,id:base64`. Raises `KekConfigError` naming the entry position or id, never its key."""
    keys: dict[str, bytes] = {}
    entries = [entry.strip() for entry in text.split(",") if entry.strip()]
    if not entries:
        raise KekConfigError("KEK_KEYS is empty: expected comma-separated id:base64(32 bytes) entries")
    for position, entry in enumerate(entries, start=1):
        kek_id, sep, encoded = entry.partition(":")
        kek_id = kek_id.strip()
        if not sep:
            raise KekConfigError(f"KEK_KEYS entry #{position} has no ':' (expected id:base64)")
        if not KEK_ID_PATTERN.fullmatch(kek_id):
            raise KekConfigError(f"KEK_KEYS entry #{position}: key id must match {KEK_ID_PATTERN.pattern}")
        if kek_id in keys:
            raise KekConfigError(f"KEK_KEYS lists key id {kek_id!r} twice")
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            # `from None`: the decoder's own message is harmless today, but the key text must never ride along.
            raise KekConfigError(f"KEK_KEYS key {kek_id!r} is not valid base64") from None
        if len(key) != KEK_LEN:
            raise KekConfigError(f"KEK_KEYS key {kek_id!r} must decode to {KEK_LEN} bytes, got {len(key)}")
        keys[kek_id] = key
    return keys


class EnvKek:
    """AES-256-GCM wrapping with keys held in process memory. Wrapped blob = 12-byte nonce || ciphertext || tag."""

    def __init__(self, keys: Mapping[str, bytes], active_id: str) -> None:
        if active_id not in keys:
            raise KekConfigError(f"KEK_ACTIVE_ID {active_id!r} is not one of the ids in KEK_KEYS: {sorted(keys)}")
        for kek_id, key in keys.items():
            if len(key) != KEK_LEN:
                raise KekConfigError(f"KEK {kek_id!r} must be {KEK_LEN} bytes, got {len(key)}")
        self._keys = dict(keys)
        self._active_id = active_id

    @classmethod
    def from_text(cls, kek_keys: str, active_id: str) -> EnvKek:
        return cls(parse_kek_keys(kek_keys), active_id.strip())

    def __repr__(self) -> str:
        return f"EnvKek(active_id={self._active_id!r}, ids={sorted(self._keys)})"

    @property
    def kek_id(self) -> str:
        return self._active_id

    @property
    def kek_ids(self) -> list[str]:
        return sorted(self._keys)

    def wrap(self, dek: bytes | bytearray, aad: bytes) -> bytes:
        if len(dek) != DEK_LEN:
            raise ValueError(f"data key must be {DEK_LEN} bytes")
        # A random 96-bit nonce per wrap: collisions stay negligible far beyond any realistic session count per KEK.
        nonce = os.urandom(NONCE_LEN)
        return nonce + gcm_encrypt(self._keys[self._active_id], nonce, dek, aad)

    def unwrap(self, wrapped: bytes, aad: bytes, kek_id: str) -> bytearray:
        key = self._keys.get(kek_id)
        if key is None:
            raise UnknownKekIdError(f"KEK id {kek_id!r} is not configured (known: {sorted(self._keys)})")
        expected = NONCE_LEN + DEK_LEN + GCM_TAG_LEN
        if len(wrapped) != expected:
            raise DekUnwrapError(f"wrapped data key has {len(wrapped)} bytes, expected {expected}")
        nonce, sealed = wrapped[:NONCE_LEN], wrapped[NONCE_LEN:]
        return gcm_decrypt_into(key, nonce, sealed, aad, DekUnwrapError, f"data key under KEK {kek_id!r}")
