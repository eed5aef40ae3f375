"""Reading positional JSON-RPC params with precise errors: a bad param is always a -32602 that names it."""

from __future__ import annotations

from typing import Any

from solders.pubkey import Pubkey
from solders.signature import Signature

from localnet.rpc.errors import MIN_CONTEXT_SLOT_NOT_REACHED, RpcError, invalid_params

U64_MAX = 2**64 - 1

# Deprecated names validators still accept, mapped to the three current levels.
_COMMITMENT_ALIASES = {
    "processed": "processed",
    "recent": "processed",
    "confirmed": "confirmed",
    "single": "confirmed",
    "singleGossip": "confirmed",
    "finalized": "finalized",
    "max": "finalized",
    "root": "finalized",
}


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class Params:
    """Positional params of one call."""

    def __init__(self, method: str, raw: list[Any], max_count: int) -> None:
        if len(raw) > max_count:
            raise invalid_params(f"Invalid params: {method} takes at most {max_count} parameters, got {len(raw)}")
        self.method = method
        self.raw = raw

    def required(self, index: int, name: str) -> Any:
        if index >= len(self.raw) or self.raw[index] is None:
            raise invalid_params(f"Invalid params: missing parameter {index} ({name}) of {self.method}")
        return self.raw[index]

    def optional(self, index: int) -> Any:
        return self.raw[index] if index < len(self.raw) else None

    def config(self, index: int) -> Config:
        value = self.optional(index)
        if value is None:
            return Config({})
        if not isinstance(value, dict):
            raise invalid_params(f"Invalid params: the configuration object must be an object, got {_describe(value)}")
        return Config(value)


class Config:
    """The trailing configuration object of a call."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def get(self, key: str) -> Any:
        return self.values.get(key)

    def string(self, key: str, allowed: tuple[str, ...] | None = None, default: str | None = None) -> str | None:
        value = self.values.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise invalid_params(f"Invalid params: `{key}` must be a string, got {_describe(value)}")
        if allowed is not None and value not in allowed:
            raise invalid_params(f"Invalid params: unknown {key} `{value}`; expected one of {', '.join(allowed)}")
        return value

    def boolean(self, key: str, default: bool = False) -> bool:
        value = self.values.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise invalid_params(f"Invalid params: `{key}` must be a boolean, got {_describe(value)}")
        return value

    def integer(self, key: str, default: int | None = None, maximum: int = U64_MAX) -> int | None:
        value = self.values.get(key)
        if value is None:
            return default
        return to_int(value, f"`{key}`", maximum=maximum)

    def commitment(self) -> str:
        value = self.values.get("commitment")
        if value is None:
            return "finalized"  # a validator's default
        if not isinstance(value, str) or value not in _COMMITMENT_ALIASES:
            raise invalid_params(
                f"Invalid params: unknown commitment {_describe(value)}; expected processed, confirmed or finalized"
            )
        return _COMMITMENT_ALIASES[value]

    def check_min_context_slot(self, context_slot: int) -> None:
        minimum = self.integer("minContextSlot")
        if minimum is not None and context_slot < minimum:
            raise RpcError(
                MIN_CONTEXT_SLOT_NOT_REACHED, "Minimum context slot has not been reached", {"contextSlot": context_slot}
            )


def to_int(value: Any, name: str, minimum: int = 0, maximum: int = U64_MAX) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_params(f"Invalid params: {name} must be an integer, got {_describe(value)}")
    if not minimum <= value <= maximum:
        raise invalid_params(f"Invalid params: {name} must be between {minimum} and {maximum}, got {value}")
    return value


def to_pubkey(value: Any, name: str) -> Pubkey:
    if not isinstance(value, str):
        raise invalid_params(f"Invalid param: {name} must be a base58 public key string, got {_describe(value)}")
    try:
        return Pubkey.from_string(value)
    except ValueError:
        raise invalid_params(f"Invalid param: {name} {_describe(value)} is not a valid base58 public key") from None


def to_signature(value: Any, name: str) -> Signature:
    if not isinstance(value, str):
        raise invalid_params(f"Invalid param: {name} must be a base58 signature string, got {_describe(value)}")
    try:
        return Signature.from_string(value)
    except ValueError:
        raise invalid_params(f"Invalid param: {name} {_describe(value)} is not a valid base58 signature") from None


def to_list(value: Any, name: str, max_len: int) -> list[Any]:
    if not isinstance(value, list):
        raise invalid_params(f"Invalid params: {name} must be an array, got {_describe(value)}")
    if len(value) > max_len:
        raise invalid_params(f"Too many inputs provided; max {max_len}")
    return value
