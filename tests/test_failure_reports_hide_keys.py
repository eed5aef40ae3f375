"""A failing test that holds keypairs must not print their secrets into the CI log (tests/fixtures/redact_keys.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from solders.keypair import Keypair

from tests.fixtures.redact_keys import redact_secret_keys

REPO = Path(__file__).resolve().parents[1]

FAILING_TEST = '''
from dataclasses import dataclass
from solders.keypair import Keypair

KEY = Keypair.from_bytes(bytes.fromhex("{hex}"))

@dataclass
class Holder:
    key: Keypair

def helper(key, keys, holder):
    assert key is None, "deliberate failure"

def test_deliberately_fails():
    helper(KEY, [KEY] * 5, Holder(KEY))
'''


def secret_prefix(key: Keypair) -> str:
    """The first secret bytes as repr(Keypair) lists them."""
    return ", ".join(str(b) for b in bytes(key)[:4])


def test_redaction_covers_whole_and_truncated_reprs() -> None:
    # Three-digit bytes: the longest repr, the case a fixed-width cut would lose first.
    key = Keypair.from_seed(bytes([211] * 32))
    prefix = secret_prefix(key)
    assert prefix in repr(key)
    assert prefix not in redact_secret_keys(repr(key))
    # saferepr cuts long reprs mid-list: cut right after the leaked bytes (a fixed-width cut missed them on some keys).
    whole = repr([key] * 3)
    truncated = whole[: whole.index(prefix) + len(prefix)] + "...FieldElement51([1, 2])"
    assert prefix in truncated
    assert prefix not in redact_secret_keys(truncated)


def test_a_failing_test_report_shows_no_secret_bytes(tmp_path: Path) -> None:
    key = Keypair()
    test_file = tmp_path / "test_leak.py"
    test_file.write_text(FAILING_TEST.format(hex=bytes(key).hex()))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:anchorpy", "-p", "no:cacheprovider", "-p",
         "tests.fixtures.redact_keys", "--tb=long", "--showlocals", str(test_file)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    output = run.stdout + run.stderr
    assert "1 failed" in output, output
    assert "deliberate failure" in output and "SecretKey: [redacted]" in output, output
    assert secret_prefix(key) not in output, output
