"""Temporal's JSON payload converter, without its hottest cost: resolving a dataclass's type hints on every decode.

temporalio 1.35 decodes a dataclass by calling `typing.get_type_hints` on it each time, and our message modules use
`from __future__ import annotations`, so every call evaluates every field's annotation string again: 136 of the
180 µs it takes to decode one `SessionStatus` (measured). A lifecycle decodes some 60 dataclasses in the worker (update
arguments, activity inputs and results), and every API call decodes its answer. Here the hints are resolved once per
class; the conversion itself is the SDK's (the same fields, the same nested conversion, the same errors), and encoding
is untouched, so the wire format is the SDK's: a client with the default converter reads what this writes and the
other way round (histories recorded before replay unchanged).

`DATA_CONVERTER` is what the worker, the API, the bench and the demo connect with.
"""

from __future__ import annotations

import dataclasses
import typing
import weakref
from typing import Any

from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
    JSONTypeConverter,
    value_to_type,
)

# Keyed weakly: a workflow module re-imported by the sandbox defines its classes anew for every run.
_HINTS: weakref.WeakKeyDictionary[type, dict[str, Any]] = weakref.WeakKeyDictionary()


def dataclass_hints(cls: type) -> dict[str, Any]:
    """`typing.get_type_hints(cls)`, computed once per class."""
    try:
        return _HINTS[cls]
    except KeyError:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
        return hints


class CachedHintsDataclassConverter(JSONTypeConverter):
    """The SDK's dataclass branch of `value_to_type`, with `dataclass_hints` in place of `get_type_hints`."""

    def to_typed_value(self, hint: type, value: Any) -> Any:
        if not (isinstance(hint, type) and dataclasses.is_dataclass(hint)):
            return JSONTypeConverter.Unhandled
        if not isinstance(value, dict):
            raise TypeError(f"Cannot convert to dataclass {hint}, value is {type(value)} not dict")
        field_hints = dataclass_hints(hint)
        init_values: dict[str, Any] = {}
        other_values: dict[str, Any] = {}
        for field in dataclasses.fields(hint):
            raw = value.get(field.name, dataclasses.MISSING)
            if raw is dataclasses.MISSING:
                continue  # a missing required field makes the constructor raise, as in the SDK
            try:
                converted = value_to_type(field_hints[field.name], raw, _CUSTOM)
            except Exception as err:
                raise TypeError(f"Failed converting field {field.name} on dataclass {hint}") from err
            (init_values if field.init else other_values)[field.name] = converted
        obj = hint(**init_values)
        for name, converted in other_values.items():
            object.__setattr__(obj, name, converted)
        return obj


_CUSTOM: list[JSONTypeConverter] = [CachedHintsDataclassConverter()]


class PayloadConverter(CompositePayloadConverter):
    """The SDK's default payload converters, its JSON one given `CachedHintsDataclassConverter`."""

    def __init__(self) -> None:
        super().__init__(*(
            JSONPlainPayloadConverter(custom_type_converters=_CUSTOM)
            if type(converter) is JSONPlainPayloadConverter else converter
            for converter in DefaultPayloadConverter.default_encoding_payload_converters
        ))


DATA_CONVERTER = dataclasses.replace(DataConverter.default, payload_converter_class=PayloadConverter)
