"""The table of JSON-RPC methods: each method module registers its handlers here with `rpc_method`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from localnet.chain import LocalChain
from localnet.rpc.params import Params

Handler = Callable[[LocalChain, Params], Any]


@dataclass(frozen=True)
class Method:
    name: str
    max_params: int
    handler: Handler


METHODS: dict[str, Method] = {}


def rpc_method(name: str, max_params: int) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        if name in METHODS:
            raise ValueError(f"JSON-RPC method {name} registered twice")
        METHODS[name] = Method(name, max_params, handler)
        return handler

    return register
