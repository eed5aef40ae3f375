"""Build the on-chain program: clang-19 compiles each `src/*.c` to a BPF object, sbflink links them.

    python -m programs.build                  # -> programs/ephemeral_vault/target/deploy/ephemeral_vault.so
    python -m programs.build --out /tmp/x.so  # same bytes elsewhere (the reproducibility test does this)

Reproducible: sources are compiled in sorted order with paths relative to the repository root, no debug info, and
`-ffile-prefix-map`, so nothing machine-specific (paths, timestamps) reaches the objects; the linker is deterministic.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from programs.sbflink import LinkError, check_so, link

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = "ephemeral_vault"
SRC = Path("programs") / PROGRAM / "src"
INCLUDE = Path("programs") / "include"
DEFAULT_OUT = Path("programs") / PROGRAM / "target" / "deploy" / f"{PROGRAM}.so"

CFLAGS = [
    # v2: no 32-bit jumps (v3) and no signed-division encodings (v4); SBPF v0 has neither.
    "-target", "bpf", "-mcpu=v2",
    "-O2",
    "-ffreestanding", "-fno-builtin", "-nostdlib",
    "-mllvm", "-bpf-stack-size=4096",  # the real SBPF frame is 4 KiB; clang's default cap is 512 bytes
    "-g0", "-fno-ident",
    "-Wall", "-Wextra",
]  # fmt: skip


def clang() -> str:
    return os.environ.get("CLANG", "clang-19")


def compile_one(src: Path, obj: Path) -> subprocess.CompletedProcess[str]:
    cmd = [clang(), *CFLAGS, f"-ffile-prefix-map={ROOT}=.", f"-I{INCLUDE}", "-c", str(src), "-o", str(obj)]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)


def build(out: Path, src_dir: Path = SRC, map_path: Path | None = None) -> int:
    sources = sorted((ROOT / src_dir).glob("*.c"))
    if not sources:
        print(f"build: no C sources in {src_dir}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="sbf-obj-") as tmp:
        objs = [Path(tmp) / (s.stem + ".o") for s in sources]
        with ThreadPoolExecutor() as pool:
            results = list(pool.map(compile_one, [s.relative_to(ROOT) for s in sources], objs))
        failed = False
        for src, res in zip(sources, results, strict=True):
            if res.stderr:
                sys.stderr.write(res.stderr)
            if res.returncode:
                print(f"build: clang failed on {src.relative_to(ROOT)}", file=sys.stderr)
                failed = True
        if failed:
            return 1
        try:
            result = link(objs)
        except LinkError as exc:
            for p in exc.problems:
                print(f"sbflink: error: {p}", file=sys.stderr)
            return 1
    problems = check_so(result.so)
    if problems:  # the linker's own output failing its checker is a linker bug; never write such a file
        for p in problems:
            print(f"sbflink: internal error: output fails --check: {p}", file=sys.stderr)
        return 1
    out = out if out.is_absolute() else ROOT / out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(result.so)
    if map_path:
        lines = [f"{a:#08x} #{(a - 232) // 8:<6} {name} ({obj})" for a, name, obj in result.functions]
        map_path.write_text("\n".join(lines) + "\n")
    print(
        f"build: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}: {len(result.so)} bytes "
        f"(.text {result.text_size} = {result.text_size // 8} insns, .rodata {result.rodata_size}), "
        f"{len(sources)} sources, syscalls: {', '.join(result.syscalls)}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m programs.build", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--src", type=Path, default=SRC, help="directory of C sources, relative to the repo root")
    parser.add_argument("--map", type=Path, help="write a function map (address, instruction index, name, object)")
    args = parser.parse_args(argv)
    return build(args.out, args.src, args.map)


if __name__ == "__main__":
    sys.exit(main())
