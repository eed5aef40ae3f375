"""`python -m localnet --port 8899 [--ledger DIR] [--slot-ms 400] [--program-so PATH | --no-program]`

Bad flags are argparse errors (usage line, exit 2); start-up failures (a taken port, a --ledger that is not a
directory, a corrupt ledger file, a missing program) are one `localnet: …` line naming the flag or file, exit 2."""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
from pathlib import Path

from ephemeral_vault.settings import PROGRAM_DIR, PROGRAM_SO, settings_or_exit
from localnet.chain import ChainConfig, LocalChain, ProgramFileMissing
from localnet.ledger import LEDGER_FILE
from localnet.loader import DeployError
from localnet.server import DEFAULT_MAX_BODY_BYTES, create_app, listen, serve

MAX_PORT = 65535


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def port(text: str) -> int:
    value = _int(text)
    if not 1 <= value <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"{value} is not a TCP port (1..{MAX_PORT})")
    return value


def non_negative(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must be >= 0")
    return value


def positive(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be >= 1")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    settings = settings_or_exit()
    parser = argparse.ArgumentParser(prog="python -m localnet", description="Solana JSON-RPC node over LiteSVM")
    parser.add_argument("--host", default=settings.localnet_host)
    parser.add_argument("--port", type=port, default=settings.localnet_port)
    parser.add_argument("--ws-port", type=port, default=None, help="PubSub WebSocket port (default: port + 1)")
    parser.add_argument("--ledger", type=Path, default=settings.localnet_ledger_dir, help="persist state in DIR")
    parser.add_argument(
        "--slot-ms", type=non_negative, default=settings.localnet_slot_ms, help="wall ms per slot; 0 = manual"
    )
    program = parser.add_mutually_exclusive_group()
    program.add_argument("--program-so", type=Path, default=PROGRAM_SO, help="the ephemeral_vault .so to deploy")
    program.add_argument("--no-program", action="store_true", help="start without deploying the program")
    parser.add_argument("--program-keypair", type=Path, default=PROGRAM_DIR / "program-keypair.json")
    parser.add_argument(
        "--upgrade-authority", type=Path, default=PROGRAM_DIR / "dev-upgrade-authority-keypair.json"
    )
    parser.add_argument("--max-body-bytes", type=positive, default=DEFAULT_MAX_BODY_BYTES)
    args = parser.parse_args(argv)
    if args.ws_port is None:
        if args.port == MAX_PORT:
            parser.error(f"argument --ws-port: the default (--port + 1) is past {MAX_PORT}; give --ws-port")
        args.ws_port = args.port + 1
    if args.ledger is not None and args.ledger.exists() and not args.ledger.is_dir():
        parser.error(f"argument --ledger: {args.ledger} exists and is not a directory")
    return args


def _fail(message: str) -> int:
    print(f"localnet: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    ports = [args.port] if args.ws_port == args.port else [args.port, args.ws_port]
    try:
        sockets = listen(args.host, ports)
    except OSError as exc:
        flags = "--port/--ws-port" if len(ports) > 1 else "--port"
        where = ", ".join(str(p) for p in ports)
        return _fail(f"cannot listen on {args.host} port {where} ({flags}, --host): {exc.strerror or exc}")
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
        return _close_and_fail(sockets, str(exc))
    except sqlite3.Error as exc:
        ledger_file = args.ledger / LEDGER_FILE if args.ledger is not None else LEDGER_FILE
        return _close_and_fail(sockets, f"--ledger: {ledger_file} is not a usable ledger ({exc})")
    except OSError as exc:  # the ledger directory cannot be created or opened, a keypair file cannot be read
        name = exc.filename if exc.filename is not None else args.ledger
        flag = "--ledger " if args.ledger is not None and str(name).startswith(str(args.ledger)) else ""
        return _close_and_fail(sockets, f"{flag}{name}: {exc.strerror or exc}")
    program = f"program {chain.program_id}" if chain.program_id else "no program"
    where = f"http://{args.host}:{args.port}"
    print(f"localnet: {where} ({program}, slot {args.slot_ms} ms, ledger {args.ledger})", flush=True)
    serve(create_app(chain, args.max_body_bytes), args.host, ports, sockets)
    chain.close()
    return 0


def _close_and_fail(sockets: list, message: str) -> int:
    for sock in sockets:
        sock.close()
    return _fail(message)


if __name__ == "__main__":
    sys.exit(main())
