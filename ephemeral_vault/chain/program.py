"""The program's interface as the client sees it: program id, parsed legacy IDL, anchorpy coder, error table.

Everything else in this package encodes and decodes through one `ProgramInterface`, so a single IDL file (the one the
program's own build generates) is the only source of discriminators, layouts and error names on the client side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from anchorpy import Coder, Idl
from solders.pubkey import Pubkey

from ephemeral_vault.settings import LEGACY_IDL_PATH, get_settings


@dataclass(frozen=True)
class IdlError:
    code: int
    name: str
    message: str


@dataclass(frozen=True)
class ProgramInterface:
    program_id: Pubkey
    idl: Idl
    coder: Coder = field(repr=False)
    errors_by_code: dict[int, IdlError] = field(repr=False)

    def error_for_code(self, code: int) -> IdlError | None:
        return self.errors_by_code.get(code)

    def constant(self, name: str) -> int:
        """An integer constant from the IDL (`MAX_FEE_PER_TRADE`, ...), so limits are never restated by hand."""
        for const in self.idl.constants:
            if const.name == name:
                return int(const.value)
        raise KeyError(f"IDL has no constant {name!r}")


def load_program_interface(idl_path: Path, program_id: Pubkey) -> ProgramInterface:
    """Parse a legacy (anchorpy 0.21) IDL file. `program_id` is explicit: the IDL's address is only the dev id."""
    try:
        idl = Idl.from_json(idl_path.read_text())
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"program IDL not found at {idl_path} (run `make idl`)") from exc
    errors = {e.code: IdlError(code=e.code, name=e.name, message=e.msg or e.name) for e in (idl.errors or [])}
    return ProgramInterface(program_id=program_id, idl=idl, coder=Coder(idl), errors_by_code=errors)


@lru_cache(maxsize=8)
def _cached_interface(idl_path: Path, program_id: str) -> ProgramInterface:
    return load_program_interface(idl_path, Pubkey.from_string(program_id))


def default_program(program_id: Pubkey | str | None = None) -> ProgramInterface:
    """The interface for the configured program (`PROGRAM_ID`), or for an explicit program id, from the repo's IDL."""
    pid = str(program_id) if program_id is not None else get_settings().program_id
    return _cached_interface(LEGACY_IDL_PATH, pid)
