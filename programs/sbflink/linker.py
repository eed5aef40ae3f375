"""Link clang's BPF relocatable objects into an SBPF v0 shared object (`e_flags = 0`, loader v3).

Layout (file offset == virtual address for every allocated section, which the deploy-time loader checks):

    ELF header | program headers | .text | .rodata | .dynamic .dynsym .dynstr .rel.dyn | .shstrtab | section headers

* PT_LOAD (R+X) covers .text and .rodata, PT_LOAD (R) the dynamic tables, PT_DYNAMIC the .dynamic section.
* The VM maps this read-only image at 0x1_0000_0000, so every address the program sees (`lddw` of rodata or of a
  function, 64-bit pointers inside rodata) is resolved here, statically, to 0x1_0000_0000 + vaddr.
* Calls between functions become pc-relative `call imm`; the loader registers their targets itself.
* A syscall stays `call -1` with an R_BPF_64_32 dynamic relocation against an undefined .dynsym entry named after it;
  the loader hashes the name and refuses names the validator does not know.
* `callx` is re-encoded with its register in `imm`, where SBPF v0 reads it (clang puts it in `dst`).

Every problem found is collected and reported together by LinkError, each naming file, function, offset,
instruction and reason.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import elf as E
from .isa import CALL, CALLX, EXIT, INSN_SIZE, JA, LDDW, Insn, mnemonic, refusal
from .syscalls import COMPILER_RUNTIME_HINTS, SYSCALLS

MM_RODATA_START = 0x1_0000_0000
TEXT_START = E.EHDR.size + 3 * E.PHDR.size  # 232, already 8-aligned


class LinkError(Exception):
    """Linking failed; `problems` lists every reason, one line each."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass
class _Input:
    """One allocated input section placed in the output."""

    obj: E.Elf
    sec: E.Section
    kind: str  # "text" | "rodata"
    vaddr: int = 0
    data: bytearray = field(default_factory=bytearray)


@dataclass
class LinkResult:
    so: bytes
    text_size: int
    rodata_size: int
    syscalls: list[str]
    functions: list[tuple[int, str, str]]  # (vaddr, name, object)


def _is_rodata(sec: E.Section) -> bool:
    return sec.name.startswith((".rodata", ".data.rel.ro")) or not sec.flags & E.SHF_WRITE


