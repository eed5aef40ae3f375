"""The `{context, value}` envelope validators put around most results."""

from __future__ import annotations

from typing import Any

# The agave release line whose runtime LiteSVM in solders 0.26 embeds; clients only display it.
API_VERSION = "2.2.0"


def with_context(slot: int, value: Any) -> dict[str, Any]:
    return {"context": {"slot": slot, "apiVersion": API_VERSION}, "value": value}
