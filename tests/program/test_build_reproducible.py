"""The committed deploy artifact is exactly what `make program` builds from the committed sources."""

from __future__ import annotations

from pathlib import Path

from programs.build import DEFAULT_OUT, ROOT, SRC, build


def test_rebuilding_the_program_reproduces_the_committed_so_byte_for_byte(tmp_path: Path):
    sources = sorted((ROOT / SRC).glob("*.c"))
    assert sources, f"no C sources in {SRC}"
    committed = ROOT / DEFAULT_OUT
    assert committed.is_file(), f"{DEFAULT_OUT} is missing: run `make program` and commit it"
    rebuilt = tmp_path / "ephemeral_vault.so"
    assert build(rebuilt) == 0, "the program does not build (see the compiler/linker output above)"
    assert rebuilt.read_bytes() == committed.read_bytes(), (
        f"{DEFAULT_OUT} is stale or the build is not reproducible: run `make program` and commit the result"
    )


def test_two_builds_in_different_directories_are_identical(tmp_path: Path):
    first, second = tmp_path / "a" / "x.so", tmp_path / "b" / "nested" / "y.so"
    assert build(first) == 0 and build(second) == 0
    assert first.read_bytes() == second.read_bytes()
