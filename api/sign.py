"""Print the X-EV-* headers for one request, for curl:

    python -m api.sign --keypair parent.json POST /session/create '{"session_duration_seconds":3600,...}'

prints `-H X-EV-Wallet:…` words (or `--format env`). The body must be sent byte for byte as given (`--data-raw`).
The keypair file is the Solana CLI format (a JSON array of 64 bytes); it is read, never printed.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from solders.keypair import Keypair

from api.client_auth import DEFAULT_DOMAIN, signed_headers


def load_keypair(path: Path) -> Keypair:
    data = json.loads(path.read_text())
    if not (isinstance(data, list) and len(data) == 64 and all(isinstance(b, int) and 0 <= b < 256 for b in data)):
        raise ValueError(f"{path}: not a Solana keypair file (a JSON array of 64 bytes)")
    return Keypair.from_bytes(bytes(data))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.sign", description=__doc__.split("\n\n")[0])
    parser.add_argument("--keypair", type=Path, required=True, help="parent wallet keypair file (Solana CLI JSON)")
    parser.add_argument("--domain", default=DEFAULT_DOMAIN, help="AUTH_DOMAIN of the server")
    parser.add_argument("--format", choices=("curl", "env", "json"), default="curl")
    parser.add_argument("method", help="GET, POST, …")
    parser.add_argument("target", help="path plus ?query exactly as sent, e.g. /sessions?limit=5")
    parser.add_argument("body", nargs="?", default="", help="request body exactly as sent (default: empty)")
    args = parser.parse_args(argv)
    try:
        keypair = load_keypair(args.keypair)
    except (OSError, ValueError) as err:
        print(f"api.sign: {err}", file=sys.stderr)
        return 2
    headers = signed_headers(keypair, args.method, args.target, args.body.encode(), domain=args.domain)
    if args.format == "json":
        print(json.dumps(headers))
    elif args.format == "env":
        for name, value in headers.items():
            print(f"{name.replace('-', '_').upper()}={shlex.quote(value)}")
    else:
        # `Name:value` with no space: every value is base58/digits/[A-Za-z0-9_-], so the words need no quoting and
        # work both as `$(python -m api.sign …)` and inside `eval`.
        print(" ".join(f"-H {shlex.quote(f'{name}:{value}')}" for name, value in headers.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
