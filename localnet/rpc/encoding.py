"""Wire formats: decoding submitted transactions and encoding accounts and transactions the way validators do."""

from __future__ import annotations

import base64
import binascii
import struct
from typing import Any

import based58
from solders.account import Account
from solders.message import Message, MessageV0
from solders.transaction import Transaction, VersionedTransaction

from localnet.rpc.errors import INVALID_REQUEST, RpcError, invalid_params

PACKET_DATA_SIZE = 1232
# agave's limits on the encoded form of a packet-sized transaction
MAX_BASE58_SIZE = 1683
MAX_BASE64_SIZE = 1644
MAX_BASE58_ACCOUNT_BYTES = 128
ZSTD_MAGIC = 0xFD2FB528
ZSTD_MAX_BLOCK = 128 * 1024

ACCOUNT_ENCODINGS = ("binary", "base58", "base64", "base64+zstd", "jsonParsed")
TRANSACTION_ENCODINGS = ("json", "jsonParsed", "base58", "base64", "binary")
_TX_TYPE = "solana_transaction::versioned::VersionedTransaction"


def decode_transaction(data: Any, encoding: str) -> tuple[VersionedTransaction, bytes]:
    """Decode and sanitize a submitted transaction; every failure is a -32602 saying what was wrong."""
    if not isinstance(data, str):
        raise invalid_params("Invalid params: the transaction must be an encoded string")
    if encoding == "base58":
        if len(data) > MAX_BASE58_SIZE:
            raise invalid_params(
                f"base58 encoded {_TX_TYPE} too large: {len(data)} bytes (max: encoded/raw "
                f"{MAX_BASE58_SIZE}/{PACKET_DATA_SIZE})"
            )
        try:
            wire = based58.b58decode(data.encode())
        except ValueError as exc:
            raise invalid_params(f"invalid base58 encoding: {exc}") from None
    elif encoding == "base64":
        if len(data) > MAX_BASE64_SIZE:
            raise invalid_params(
                f"base64 encoded {_TX_TYPE} too large: {len(data)} bytes (max: encoded/raw "
                f"{MAX_BASE64_SIZE}/{PACKET_DATA_SIZE})"
            )
        try:
            wire = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise invalid_params(f"invalid base64 encoding: {exc}") from None
    else:
        raise invalid_params(f"Invalid params: unsupported encoding: {encoding}. Supported encodings: base58, base64")
    if len(wire) > PACKET_DATA_SIZE:
        raise invalid_params(
            f"decoded {_TX_TYPE} too large: {len(wire)} bytes (max: {PACKET_DATA_SIZE} bytes)"
        )
    try:
        tx = VersionedTransaction.from_bytes(wire)
    except Exception as exc:  # solders raises its own error types for malformed bincode
        raise invalid_params(f"failed to deserialize {_TX_TYPE}: {exc}") from None
    try:
        tx.sanitize()
        if len(tx.signatures) != tx.message.header.num_required_signatures:
            raise ValueError("signature count differs from the message header")
    except Exception:
        raise invalid_params("invalid transaction: Transaction failed to sanitize accounts offsets correctly") from None
    return tx, wire


def decode_message(data: Any) -> Message | MessageV0:
    if not isinstance(data, str):
        raise invalid_params("Invalid params: the message must be a base64 string")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise invalid_params(f"invalid base64 encoding: {exc}") from None
    try:
        if raw and raw[0] & 0x80:
            if raw[0] & 0x7F != 0:
                raise ValueError(f"unsupported message version {raw[0] & 0x7F}")
            message: Message | MessageV0 = MessageV0.from_bytes(raw[1:])
        else:
            message = Message.from_bytes(raw)
        if isinstance(message, MessageV0):
            message.sanitize()
        else:
            Transaction.new_unsigned(message).sanitize()
    except Exception as exc:
        raise invalid_params(f"invalid message: {exc}") from None
    return message


def zstd_frame(payload: bytes) -> bytes:
    """A valid zstd frame holding `payload` in raw (stored) blocks: any zstd decoder reads it back."""
    # Frame header descriptor: 8-byte content size (flag 3) and single segment, so no window descriptor.
    out = bytearray(struct.pack("<IBQ", ZSTD_MAGIC, 0xE0, len(payload)))
    chunks = [payload[i : i + ZSTD_MAX_BLOCK] for i in range(0, len(payload), ZSTD_MAX_BLOCK)] or [b""]
    for n, chunk in enumerate(chunks):
        last = n == len(chunks) - 1
        header = int(last) | (0 << 1) | (len(chunk) << 3)  # block type 0 = raw
        out += header.to_bytes(3, "little") + chunk
    return bytes(out)


