"""Check a linked shared object against what the SBPF v0 loader and verifier demand (`--check out.so`)."""

from __future__ import annotations

from . import elf as E
from .isa import CALL, INSN_SIZE, LDDW, Insn, mnemonic, refusal
from .syscalls import SYSCALLS

RO_SECTIONS = (".text", ".rodata", ".data.rel.ro", ".eh_frame")


def check_so(data: bytes, path: str = "<bytes>") -> list[str]:
    """Every reason `data` would not deploy or run as an SBPF v0 program; empty when it looks right."""
    try:
        so = E.parse(data, path)
    except E.ElfFormatError as exc:
        return [str(exc)]
    problems = []
    if so.e_type != E.ET_DYN or so.e_machine != E.EM_BPF or so.e_flags != 0:
        problems.append(f"header: want ET_DYN, EM_BPF, e_flags 0; got {so.e_type}, {so.e_machine}, {so.e_flags}")
    texts = [s for s in so.sections if s.name == ".text"]
    if len(texts) != 1:
        return [*problems, f"{len(texts)} .text sections (want exactly one)"]
    text = texts[0]
    if not (text.addr <= so.e_entry < text.addr + text.size) or (so.e_entry - text.addr) % INSN_SIZE:
        problems.append(f"e_entry {so.e_entry:#x} is not an instruction in .text")
    end = 0
    for sec in so.sections[1:]:
        if len(sec.name) > 15:
            problems.append(f"section name {sec.name} is longer than 15 bytes")
        if sec.flags & E.SHF_ALLOC and sec.addr != sec.offset:
            problems.append(f"{sec.name}: file offset {sec.offset:#x} != vaddr {sec.addr:#x}")
        if sec.flags & E.SHF_ALLOC and (sec.flags & E.SHF_WRITE or sec.type == E.SHT_NOBITS):
            problems.append(f"{sec.name}: writable section")
        if sec.flags & E.SHF_ALLOC and sec.name not in RO_SECTIONS and sec.type == E.SHT_PROGBITS:
            problems.append(f"{sec.name}: allocated data section the loader does not map")
        if sec.offset < end:
            problems.append(f"{sec.name}: sections overlap or are not in ascending order")
        end = sec.offset + (0 if sec.type == E.SHT_NOBITS else sec.size)
    loads = [ph for ph in so.phdrs if ph[0] == E.PT_LOAD]
    if [ph[3] for ph in loads] != sorted(ph[3] for ph in loads):
        problems.append("PT_LOAD segments are not in ascending vaddr order")
    for sec in so.sections:
        if sec.flags & E.SHF_ALLOC and not any(ph[3] <= sec.addr and sec.addr + sec.size <= ph[3] + ph[6]
                                               for ph in loads):  # fmt: skip
            problems.append(f"{sec.name}: not covered by a PT_LOAD segment")

    dyn = {s.name: s for s in so.sections if s.name in (".dynsym", ".dynstr", ".rel.dyn", ".dynamic")}
    names: list[str] = [""]
    if ".dynsym" in dyn and ".dynstr" in dyn:
        strtab = dyn[".dynstr"].data
        for j in range(1, dyn[".dynsym"].size // E.SYM.size):
            st_name, _info, _o, shndx, _v, _s = E.SYM.unpack_from(dyn[".dynsym"].data, j * E.SYM.size)
            name = strtab[st_name : strtab.index(b"\0", st_name)].decode()
            names.append(name)
            if shndx == E.SHN_UNDEF and name not in SYSCALLS:
                problems.append(f".dynsym: `{name}` is not a syscall the validator knows (deploy would fail)")
    if ".dynamic" in dyn:
        tags = dict(E.DYN.unpack_from(dyn[".dynamic"].data, i * E.DYN.size) for i in range(dyn[".dynamic"].size // 16))
        if ".rel.dyn" in dyn and (tags.get(E.DT_REL) != dyn[".rel.dyn"].addr or tags.get(E.DT_RELENT) != 16
                                  or tags.get(E.DT_RELSZ) != dyn[".rel.dyn"].size):  # fmt: skip
            problems.append(".dynamic: DT_REL/DT_RELSZ/DT_RELENT do not describe .rel.dyn")
        if ".dynsym" in dyn and tags.get(E.DT_SYMTAB) != dyn[".dynsym"].addr:
            problems.append(".dynamic: DT_SYMTAB is not the address of .dynsym")
    relocated = set()
    if ".rel.dyn" in dyn:
        for j in range(dyn[".rel.dyn"].size // E.REL.size):
            off, info = E.REL.unpack_from(dyn[".rel.dyn"].data, j * E.REL.size)
            rtype, sym = info & 0xFFFFFFFF, info >> 32
            pos = off - text.addr
            if rtype != E.R_BPF_64_32 or not 0 <= pos < text.size or text.data[pos] != CALL:
                problems.append(f".rel.dyn: relocation at {off:#x} (type {rtype}) is not a syscall call site")
            elif Insn.decode(text.data, pos).imm != -1 or sym >= len(names):
                problems.append(f".rel.dyn: syscall call at {off:#x} must be `call -1` against a .dynsym entry")
            relocated.add(pos)

    data_text, pc, count = text.data, 0, text.size // INSN_SIZE
    while pc < count:
        insn = Insn.decode(data_text, pc * INSN_SIZE)
        reason = refusal(insn)
        if insn.opc == CALL and insn.imm == -1 and pc * INSN_SIZE not in relocated:
            reason = "call -1 without a dynamic relocation"
        elif insn.opc == CALL and insn.imm != -1 and not 0 <= pc + 1 + insn.imm < count:
            reason = "call target outside .text"
        if reason:
            nxt = Insn.decode(data_text, pc * 8 + 8).imm if insn.opc == LDDW and pc + 1 < count else None
            problems.append(f".text+{pc * INSN_SIZE:#x} (insn #{pc}) `{mnemonic(insn, nxt)}`: {reason}")
        pc += 2 if insn.opc == LDDW else 1
    return problems
