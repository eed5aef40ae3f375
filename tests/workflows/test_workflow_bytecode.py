"""The worker writes the workflow modules' bytecode before its first workflow task (worker.cache_workflow_bytecode):
the sandbox re-imports them for every new workflow run, and without bytecode each re-import compiles the source."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from worker import WORKFLOWS, cache_workflow_bytecode


def test_bytecode_of_every_workflow_module_and_its_package_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "pycache_prefix", str(tmp_path))  # keep the test out of the source tree

    written = cache_workflow_bytecode(WORKFLOWS)

    sources = [sys.modules[name].__file__ for name in ("workflows", "workflows.session", "workflows.vault_sweep")]
    expected = [importlib.util.cache_from_source(s) for s in sources if s]
    assert sorted(written) == sorted(expected)
    assert all(Path(p).is_file() and Path(p).is_relative_to(tmp_path) for p in written)


def test_the_written_bytecode_is_what_the_import_system_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "pycache_prefix", str(tmp_path))
    cache_workflow_bytecode(WORKFLOWS)
    source = sys.modules["workflows.session"].__file__
    assert source is not None
    loader = importlib.machinery.SourceFileLoader("workflows.session", source)
    compiled = {"n": 0}
    real = loader.source_to_code

    def counting(*args: object, **kwargs: object) -> object:
        compiled["n"] += 1
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(loader, "source_to_code", counting)
    assert loader.get_code("workflows.session") is not None
    assert compiled["n"] == 0, "the loader compiled the source instead of reading the bytecode"