def encode_account(account: Account, encoding: str, data_slice: tuple[int, int] | None) -> dict[str, Any]:
    data = bytes(account.data)
    if data_slice is not None:
        offset, length = data_slice
        data = data[offset : offset + length]
    if encoding in ("binary", "base58"):
        if len(data) > MAX_BASE58_ACCOUNT_BYTES:
            raise RpcError(
                INVALID_REQUEST,
                f"Encoded binary (base 58) data should be less than {MAX_BASE58_ACCOUNT_BYTES} bytes, "
                "please use Base64 encoding.",
            )
        text = based58.b58encode(data).decode()
        encoded: Any = text if encoding == "binary" else [text, "base58"]
    elif encoding == "base64+zstd":
        encoded = [base64.b64encode(zstd_frame(data)).decode(), "base64+zstd"]
    else:
        # jsonParsed falls back to base64 when no parser knows the owner, as a validator does.
        encoded = [base64.b64encode(data).decode(), "base64"]
    return {
        "data": encoded,
        "executable": bool(account.executable),
        "lamports": int(account.lamports),
        "owner": str(account.owner),
        "rentEpoch": int(account.rent_epoch),
        "space": len(account.data),
    }


def _is_writable(message: Message | MessageV0, index: int) -> bool:
    header = message.header
    signed = header.num_required_signatures
    if index < signed:
        return index < signed - header.num_readonly_signed_accounts
    return index < len(message.account_keys) - header.num_readonly_unsigned_accounts


def ui_message(message: Message | MessageV0, parsed: bool, loaded: tuple[list[str], list[str]]) -> dict[str, Any]:
    keys = [str(k) for k in message.account_keys]
    header = message.header
    instructions = []
    for ix in message.instructions:
        data = based58.b58encode(bytes(ix.data)).decode()
        accounts = list(bytes(ix.accounts))
        if parsed:
            every = keys + loaded[0] + loaded[1]
            instructions.append(
                {
                    "programId": every[ix.program_id_index],
                    "accounts": [every[i] for i in accounts],
                    "data": data,
                    "stackHeight": None,
                }
            )
        else:
            instructions.append(
                {"programIdIndex": ix.program_id_index, "accounts": accounts, "data": data, "stackHeight": None}
            )
    out: dict[str, Any] = {}
    if parsed:
        out["accountKeys"] = [
            {
                "pubkey": key,
                "signer": i < header.num_required_signatures,
                "writable": _is_writable(message, i),
                "source": "transaction",
            }
            for i, key in enumerate(keys)
        ] + [
            {"pubkey": key, "signer": False, "writable": writable, "source": "lookupTable"}
            for keys_, writable in ((loaded[0], True), (loaded[1], False))
            for key in keys_
        ]
    else:
        out["accountKeys"] = keys
        out["header"] = {
            "numRequiredSignatures": header.num_required_signatures,
            "numReadonlySignedAccounts": header.num_readonly_signed_accounts,
            "numReadonlyUnsignedAccounts": header.num_readonly_unsigned_accounts,
        }
    out["recentBlockhash"] = str(message.recent_blockhash)
    out["instructions"] = instructions
    if isinstance(message, MessageV0):
        out["addressTableLookups"] = [
            {
                "accountKey": str(lookup.account_key),
                "writableIndexes": list(bytes(lookup.writable_indexes)),
                "readonlyIndexes": list(bytes(lookup.readonly_indexes)),
            }
            for lookup in message.address_table_lookups
        ]
    return out


def encode_transaction(
    tx: VersionedTransaction, wire: bytes, encoding: str, loaded: tuple[list[str], list[str]]
) -> Any:
    if encoding == "base64":
        return [base64.b64encode(wire).decode(), "base64"]
    if encoding == "base58":
        return [based58.b58encode(wire).decode(), "base58"]
    if encoding == "binary":
        return based58.b58encode(wire).decode()
    return {
        "signatures": [str(s) for s in tx.signatures],
        "message": ui_message(tx.message, encoding == "jsonParsed", loaded),
    }
