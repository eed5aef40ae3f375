"""Compute units of every `ephemeral_vault` instruction beside Anchor's published figures, and the binary size.

Run with `make bench-program` (or `python -m tests.program.bench_program [--json]`). Not a test: nothing here
asserts, it measures. The program is built from the current sources and deployed through the real
BPFLoaderUpgradeable; CU come from each transaction's metadata (`compute_units_consumed`).

Anchor reference (coral-xyz/anchor bench/COMPUTE_UNITS.md, [Unreleased], Solana 1.18.17; bench/BINARY_SIZE.md):
an `init` of one account costs 4,979 CU (accountEmptyInit1); an instruction that deserialises typed accounts costs
649 / 1,015 / 1,740 CU over 1 / 2 / 4 accounts (accountEmpty1/2/4; 3 accounts interpolated as 1,378); a program's
binary is ~791 KB. Those figures include no CPI, no event and no sysvar read; ours include all three where the
instruction needs them, and `sol_try_find_program_address` charges 1,500 CU per bump tried, so the column
"excl. PDA search" shows the creating instructions without that search (canonical bumps are required by the ABI).

solders 0.26 cannot select the mainnet feature set (FeatureSet offers all_enabled() and default() only), so the
two columns are LiteSVM's default (every feature; loader-v3 deployments re-allowed) and no features at all.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from solders.keypair import Keypair
from solders.litesvm import FeatureSet, LiteSVM

from localnet.loader import loader_v3_feature_set
from programs.build import build
from tests.program.conftest import deployed_svm
from tests.program.harness import LAMPORTS_PER_SOL, VaultHarness, load_program

PDA_ATTEMPT_CU = 1_500  # create_program_address_units, charged once per bump tried
BINARY_LIMIT = 32 * 1024
ANCHOR_BINARY_BYTES = 791_000
ANCHOR_INIT_ONE = 4_979
ANCHOR_ACCOUNTS = {1: 649, 2: 1_015, 3: (1_015 + 1_740) // 2, 4: 1_740}

FEATURE_SETS: dict[str, Callable[[], LiteSVM]] = {
    "default": lambda: LiteSVM().with_builtins(loader_v3_feature_set()),
    "no-features": lambda: LiteSVM().with_builtins(FeatureSet.default()),
}


@dataclass
class Row:
    instruction: str
    accounts: int
    anchor_ref: str
    anchor_cu: int
    cu: dict[str, int]
    pda_attempts: int

    def excl_pda(self, feature_set: str) -> int:
        return self.cu[feature_set] - self.pda_attempts * PDA_ATTEMPT_CU


def fixed_keypair(n: int) -> Keypair:
    """Deterministic keys, so PDA bumps (and hence the PDA search cost) are the same on every run."""
    return Keypair.from_seed(bytes([n]) * 32)


def measure(elf: bytes, make_svm: Callable[[], LiteSVM]) -> dict[str, tuple[int, int]]:
    """instruction -> (compute units, PDA bumps tried) for one full session lifecycle, plus the variants."""
    h = VaultHarness(deployed_svm(elf, make_svm()), load_program())
    parent, delegate, cleaner = fixed_keypair(1), fixed_keypair(2), fixed_keypair(3)
    for kp in (parent, delegate, cleaner):
        h.svm.airdrop(kp.pubkey(), 10 * LAMPORTS_PER_SOL)
    s = h.new_session(parent, delegate)
    out: dict[str, tuple[int, int]] = {}
    out["create_vault"] = (h.send(h.create_vault_ix(s), [parent]).compute_units, 256 - s.vault_bump)
    out["approve_delegate"] = (h.send(h.approve_delegate_ix(s), [parent]).compute_units, 256 - s.delegation_bump)
    out["auto_deposit_for_trade"] = (h.send(h.deposit_ix(s, LAMPORTS_PER_SOL // 10), [parent]).compute_units, 0)
    out["execute_trade"] = (h.send(h.execute_trade_ix(s, 5_000), [delegate]).compute_units, 0)
    out["revoke_access"] = (h.send(h.revoke_access_ix(s), [parent]).compute_units, 0)
    out["cleanup_vault"] = (h.send(h.cleanup_vault_ix(s, cleaner.pubkey()), [cleaner]).compute_units, 0)

    # Variants: a session that was never approved verifies the delegation address by derivation.
    s2 = h.new_session(parent, fixed_keypair(4))
    h.send(h.create_vault_ix(s2), [parent])
    attempts = 256 - s2.delegation_bump
    out["revoke_access (never approved)"] = (h.send(h.revoke_access_ix(s2), [parent]).compute_units, attempts)
    h.advance(3_600)
    out["cleanup_vault (never approved)"] = (
        h.send(h.cleanup_vault_ix(s2, cleaner.pubkey()), [cleaner]).compute_units,
        attempts,
    )
    return out


ACCOUNT_COUNTS = {
    "create_vault": 4,
    "approve_delegate": 4,
    "auto_deposit_for_trade": 3,
    "execute_trade": 3,
    "revoke_access": 3,
    "cleanup_vault": 4,
    "revoke_access (never approved)": 3,
    "cleanup_vault (never approved)": 4,
}
CREATES = {"create_vault", "approve_delegate"}


def anchor_reference(name: str) -> tuple[str, int]:
    if name in CREATES:
        return "accountEmptyInit1", ANCHOR_INIT_ONE
    n = min(ACCOUNT_COUNTS[name], 4)
    return (f"accountEmpty{n}" + (" (interp.)" if n == 3 else "")), ANCHOR_ACCOUNTS[n]


def run(elf: bytes) -> list[Row]:
    results = {fs: measure(elf, make) for fs, make in FEATURE_SETS.items()}
    rows = []
    for name in results["default"]:
        ref, ref_cu = anchor_reference(name)
        rows.append(
            Row(
                instruction=name,
                accounts=ACCOUNT_COUNTS[name],
                anchor_ref=ref,
                anchor_cu=ref_cu,
                cu={fs: results[fs][name][0] for fs in results},
                pda_attempts=results["default"][name][1],
            )
        )
    return rows


def render(rows: list[Row], so_size: int) -> str:
    head = (
        f"{'instruction':<32} {'accts':>5} {'CU default':>10} {'CU no-feat':>10} {'excl. PDA':>9} "
        f"{'Anchor ref':<26} {'Anchor CU':>9} {'ratio':>6} {'excl.PDA':>8}  target<=1/4"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        ratio = r.cu["default"] / r.anchor_cu
        ratio_excl = r.excl_pda("default") / r.anchor_cu
        lines.append(
            f"{r.instruction:<32} {r.accounts:>5} {r.cu['default']:>10,} {r.cu['no-features']:>10,} "
            f"{r.excl_pda('default'):>9,} {r.anchor_ref:<26} {r.anchor_cu:>9,} {ratio:>6.2f} {ratio_excl:>8.2f}  "
            f"{'yes' if ratio_excl <= 0.25 else 'no'}"
        )
    lines.append("")
    lines.append(
        f"binary: {so_size:,} bytes = {so_size / BINARY_LIMIT:.0%} of the 32 KiB target "
        f"({'met' if so_size <= BINARY_LIMIT else 'MISSED'}); Anchor program ~{ANCHOR_BINARY_BYTES:,} bytes "
        f"(ratio {so_size / ANCHOR_BINARY_BYTES:.3f})"
    )
    lines.append(
        f"PDA search: {PDA_ATTEMPT_CU:,} CU per bump tried by sol_try_find_program_address (bumps tried shown by "
        "'CU default' - 'excl. PDA'); keys are fixed so the figures repeat."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="ephemeral_vault compute units vs Anchor")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        so = Path(tmp) / "ephemeral_vault.so"
        if build(so) != 0:
            return 1
        elf = so.read_bytes()
    rows = run(elf)
    if args.json:
        print(json.dumps({"so_bytes": len(elf), "rows": [asdict(r) for r in rows]}, indent=2))
    else:
        print(render(rows, len(elf)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
