"""Helpers for the SBF toolchain tests (test_sbflink.py, test_build_reproducible.py): compile C fixtures with
clang-19, run linked programs in LiteSVM loaded through `add_program` or a real loader-v3 deployment."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.litesvm import FeatureSet, LiteSVM
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction
from solders.transaction_metadata import FailedTransactionMetadata, TransactionMetadata

from localnet.loader import deploy_upgradeable, loader_v3_feature_set
from programs.build import CFLAGS, clang

FIXTURES = Path(__file__).parent / "fixtures"

# solders 0.26 offers no mainnet feature set (FeatureSet has only all_enabled() and default(); `active` is
# settable). The fixtures therefore run at both ends: every feature LiteSVM knows except the SIMD-0167 switch that
# forbids new loader-v3 deployments, and no feature at all.
FEATURE_SETS: dict[str, Callable[[], FeatureSet]] = {
    "all-features": loader_v3_feature_set,
    "no-features": FeatureSet.default,
}


def clang_path() -> str:
    path = shutil.which(clang())
    assert path, f"{clang()} is not installed (make toolchain)"
    return path


def compile_c(out_dir: Path, fixture: str | None = None, *, source: str | None = None, name: str | None = None,
              cpu: str = "v2") -> Path:  # fmt: skip
    """Compile fixtures/<fixture>, or `source` (with sbf.h included) saved as <name>.c, with the build's flags."""
    if source is not None:
        src = out_dir / f"{name}.c"
        src.write_text('#include "sbf.h"\n' + source)
    else:
        src = FIXTURES / fixture
    obj = out_dir / f"{name or Path(fixture).stem}-{cpu}.o"
    flags = [f"-mcpu={cpu}" if f.startswith("-mcpu=") else f for f in CFLAGS]
    res = subprocess.run([clang_path(), *flags, f"-I{FIXTURES}", "-c", str(src), "-o", str(obj)],
                         capture_output=True, text=True, check=False)  # fmt: skip
    assert res.returncode == 0, res.stderr
    return obj


class Chain:
    """A LiteSVM under one feature set, with a funded payer; programs loaded either way."""

    def __init__(self, feature_set: str):
        self.svm = LiteSVM().with_builtins(FEATURE_SETS[feature_set]())
        self.payer = Keypair()
        self.svm.airdrop(self.payer.pubkey(), 100_000_000_000)

    def load(self, elf: bytes, via: str) -> Pubkey:
        program = Keypair()
        if via == "add_program":
            self.svm.add_program(program.pubkey(), elf)
        else:
            deploy_upgradeable(self.svm, self.payer, program, self.payer, elf)
        return program.pubkey()

    def invoke(self, program_id: Pubkey, data: bytes = b"", accounts: Sequence[AccountMeta] = (),
               signers: Sequence[Keypair] = ()) -> TransactionMetadata | FailedTransactionMetadata:  # fmt: skip
        ix = Instruction(program_id, data, list(accounts))
        blockhash = self.svm.latest_blockhash()
        msg = Message.new_with_blockhash([ix], self.payer.pubkey(), blockhash)
        result = self.svm.send_transaction(Transaction([self.payer, *signers], msg, blockhash))
        self.svm.expire_blockhash()
        return result


def logs_of(result: TransactionMetadata | FailedTransactionMetadata) -> list[str]:
    meta = result.meta() if isinstance(result, FailedTransactionMetadata) else result
    return list(meta.logs())


def program_logs(result: TransactionMetadata | FailedTransactionMetadata) -> list[str]:
    return [line for line in logs_of(result) if line.startswith(("Program log: ", "Program data: "))]
