"""Create a KEK: `python -m ephemeral_vault.custody.keygen env --id 2026-11` prints a new `id:base64` entry for
KEK_KEYS (the only custody command that prints key material, on purpose: it is how an operator gets one);
`python -m ephemeral_vault.custody.keygen pkcs11` generates the non-extractable AES-256 KEK labelled
PKCS11_KEY_LABEL on the token PKCS11_TOKEN_LABEL (idempotent) and prints its kek id.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys

from ephemeral_vault.custody.env_kek import KEK_ID_PATTERN
from ephemeral_vault.custody.errors import CustodyError, KekConfigError
from ephemeral_vault.settings import settings_or_exit


def new_env_kek_entry(kek_id: str) -> str:
    if not KEK_ID_PATTERN.fullmatch(kek_id):
        raise KekConfigError(f"key id must match {KEK_ID_PATTERN.pattern}")
    return f"{kek_id}:{base64.b64encode(os.urandom(32)).decode()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ephemeral_vault.custody.keygen", description="Create a KEK.")
    kinds = parser.add_subparsers(dest="kind", required=True)
    env = kinds.add_parser("env", help="print a new id:base64(32 bytes) entry for KEK_KEYS")
    env.add_argument("--id", required=True, help="key id, e.g. the month it was created")
    kinds.add_parser("pkcs11", help="generate PKCS11_KEY_LABEL on PKCS11_TOKEN_LABEL (from the environment)")
    args = parser.parse_args(argv)
    try:
        if args.kind == "env":
            print(new_env_kek_entry(args.id))
            return 0
        from ephemeral_vault.custody.pkcs11_kek import generate_kek_on_token

        settings = settings_or_exit()
        if not settings.pkcs11_token_label or settings.pkcs11_pin is None:
            raise KekConfigError("PKCS11_TOKEN_LABEL and PKCS11_PIN must be set")
        print(
            generate_kek_on_token(
                settings.pkcs11_module, settings.pkcs11_token_label, settings.pkcs11_pin, settings.pkcs11_key_label
            )
        )
        return 0
    except CustodyError as exc:
        print(f"keygen: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
