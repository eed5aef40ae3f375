"""`python -m localnet --port 8899 [--ledger DIR] [--slot-ms 400] [--program-so PATH | --no-program]`"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ephemeral_vault.settings import PROGRAM_DIR, PROGRAM_SO, get_settings
from localnet.chain import ChainConfig, LocalChain, ProgramFileMissing
from localnet.loader import DeployError
from localnet.server import DEFAULT_MAX_BODY_BYTES, create_app, serve


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m localnet", description="Solana JSON-RPC node over LiteSVM")
    parser.add_argument("--host", default=settings.localnet_host)
    parser.add_argument("--port", type=int, default=settings.localnet_port)
    parser.add_argument("--ws-port", type=int, default=None, help="PubSub WebSocket port (default: port + 1)")
    parser.add_argument("--ledger", type=Path, default=settings.localnet_ledger_dir, help="persist state in DIR")
    parser.add_argument("--slot-ms", type=int, default=settings.localnet_slot_ms, help="wall ms per slot; 0 = manual")
    program = parser.add_mutually_exclusive_group()
    program.add_argument("--program-so", type=Path, default=PROGRAM_SO, help="the ephemeral_vault .so to deploy")
    program.add_argument("--no-program", action="store_true", help="start without deploying the program")
    parser.add_argument("--program-keypair", type=Path, default=PROGRAM_DIR / "program-keypair.json")
    parser.add_argument(
        "--upgrade-authority", type=Path, default=PROGRAM_DIR / "dev-upgrade-authority-keypair.json"
    )
    parser.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    config = ChainConfig(
        slot_ms=args.slot_ms,
        ledger_dir=args.ledger,
        program_so=None if args.no_program else args.program_so,
        program_keypair=args.program_keypair,
        upgrade_authority=args.upgrade_authority,
    )
    try:
        chain = LocalChain(config)
    except (ProgramFileMissing, DeployError) as exc:
        print(f"localnet: {exc}", file=sys.stderr)
        return 2
    program = f"program {chain.program_id}" if chain.program_id else "no program"
    where = f"http://{args.host}:{args.port}"
    print(f"localnet: {where} ({program}, slot {args.slot_ms} ms, ledger {args.ledger})", flush=True)
    ws_port = args.ws_port if args.ws_port is not None else args.port + 1
    ports = [args.port] if ws_port == args.port else [args.port, ws_port]
    serve(create_app(chain, args.max_body_bytes), args.host, ports)
    chain.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
