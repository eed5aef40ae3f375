"""The key-encryption-key interface every provider (environment, PKCS#11) implements, and a ring of them."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ephemeral_vault.custody.errors import UnknownKekIdError


@runtime_checkable
class KekProvider(Protocol):
    """Wraps per-session data keys.

    `wrap` always uses the provider's active key (`kek_id`); `unwrap` accepts any id the provider still holds, which
    is what makes rotation possible. `unwrap` returns a `bytearray` so the caller can zero it after use. Both raise
    `CustodyError` subclasses only: `UnknownKekIdError` for an id this provider does not hold, `DekUnwrapError` when
    the blob fails authentication (wrong key, tampering, or an AAD from another row).
    """

    @property
    def kek_id(self) -> str: ...

    def wrap(self, dek: bytes | bytearray, aad: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, aad: bytes, kek_id: str) -> bytearray: ...


class KekRing:
    """Wraps with `active`; unwraps with whichever member holds the id (e.g. migrating env keys into an HSM)."""

    def __init__(self, active: KekProvider, *others: KekProvider) -> None:
        self._active = active
        self._members = (active, *others)

    @property
    def kek_id(self) -> str:
        return self._active.kek_id

    def wrap(self, dek: bytes | bytearray, aad: bytes) -> bytes:
        return self._active.wrap(dek, aad)

    def unwrap(self, wrapped: bytes, aad: bytes, kek_id: str) -> bytearray:
        for member in self._members:
            try:
                return member.unwrap(wrapped, aad, kek_id)
            except UnknownKekIdError:
                continue
        raise UnknownKekIdError(f"no configured KEK provider holds key id {kek_id!r}")
