"""NON-STANDARD methods of the local node (prefixed `localnet_`): moving time for tests. No validator has them."""

from __future__ import annotations

from typing import Any

from localnet.chain import LocalChain
from localnet.rpc.errors import invalid_params
from localnet.rpc.params import Params, to_int
from localnet.rpc.registry import rpc_method

MAX_WARP_SECONDS = 100 * 365 * 24 * 3600
MAX_ADVANCE_SLOTS = 10_000_000


def _reading(reading: Any) -> dict[str, int]:
    return {"slot": reading.slot, "unixTimestamp": reading.unix_timestamp}


@rpc_method("localnet_warpClock", 1)
def warp_clock(chain: LocalChain, params: Params) -> Any:
    """params: [seconds] or [{"seconds": n}] to move the Clock forward, or [{"unixTimestamp": t}] to set it."""
    arg = params.required(0, "seconds or {unixTimestamp}")
    try:
        if isinstance(arg, dict):
            if set(arg) == {"seconds"}:
                seconds = to_int(arg["seconds"], "`seconds`", maximum=MAX_WARP_SECONDS)
                return _reading(chain.warp_clock(seconds=seconds))
            if set(arg) == {"unixTimestamp"}:
                timestamp = to_int(arg["unixTimestamp"], "`unixTimestamp`", maximum=2**63 - 1)
                return _reading(chain.warp_clock(unix_timestamp=timestamp))
            raise invalid_params('Invalid params: expected {"seconds": n} or {"unixTimestamp": t}')
        return _reading(chain.warp_clock(seconds=to_int(arg, "seconds", maximum=MAX_WARP_SECONDS)))
    except ValueError as exc:
        raise invalid_params(f"Invalid params: {exc}") from None


@rpc_method("localnet_advanceSlots", 1)
def advance_slots(chain: LocalChain, params: Params) -> Any:
    """params: [n] — skip n slots at once (blockhashes age, the Clock moves n slot times)."""
    slots = to_int(params.required(0, "slots"), "slots", minimum=1, maximum=MAX_ADVANCE_SLOTS)
    return _reading(chain.advance_slots(slots))
