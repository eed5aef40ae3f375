"""A throwaway SoftHSM2 token for the PKCS#11 tests: its own config and token directory under a temp dir."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pkcs11
from pydantic import SecretStr

SOFTHSM_MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")


@dataclass(frozen=True)
class SoftHsmToken:
    module: Path
    label: str
    pin: SecretStr = field(repr=False)
    config: Path


def create_token(root: Path, label: str, pin: str) -> SoftHsmToken:
    """Initialise a fresh token in `root` and point SoftHSM (read at C_Initialize) at it."""
    if shutil.which("softhsm2-util") is None or not SOFTHSM_MODULE.is_file():
        raise RuntimeError("SoftHSM2 is not installed: run `make toolchain` (Debian package softhsm2)")
    token_dir = root / "tokens"
    token_dir.mkdir(parents=True)
    config = root / "softhsm2.conf"
    config.write_text(f"directories.tokendir = {token_dir}\nobjectstore.backend = file\nlog.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(config)
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", pin + "-so"],
        check=True,
        capture_output=True,
    )
    # python-pkcs11 keeps one library instance per process; re-initialise it so it rescans tokens with this config.
    pkcs11.lib(str(SOFTHSM_MODULE)).reinitialize()
    return SoftHsmToken(module=SOFTHSM_MODULE, label=label, pin=SecretStr(pin), config=config)