class _Linker:
    def __init__(self, objects: Sequence[E.Elf]):
        self.objects = objects
        self.problems: list[str] = []
        self.inputs: dict[tuple[int, int], _Input] = {}  # (object index, section index) -> placed section
        self.globals: dict[str, tuple[int, E.Symbol]] = {}
        self.dynrelocs: list[tuple[int, str]] = []  # (vaddr of the call, syscall name)
        self.refused: set[tuple[int, int]] = set()  # writable sections already reported; no follow-up errors

    # ---- diagnostics -------------------------------------------------------------------------------------------
    def where(self, oi: int, sec: E.Section, off: int) -> str:
        obj = self.objects[oi]
        funcs = [s for s in obj.symbols if s.shndx == sec.index and s.type == E.STT_FUNC and s.value <= off]
        func = max(funcs, key=lambda s: s.value, default=None)
        place = f"<{func.name}+{off - func.value:#x}>" if func else ""
        return f"{Path(obj.path).name}:{sec.name}+{off:#x}{place}"

    def insn_text(self, data: bytes | bytearray, off: int) -> str:
        insn = Insn.decode(data, off)
        nxt = Insn.decode(data, off + 8).imm if insn.opc == LDDW and off + 16 <= len(data) else None
        return f"`{mnemonic(insn, nxt)}` [{bytes(data[off : off + 8]).hex(' ')}]"

    # ---- phases ------------------------------------------------------------------------------------------------
    def collect(self) -> None:
        for oi, obj in enumerate(self.objects):
            if obj.e_type != E.ET_REL or obj.e_machine != E.EM_BPF:
                self.problems.append(f"{obj.path}: not a BPF relocatable object (compile with clang -target bpf -c)")
                continue
            for sec in obj.sections:
                if not sec.flags & E.SHF_ALLOC or sec.size == 0:
                    continue
                if sec.flags & E.SHF_EXECINSTR:
                    kind = "text"
                elif sec.type != E.SHT_NOBITS and _is_rodata(sec):
                    kind = "rodata"
                else:
                    names = sorted(s.name for s in obj.symbols if s.shndx == sec.index and s.type == E.STT_OBJECT)
                    self.problems.append(
                        f"{Path(obj.path).name}: writable section {sec.name} ({sec.size} bytes; "
                        f"symbols: {', '.join(names) or '-'}): SBPF v0 has no writable global data. "
                        "Make the variable `static const`, or keep state in an account or on the stack."
                    )
                    self.refused.add((oi, sec.index))
                    continue
                self.inputs[(oi, sec.index)] = _Input(obj, sec, kind, data=bytearray(sec.data))
            for sym in obj.symbols:
                if sym.shndx == E.SHN_COMMON:
                    self.problems.append(
                        f"{Path(obj.path).name}: common (uninitialised, writable) global `{sym.name}`: SBPF v0 has "
                        "no writable global data"
                    )
                elif sym.bind in (E.STB_GLOBAL, E.STB_WEAK) and sym.shndx != E.SHN_UNDEF:
                    prev = self.globals.get(sym.name)
                    if prev is None or (prev[1].bind == E.STB_WEAK and sym.bind == E.STB_GLOBAL):
                        self.globals[sym.name] = (oi, sym)
                    elif sym.bind == E.STB_GLOBAL and prev[1].bind == E.STB_GLOBAL:
                        self.problems.append(
                            f"duplicate definition of `{sym.name}` in {Path(self.objects[prev[0]].path).name} "
                            f"and {Path(obj.path).name}"
                        )

    def layout(self) -> tuple[int, int, int]:
        pos = TEXT_START
        for kind in ("text", "rodata"):
            start = pos = E.align(pos, 8)
            for inp in self.inputs.values():
                if inp.kind == kind:
                    pos = E.align(pos, max(inp.sec.addralign, 8 if kind == "text" else 1))
                    inp.vaddr = pos
                    pos += len(inp.data)
            if kind == "text":
                text_end = pos
        return TEXT_START, text_end, E.align(pos, 8) if pos > start else start

    def resolve(self, oi: int, symidx: int) -> tuple[int | None, E.Symbol, bool]:
        """(output vaddr, or None if not in the output; symbol; whether its absence was already reported)."""
        obj = self.objects[oi]
        sym = obj.symbols[symidx]
        if sym.shndx == E.SHN_UNDEF:
            g = self.globals.get(sym.name)
            if g is None:
                return None, sym, False
            oi, sym = g
        if sym.shndx in (E.SHN_ABS, E.SHN_COMMON):
            return None, sym, sym.shndx == E.SHN_COMMON
        inp = self.inputs.get((oi, sym.shndx))
        if inp is None:
            return None, sym, (oi, sym.shndx) in self.refused
        return inp.vaddr + sym.value, sym, False

    def check_text(self, oi: int, inp: _Input) -> None:
        data, sec = inp.data, inp.sec
        relocated = {r.offset for r in self.objects[oi].relocs.get(sec.index, [])}
        if len(data) % INSN_SIZE:
            self.problems.append(f"{self.where(oi, sec, 0)}: size {len(data)} is not a multiple of 8")
            return
        count = len(data) // INSN_SIZE
        second_slots = set()
        pc = 0
        while pc < count:
            if data[pc * 8] == LDDW:
                second_slots.add(pc + 1)
                pc += 2
            else:
                pc += 1
        for pc in range(count):
            off = pc * 8
            if pc in second_slots:
                insn = Insn.decode(data, off)
                if insn.opc or insn.dst or insn.src or insn.off:
                    self.problems.append(f"{self.where(oi, sec, off)}: malformed second half of lddw")
                continue
            insn = Insn.decode(data, off)
            reason = refusal(insn)
            if insn.opc == LDDW and pc + 1 >= count:
                reason = "lddw without its second slot"
            if reason is None and insn.opc & 0x07 == 0x05 and insn.opc not in (CALL, CALLX, EXIT):
                target = pc + 1 + insn.off
                if not 0 <= target < count or target in second_slots:
                    reason = f"jump target {target} is outside the function's section or inside a lddw"
            if reason is None and insn.opc == CALL and off not in relocated:
                target = pc + 1 + insn.imm
                if insn.imm == -1:
                    reason = "call -1 without a relocation (unknown callee)"
                elif not 0 <= target < count or target in second_slots:
                    reason = f"call target {target} is outside the section"
            if reason is None and insn.opc == JA and insn.imm:
                reason = "ja with a non-zero imm (gotol) is not SBPF v0"
            if reason:
                self.problems.append(f"{self.where(oi, sec, off)}: {self.insn_text(data, off)}: {reason}")
            if insn.opc == CALLX and insn.imm == 0:
                struct.pack_into("<i", data, off + 4, insn.dst)

    def relocate(self, oi: int, inp: _Input) -> None:
        obj, sec, data = self.objects[oi], inp.sec, inp.data
        for rel in obj.relocs.get(sec.index, []):
            where = self.where(oi, sec, rel.offset)
            if rel.type == E.R_BPF_NONE:
                continue
            if rel.sym >= len(obj.symbols):
                self.problems.append(f"{where}: relocation against symbol #{rel.sym}, which does not exist")
                continue
            addr, sym, reported = self.resolve(oi, rel.sym)
            if reported:
                continue
            name = sym.name or "<section>"
            rname = E.RELOC_NAMES.get(rel.type, f"type {rel.type}")
            if inp.kind == "text" and rel.type == E.R_BPF_64_64 and data[rel.offset] == LDDW:
                if addr is None:
                    self.problems.append(f"{where}: {self.insn_text(data, rel.offset)}: unresolved symbol `{name}`")
                    continue
                (lo,) = struct.unpack_from("<I", data, rel.offset + 4)
                (hi,) = struct.unpack_from("<I", data, rel.offset + 12)
                value = MM_RODATA_START + addr + (lo | hi << 32)
                struct.pack_into("<I", data, rel.offset + 4, value & 0xFFFFFFFF)
                struct.pack_into("<I", data, rel.offset + 12, value >> 32)
            elif inp.kind == "text" and rel.type == E.R_BPF_64_32 and data[rel.offset] == CALL:
                imm = struct.unpack_from("<i", data, rel.offset + 4)[0]
                here = inp.vaddr + rel.offset
                if addr is not None:
                    target = addr + (imm + 1) * INSN_SIZE
                    in_text = any(
                        i.kind == "text" and i.vaddr <= target < i.vaddr + len(i.data) for i in self.inputs.values()
                    )
                    if not in_text or target % INSN_SIZE:
                        self.problems.append(f"{where}: call to `{name}`, which is not a function in .text")
                        continue
                    struct.pack_into("<i", data, rel.offset + 4, (target - here - INSN_SIZE) // INSN_SIZE)
                elif sym.name in SYSCALLS:
                    if imm != -1:
                        self.problems.append(f"{where}: syscall `{sym.name}` called with imm {imm}, expected -1")
                    self.dynrelocs.append((here, sym.name))
                else:
                    hint = COMPILER_RUNTIME_HINTS.get(sym.name, "not a Solana syscall and not defined in any input")
                    self.problems.append(f"{where}: {self.insn_text(data, rel.offset)}: unresolved symbol "
                                         f"`{sym.name}`: {hint}")  # fmt: skip
            elif inp.kind == "rodata" and rel.type == E.R_BPF_64_ABS64:
                if addr is None:
                    self.problems.append(f"{where}: pointer to unresolved symbol `{name}` in read-only data")
                    continue
                addend = struct.unpack_from("<Q", data, rel.offset)[0]
                struct.pack_into("<Q", data, rel.offset, MM_RODATA_START + addr + addend)
            elif inp.kind == "rodata" and rel.type == E.R_BPF_64_ABS32:
                self.problems.append(f"{where}: 32-bit absolute address of `{name}` cannot hold an SBPF address")
            else:
                self.problems.append(f"{where}: unsupported relocation {rname} against `{name}` in {inp.kind}")

    # ---- output ------------------------------------------------------------------------------------------------
    def emit(self, text_start: int, text_end: int, ro_end: int, entry: int) -> bytes:
        names = sorted({n for _, n in self.dynrelocs})
        dynstr = E.StrTab()
        dynsym = bytearray(E.SYM.size)
        for n in names:
            dynsym += E.SYM.pack(dynstr.add(n), E.STB_GLOBAL << 4 | E.STT_NOTYPE, 0, E.SHN_UNDEF, 0, 0)
        symidx = {n: i + 1 for i, n in enumerate(names)}
        reldyn = b"".join(E.REL.pack(off, symidx[n] << 32 | E.R_BPF_64_32) for off, n in sorted(self.dynrelocs))

        dynamic_off = ro_end
        n_dyn = 5 + (3 if reldyn else 0)
        dynsym_off = dynamic_off + n_dyn * E.DYN.size
        dynstr_off = dynsym_off + len(dynsym)
        reldyn_off = E.align(dynstr_off + len(dynstr.data), 8)
        dyn_end = reldyn_off + len(reldyn)
        entries = [(E.DT_SYMTAB, dynsym_off), (E.DT_SYMENT, E.SYM.size), (E.DT_STRTAB, dynstr_off),
                   (E.DT_STRSZ, len(dynstr.data))]  # fmt: skip
        if reldyn:
            entries += [(E.DT_REL, reldyn_off), (E.DT_RELSZ, len(reldyn)), (E.DT_RELENT, E.REL.size)]
        dynamic = b"".join(E.DYN.pack(t, v) for t, v in [*entries, (E.DT_NULL, 0)])

        shstr = E.StrTab()
        shstrtab_off = dyn_end
        # (name, type, flags, addr/offset, size, link, info, align, entsize); indices: 1 .text 2 .rodata ...
        has_ro = ro_end > E.align(text_end, 8)
        secs = [(".text", E.SHT_PROGBITS, E.SHF_ALLOC | E.SHF_EXECINSTR, text_start, text_end - text_start, 0, 0, 8, 0)]
        if has_ro:
            ro_start = E.align(text_end, 8)
            secs.append((".rodata", E.SHT_PROGBITS, E.SHF_ALLOC, ro_start, ro_end - ro_start, 0, 0, 8, 0))
        i_dynsym, i_dynstr = len(secs) + 2, len(secs) + 3
        secs += [
            (".dynamic", E.SHT_DYNAMIC, E.SHF_ALLOC, dynamic_off, len(dynamic), i_dynstr, 0, 8, E.DYN.size),
            (".dynsym", E.SHT_DYNSYM, E.SHF_ALLOC, dynsym_off, len(dynsym), i_dynstr, 1, 8, E.SYM.size),
            (".dynstr", E.SHT_STRTAB, E.SHF_ALLOC, dynstr_off, len(dynstr.data), 0, 0, 1, 0),
        ]
        if reldyn:
            secs.append((".rel.dyn", E.SHT_REL, E.SHF_ALLOC, reldyn_off, len(reldyn), i_dynsym, 0, 8, E.REL.size))
        for s in secs:
            shstr.add(s[0])
        shstr.add(".shstrtab")
        shoff = E.align(shstrtab_off + len(shstr.data), 8)
        shnum, shstrndx = len(secs) + 2, len(secs) + 1

        out = bytearray(shoff)
        ident = E.ELF_MAGIC + bytes([E.ELFCLASS64, E.ELFDATA2LSB, E.EV_CURRENT]) + bytes(9)
        E.EHDR.pack_into(out, 0, ident, E.ET_DYN, E.EM_BPF, E.EV_CURRENT, entry, E.EHDR.size, shoff, 0, E.EHDR.size,
                         E.PHDR.size, 3, E.SHDR.size, shnum, shstrndx)  # fmt: skip

        def segment(p_type: int, flags: int, start: int, end: int) -> tuple[int, ...]:
            return (p_type, flags, start, start, start, end - start, end - start, 8)

        phdrs = [
            segment(E.PT_LOAD, E.PF_R | E.PF_X, text_start, ro_end),
            segment(E.PT_LOAD, E.PF_R, dynamic_off, dyn_end),
            segment(E.PT_DYNAMIC, E.PF_R, dynamic_off, dynamic_off + len(dynamic)),
        ]
        for i, ph in enumerate(phdrs):
            E.PHDR.pack_into(out, E.EHDR.size + i * E.PHDR.size, *ph)
        for inp in self.inputs.values():
            out[inp.vaddr : inp.vaddr + len(inp.data)] = inp.data
        out[dynamic_off:dyn_end] = dynamic + dynsym + dynstr.data + bytes(reldyn_off - dynstr_off - len(dynstr.data)) \
            + reldyn  # fmt: skip
        out[shstrtab_off : shstrtab_off + len(shstr.data)] = shstr.data
        shdrs = bytearray(E.SHDR.size)
        for name, typ, flags, addr, size, link, info, al, ent in secs:
            shdrs += E.SHDR.pack(shstr.add(name), typ, flags, addr, addr, size, link, info, al, ent)
        shdrs += E.SHDR.pack(shstr.add(".shstrtab"), E.SHT_STRTAB, 0, 0, shstrtab_off, len(shstr.data), 0, 0, 1, 0)
        return bytes(out + shdrs)

    def run(self) -> LinkResult:
        self.collect()
        text_start, text_end, ro_end = self.layout()
        for (oi, _), inp in self.inputs.items():
            if inp.kind == "text":
                self.check_text(oi, inp)
        for (oi, _), inp in self.inputs.items():
            self.relocate(oi, inp)
        entry = self.globals.get("entrypoint")
        entry_addr = None
        if entry and entry[1].type == E.STT_FUNC and (entry[0], entry[1].shndx) in self.inputs:
            entry_addr = self.inputs[(entry[0], entry[1].shndx)].vaddr + entry[1].value
        else:
            self.problems.append("no global function `entrypoint` is defined")
        if not any(i.kind == "text" for i in self.inputs.values()):
            self.problems.append("no code: none of the inputs has a non-empty .text section")
        if self.problems:
            raise LinkError(self.problems)
        so = self.emit(text_start, text_end, ro_end, entry_addr)
        functions = sorted(
            (inp.vaddr + s.value, s.name, Path(inp.obj.path).name)
            for (oi, si), inp in self.inputs.items()
            if inp.kind == "text"
            for s in self.objects[oi].symbols
            if s.shndx == si and s.type == E.STT_FUNC
        )
        syscalls = sorted({n for _, n in self.dynrelocs})
        return LinkResult(so, text_end - text_start, ro_end - E.align(text_end, 8), syscalls, functions)


def link_objects(objects: Sequence[tuple[str, bytes]]) -> LinkResult:
    """Link (path, bytes) BPF objects; raises LinkError listing every problem found."""
    parsed, problems = [], []
    for path, data in objects:
        try:
            parsed.append(E.parse(data, path))
        except E.ElfFormatError as exc:
            problems.append(str(exc))
    if problems:
        raise LinkError(problems)
    return _Linker(parsed).run()


def link(paths: Sequence[str | Path]) -> LinkResult:
    return link_objects([(str(p), Path(p).read_bytes()) for p in paths])
