"""Just enough ELF64 little-endian reading and writing for BPF relocatable objects and SBPF shared objects."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

EHDR = struct.Struct("<16sHHIQQQIHHHHHH")  # 64 bytes
PHDR = struct.Struct("<IIQQQQQQ")  # 56 bytes
SHDR = struct.Struct("<IIQQQQIIQQ")  # 64 bytes
SYM = struct.Struct("<IBBHQQ")  # 24 bytes
REL = struct.Struct("<QQ")  # 16 bytes
DYN = struct.Struct("<qQ")  # 16 bytes

ELF_MAGIC = b"\x7fELF"
ELFCLASS64, ELFDATA2LSB, EV_CURRENT = 2, 1, 1
ET_REL, ET_DYN = 1, 3
EM_BPF = 247

SHT_NULL, SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_RELA = 0, 1, 2, 3, 4
SHT_DYNAMIC, SHT_NOBITS, SHT_REL, SHT_DYNSYM = 6, 8, 9, 11
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 0x1, 0x2, 0x4

SHN_UNDEF, SHN_ABS, SHN_COMMON = 0, 0xFFF1, 0xFFF2
STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2
STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_SECTION = 0, 1, 2, 3

PT_LOAD, PT_DYNAMIC = 1, 2
PF_X, PF_R = 0x1, 0x4

DT_NULL, DT_STRTAB, DT_SYMTAB, DT_STRSZ, DT_SYMENT = 0, 5, 6, 10, 11
DT_REL, DT_RELSZ, DT_RELENT = 17, 18, 19

R_BPF_NONE, R_BPF_64_64, R_BPF_64_ABS64, R_BPF_64_ABS32, R_BPF_64_NODYLD32, R_BPF_64_32 = 0, 1, 2, 3, 4, 10
RELOC_NAMES = {0: "R_BPF_NONE", 1: "R_BPF_64_64", 2: "R_BPF_64_ABS64", 3: "R_BPF_64_ABS32", 4: "R_BPF_64_NODYLD32",
               10: "R_BPF_64_32"}  # fmt: skip


class ElfFormatError(ValueError):
    pass


@dataclass
class Section:
    index: int
    name: str
    type: int
    flags: int
    addr: int
    offset: int
    size: int
    link: int
    info: int
    addralign: int
    entsize: int
    data: bytes = b""


@dataclass
class Symbol:
    name: str
    bind: int
    type: int
    shndx: int
    value: int
    size: int


@dataclass
class Reloc:
    offset: int
    type: int
    sym: int


@dataclass
class Elf:
    """A parsed ELF64 LE file: header fields, sections (with data), symbols of .symtab, relocations by target."""

    path: str
    e_type: int
    e_machine: int
    e_flags: int
    e_entry: int
    sections: list[Section]
    symbols: list[Symbol] = field(default_factory=list)
    relocs: dict[int, list[Reloc]] = field(default_factory=dict)
    phdrs: list[tuple[int, ...]] = field(default_factory=list)


def _cstr(table: bytes, off: int) -> str:
    end = table.find(b"\0", off)
    if end < 0:
        raise ElfFormatError(f"unterminated string at {off:#x}")
    return table[off:end].decode("utf-8", "replace")


def parse(data: bytes, path: str = "<bytes>") -> Elf:
    if len(data) < EHDR.size or data[:4] != ELF_MAGIC:
        raise ElfFormatError(f"{path}: not an ELF file")
    ident, e_type, e_machine, _ver, e_entry, e_phoff, e_shoff, e_flags, _ehsize, e_phentsize, e_phnum, \
        e_shentsize, e_shnum, e_shstrndx = EHDR.unpack_from(data)  # fmt: skip
    if ident[4] != ELFCLASS64 or ident[5] != ELFDATA2LSB:
        raise ElfFormatError(f"{path}: not a 64-bit little-endian ELF file")
    if e_shnum and e_shentsize != SHDR.size:
        raise ElfFormatError(f"{path}: unexpected section header size {e_shentsize}")
    raw = []
    for i in range(e_shnum):
        pos = e_shoff + i * SHDR.size
        if pos + SHDR.size > len(data):
            raise ElfFormatError(f"{path}: section header table out of bounds")
        raw.append(SHDR.unpack_from(data, pos))
    shstr = b""
    if e_shnum and e_shstrndx < e_shnum:
        _n, _t, _f, _a, off, size, *_ = raw[e_shstrndx]
        shstr = data[off : off + size]
    sections = []
    for i, (name, typ, flags, addr, off, size, link, info, align, entsize) in enumerate(raw):
        if typ != SHT_NOBITS and off + size > len(data):
            raise ElfFormatError(f"{path}: section {i} out of bounds")
        body = b"" if typ == SHT_NOBITS else data[off : off + size]
        sections.append(Section(i, _cstr(shstr, name) if shstr else "", typ, flags, addr, off, size, link, info,
                                align, entsize, body))  # fmt: skip
    elf = Elf(path, e_type, e_machine, e_flags, e_entry, sections)
    if e_phnum and e_phentsize == PHDR.size:
        elf.phdrs = [PHDR.unpack_from(data, e_phoff + i * PHDR.size) for i in range(e_phnum)]
    for sec in sections:
        if sec.type == SHT_SYMTAB:
            strtab = sections[sec.link].data
            for j in range(sec.size // SYM.size):
                st_name, st_info, _other, shndx, value, size = SYM.unpack_from(sec.data, j * SYM.size)
                elf.symbols.append(Symbol(_cstr(strtab, st_name), st_info >> 4, st_info & 0xF, shndx, value, size))
        elif sec.type == SHT_RELA:
            raise ElfFormatError(f"{path}: RELA section {sec.name} (BPF objects use REL)")
        elif sec.type == SHT_REL:
            elf.relocs[sec.info] = [
                Reloc(off, info & 0xFFFFFFFF, info >> 32)
                for off, info in (REL.unpack_from(sec.data, j * REL.size) for j in range(sec.size // REL.size))
            ]
    return elf


class StrTab:
    """A string table under construction; identical strings are stored once."""

    def __init__(self) -> None:
        self.data = bytearray(b"\0")
        self._index: dict[str, int] = {"": 0}

    def add(self, s: str) -> int:
        if s not in self._index:
            self._index[s] = len(self.data)
            self.data += s.encode() + b"\0"
        return self._index[s]


def align(value: int, to: int) -> int:
    return (value + to - 1) // to * to if to > 1 else value
