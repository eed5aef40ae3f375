"""Account reads: getAccountInfo, getMultipleAccounts, getBalance, getProgramAccounts, rent exemption."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import based58
from solders.account import Account

from localnet.chain import LocalChain
from localnet.rpc.context import with_context
from localnet.rpc.encoding import ACCOUNT_ENCODINGS, encode_account
from localnet.rpc.errors import invalid_params
from localnet.rpc.params import Config, Params, to_int, to_list, to_pubkey
from localnet.rpc.registry import rpc_method

MAX_MULTIPLE_ACCOUNTS = 100
MAX_FILTERS = 4
MAX_MEMCMP_BYTES = 128
MAX_ACCOUNT_SIZE_QUERY = 2**40  # far above any real account; keeps the rent arithmetic in range


def _data_slice(config: Config) -> tuple[int, int] | None:
    value = config.get("dataSlice")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid_params("Invalid params: `dataSlice` must be an object {offset, length}")
    return to_int(value.get("offset"), "`dataSlice.offset`"), to_int(value.get("length"), "`dataSlice.length`")


def _account_options(config: Config) -> tuple[str, tuple[int, int] | None]:
    encoding = config.string("encoding", ACCOUNT_ENCODINGS, default="binary")
    assert encoding is not None
    return encoding, _data_slice(config)


def _encode(account: Account | None, encoding: str, data_slice: tuple[int, int] | None) -> dict[str, Any] | None:
    return None if account is None else encode_account(account, encoding, data_slice)


@rpc_method("getAccountInfo", 2)
def get_account_info(chain: LocalChain, params: Params) -> Any:
    address = to_pubkey(params.required(0, "account address"), "account address")
    config = params.config(1)
    config.commitment()
    encoding, data_slice = _account_options(config)
    slot, (account,) = chain.get_accounts([address])
    config.check_min_context_slot(slot)
    return with_context(slot, _encode(account, encoding, data_slice))


@rpc_method("getMultipleAccounts", 2)
def get_multiple_accounts(chain: LocalChain, params: Params) -> Any:
    raw = to_list(params.required(0, "account addresses"), "account addresses", MAX_MULTIPLE_ACCOUNTS)
    addresses = [to_pubkey(value, f"account address {i}") for i, value in enumerate(raw)]
    config = params.config(1)
    config.commitment()
    encoding, data_slice = _account_options(config)
    slot, accounts = chain.get_accounts(addresses)
    config.check_min_context_slot(slot)
    return with_context(slot, [_encode(a, encoding, data_slice) for a in accounts])


@rpc_method("getBalance", 2)
def get_balance(chain: LocalChain, params: Params) -> Any:
    address = to_pubkey(params.required(0, "account address"), "account address")
    config = params.config(1)
    config.commitment()
    slot, (account,) = chain.get_accounts([address])
    config.check_min_context_slot(slot)
    return with_context(slot, 0 if account is None else int(account.lamports))


def _memcmp_bytes(memcmp: dict[str, Any]) -> bytes:
    encoded = memcmp.get("bytes")
    if not isinstance(encoded, str):
        raise invalid_params("Invalid param: memcmp `bytes` must be a string")
    encoding = memcmp.get("encoding", "base58")
    if encoding == "base58":
        if len(encoded) > MAX_MEMCMP_BYTES:
            raise invalid_params(f"Invalid param: memcmp base58 `bytes` longer than {MAX_MEMCMP_BYTES} characters")
        try:
            raw = based58.b58decode(encoded.encode())
        except ValueError as exc:
            raise invalid_params(f"Invalid param: memcmp `bytes` is not valid base58: {exc}") from None
    elif encoding == "base64":
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise invalid_params(f"Invalid param: memcmp `bytes` is not valid base64: {exc}") from None
    else:
        raise invalid_params(f"Invalid param: unknown memcmp encoding {encoding!r}; expected base58 or base64")
    if len(raw) > MAX_MEMCMP_BYTES:
        raise invalid_params(f"Invalid param: memcmp `bytes` longer than {MAX_MEMCMP_BYTES} bytes")
    return raw


def _parse_filters(value: Any) -> list[tuple[str, Any]]:
    if value is None:
        return []
    filters = to_list(value, "`filters`", 10**6)
    if len(filters) > MAX_FILTERS:
        raise invalid_params(f"Too many filters provided; max {MAX_FILTERS}")
    parsed: list[tuple[str, Any]] = []
    for item in filters:
        if isinstance(item, dict) and set(item) == {"dataSize"}:
            parsed.append(("dataSize", to_int(item["dataSize"], "`dataSize`")))
        elif isinstance(item, dict) and set(item) == {"memcmp"} and isinstance(item["memcmp"], dict):
            memcmp = item["memcmp"]
            parsed.append(("memcmp", (to_int(memcmp.get("offset"), "memcmp `offset`"), _memcmp_bytes(memcmp))))
        else:
            raise invalid_params(f"Invalid param: unsupported filter {item!r}; expected {{dataSize}} or {{memcmp}}")
    return parsed


def _matches(data: bytes, filters: list[tuple[str, Any]]) -> bool:
    for kind, arg in filters:
        if kind == "dataSize" and len(data) != arg:
            return False
        if kind == "memcmp":
            offset, expected = arg
            if data[offset : offset + len(expected)] != expected:
                return False
    return True


@rpc_method("getProgramAccounts", 2)
def get_program_accounts(chain: LocalChain, params: Params) -> Any:
    owner = to_pubkey(params.required(0, "program id"), "program id")
    config = params.config(1)
    config.commitment()
    encoding, data_slice = _account_options(config)
    filters = _parse_filters(config.get("filters"))
    with_ctx = config.boolean("withContext")
    slot, accounts = chain.program_accounts(owner)
    config.check_min_context_slot(slot)
    found = [
        {"pubkey": str(address), "account": encode_account(account, encoding, data_slice)}
        for address, account in accounts
        if _matches(bytes(account.data), filters)
    ]
    return with_context(slot, found) if with_ctx else found


@rpc_method("getMinimumBalanceForRentExemption", 2)
def get_minimum_balance_for_rent_exemption(chain: LocalChain, params: Params) -> Any:
    size = to_int(params.required(0, "account data length"), "account data length", maximum=MAX_ACCOUNT_SIZE_QUERY)
    params.config(1).commitment()
    return chain.minimum_balance_for_rent_exemption(size)
