"""CLI: `python -m programs.sbflink a.o b.o -o out.so [--map out.map]`, or `--check out.so`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .check import check_so
from .linker import LinkError, link


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m programs.sbflink", description=__doc__)
    parser.add_argument("objects", nargs="*", type=Path, help="BPF relocatable objects (clang -target bpf -c)")
    parser.add_argument("-o", "--output", type=Path, help="shared object to write")
    parser.add_argument("--map", type=Path, help="also write a map: address, instruction index, function, object")
    parser.add_argument("--check", type=Path, metavar="SO", help="check an existing shared object and exit")
    args = parser.parse_args(argv)

    if args.check:
        if args.objects or args.output:
            parser.error("--check takes no objects and no -o")
        problems = check_so(args.check.read_bytes(), str(args.check))
        for p in problems:
            print(f"{args.check}: {p}", file=sys.stderr)
        return 1 if problems else 0
    if not args.objects or not args.output:
        parser.error("give one or more objects and -o OUTPUT")
    missing = [str(p) for p in args.objects if not p.is_file()]
    if missing:
        print(f"sbflink: no such file: {', '.join(missing)}", file=sys.stderr)
        return 1
    try:
        result = link(args.objects)
    except LinkError as exc:
        for p in exc.problems:
            print(f"sbflink: error: {p}", file=sys.stderr)
        print(f"sbflink: {len(exc.problems)} error(s); {args.output} not written", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(result.so)
    if args.map:
        text_start = min((a for a, _, _ in result.functions), default=0)
        lines = [f"{a:#08x} #{(a - text_start) // 8:<6} {name} ({obj})" for a, name, obj in result.functions]
        args.map.write_text("\n".join(lines) + "\n")
    print(
        f"sbflink: {args.output}: {len(result.so)} bytes (.text {result.text_size}, .rodata {result.rodata_size}); "
        f"syscalls: {', '.join(result.syscalls) or '-'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
