"""The node's durable record: every account a transaction touched, the transaction history, blockhashes and clock.

LiteSVM has no snapshot, so the node keeps its own: after each landed transaction the writable accounts' new states
and the transaction record are written in one SQLite transaction. On start they are replayed with `set_account`.
Without a ledger directory the same code runs on an in-memory database, so there is one code path.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

from solders.account import Account
from solders.pubkey import Pubkey

from localnet.records import TransactionRecord

LEDGER_FILE = "localnet.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
    address TEXT PRIMARY KEY,
    lamports TEXT NOT NULL,
    data BLOB NOT NULL,
    owner TEXT NOT NULL,
    executable INTEGER NOT NULL,
    rent_epoch TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS transactions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    signature TEXT NOT NULL UNIQUE,
    slot INTEGER NOT NULL,
    block_time INTEGER NOT NULL,
    wire BLOB NOT NULL,
    meta TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tx_addresses (address TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (address, seq));
CREATE TABLE IF NOT EXISTS blockhashes (blockhash TEXT PRIMARY KEY, slot INTEGER NOT NULL);
"""


class Ledger:
    """Not thread-safe by itself: the chain calls it under its lock."""

    def __init__(self, directory: Path | None) -> None:
        if directory is None:
            target = ":memory:"
        else:
            directory.mkdir(parents=True, exist_ok=True)
            target = str(directory / LEDGER_FILE)
        self.directory = directory
        self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a process crash (only an OS crash can lose the last commits).
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    # --- state -------------------------------------------------------------------------------------------------
    def get_state(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def set_state(self, values: dict[str, str]) -> None:
        self._db.executemany("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", list(values.items()))

    # --- accounts ----------------------------------------------------------------------------------------------
    def accounts(self) -> Iterator[tuple[Pubkey, Account]]:
        rows = self._db.execute("SELECT address, lamports, data, owner, executable, rent_epoch FROM accounts")
        for address, lamports, data, owner, executable, rent_epoch in rows:
            account = Account(int(lamports), bytes(data), Pubkey.from_string(owner), bool(executable), int(rent_epoch))
            yield Pubkey.from_string(address), account

    def _write_accounts(self, changes: Iterable[tuple[Pubkey, Account | None]]) -> None:
        for address, account in changes:
            if account is None:
                self._db.execute("DELETE FROM accounts WHERE address = ?", (str(address),))
                continue
            self._db.execute(
                "INSERT OR REPLACE INTO accounts (address, lamports, data, owner, executable, rent_epoch)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    str(address),
                    str(account.lamports),
                    bytes(account.data),
                    str(account.owner),
                    int(account.executable),
                    str(account.rent_epoch),
                ),
            )

    # --- transactions ------------------------------------------------------------------------------------------
    def record_transaction(self, record: TransactionRecord, changes: Iterable[tuple[Pubkey, Account | None]]) -> None:
        """Write the transaction and the accounts it changed atomically."""
        self._db.execute("BEGIN")
        try:
            cursor = self._db.execute(
                "INSERT INTO transactions (signature, slot, block_time, wire, meta) VALUES (?, ?, ?, ?, ?)",
                (record.signature, record.slot, record.block_time, record.wire, record.meta_json()),
            )
            seq = cursor.lastrowid
            self._db.executemany(
                "INSERT OR IGNORE INTO tx_addresses (address, seq) VALUES (?, ?)",
                [(address, seq) for address in set(record.account_keys)],
            )
            self._write_accounts(changes)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def transaction(self, signature: str) -> TransactionRecord | None:
        row = self._db.execute(
            "SELECT signature, slot, block_time, wire, meta FROM transactions WHERE signature = ?", (signature,)
        ).fetchone()
        return None if row is None else TransactionRecord.from_row(row[0], row[1], row[2], bytes(row[3]), row[4])

    def has_transaction(self, signature: str) -> bool:
        return self._db.execute("SELECT 1 FROM transactions WHERE signature = ?", (signature,)).fetchone() is not None

    def transaction_count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM transactions").fetchone()[0])

    def signatures_for_address(
        self, address: str, limit: int, before: str | None, until: str | None
    ) -> list[tuple[str, int, int, str]]:
        """(signature, slot, block_time, meta_json), newest first, strictly older than `before`, newer than `until`."""
        below, above = 2**62, -1
        if before is not None:
            row = self._db.execute("SELECT seq FROM transactions WHERE signature = ?", (before,)).fetchone()
            if row is None:
                return []  # a validator finds nothing before a signature it does not know
            below = row[0]
        if until is not None:
            row = self._db.execute("SELECT seq FROM transactions WHERE signature = ?", (until,)).fetchone()
            if row is not None:
                above = row[0]
        rows = self._db.execute(
            "SELECT t.signature, t.slot, t.block_time, t.meta FROM tx_addresses a JOIN transactions t ON t.seq = a.seq"
            " WHERE a.address = ? AND a.seq < ? AND a.seq > ? ORDER BY a.seq DESC LIMIT ?",
            (address, below, above, limit),
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]

    # --- blockhashes -------------------------------------------------------------------------------------------
    def record_blockhash(self, blockhash: str, slot: int, forget_before: int) -> None:
        self._db.execute("INSERT OR IGNORE INTO blockhashes (blockhash, slot) VALUES (?, ?)", (blockhash, slot))
        self._db.execute("DELETE FROM blockhashes WHERE slot < ?", (forget_before,))

    def blockhashes(self) -> list[tuple[str, int]]:
        return [tuple(row) for row in self._db.execute("SELECT blockhash, slot FROM blockhashes ORDER BY slot")]  # type: ignore[misc]
