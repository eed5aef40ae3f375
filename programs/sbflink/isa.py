"""The SBPF v0 instruction set: decoding, a mnemonic for error messages, and the checks the v0 verifier applies
(plus the ones it does not apply but should, such as clang's v4 signed-division encoding).

An instruction is 8 bytes: opcode, dst:4|src:4, off: i16, imm: i32 (little endian). `lddw` takes two slots.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

INSN_SIZE = 8

LDDW = 0x18
CALL = 0x85
CALLX = 0x8D
EXIT = 0x95
JA = 0x05

_ALU_OPS = {
    0x00: "add", 0x10: "sub", 0x20: "mul", 0x30: "div", 0x40: "or", 0x50: "and", 0x60: "lsh", 0x70: "rsh",
    0x80: "neg", 0x90: "mod", 0xA0: "xor", 0xB0: "mov", 0xC0: "arsh",
}  # fmt: skip
_JMP_OPS = {
    0x10: "jeq", 0x20: "jgt", 0x30: "jge", 0x40: "jset", 0x50: "jne", 0x60: "jsgt", 0x70: "jsge",
    0xA0: "jlt", 0xB0: "jle", 0xC0: "jslt", 0xD0: "jsle",
}  # fmt: skip
_SIZES = {0x00: "w", 0x08: "h", 0x10: "b", 0x18: "dw"}


@dataclass(frozen=True)
class Insn:
    opc: int
    dst: int
    src: int
    off: int
    imm: int

    @classmethod
    def decode(cls, data: bytes | bytearray, pos: int) -> Insn:
        opc, regs, off, imm = struct.unpack_from("<BBhi", data, pos)
        return cls(opc, regs & 0xF, regs >> 4, off, imm)


def mnemonic(insn: Insn, next_imm: int | None = None) -> str:
    """A readable rendering, good enough to find the instruction in `llvm-objdump -d` output."""
    opc, cls = insn.opc, insn.opc & 0x07
    d, s, off, imm = f"r{insn.dst}", f"r{insn.src}", insn.off, insn.imm
    src_operand = s if opc & 0x08 else str(imm)
    if opc == LDDW:
        value = (imm & 0xFFFFFFFF) | ((next_imm or 0) & 0xFFFFFFFF) << 32
        return f"lddw {d}, {value:#x}"
    if cls in (0x04, 0x07):
        width = "32" if cls == 0x04 else "64"
        op = opc & 0xF0
        if op == 0xD0:
            return f"{'be' if opc & 0x08 else 'le'}{imm} {d}" if cls == 0x04 else f"bswap{imm} {d}"
        if op == 0x80:
            return f"neg{width} {d}"
        name = _ALU_OPS.get(op, f"alu?{op:#x}")
        if op in (0x30, 0x90) and off == 1:
            name = "s" + name
        if op == 0xB0 and off in (8, 16, 32):
            name = f"movsx{off}"
        note = f" (off={off})" if off and name.startswith(("div", "mod")) else ""
        return f"{name}{width} {d}, {src_operand}{note}"
    if cls == 0x05:
        if opc == JA:
            return f"ja {off:+d}"
        if opc == CALL:
            return f"call {imm}"
        if opc == CALLX:
            return f"callx r{insn.dst or imm}"
        if opc == EXIT:
            return "exit"
        return f"{_JMP_OPS.get(opc & 0xF0, 'jmp?')} {d}, {src_operand}, {off:+d}"
    if cls == 0x06:
        operand = f"w{insn.src}" if opc & 0x08 else str(imm)
        return f"{_JMP_OPS.get(opc & 0xF0, 'jmp32?')}32 w{insn.dst}, {operand}, {off:+d}"
    size = _SIZES.get(opc & 0x18, "?")
    mode = opc & 0xE0
    if cls == 0x01:
        return f"ldx{'s' if mode == 0x80 else ''}{size} {d}, [{s}{off:+d}]"
    if cls == 0x02:
        return f"st{size} [{d}{off:+d}], {imm}"
    if cls == 0x03:
        if mode == 0xC0:
            return f"atomic{size} [{d}{off:+d}], {s} (imm={imm:#x})"
        return f"stx{size} [{d}{off:+d}], {s}"
    return f"opcode {opc:#04x}"


_MEM_OPS = {0x61, 0x69, 0x71, 0x79, 0x62, 0x6A, 0x72, 0x7A, 0x63, 0x6B, 0x73, 0x7B}
_JMP_CODES = {JA, CALL, CALLX, EXIT} | {op | cls for op in _JMP_OPS for cls in (0x05, 0x0D)}


def refusal(insn: Insn) -> str | None:
    """Why SBPF v0 cannot run `insn` correctly, or None. Does not look at a lddw's second slot or jump targets."""
    opc, cls, op = insn.opc, insn.opc & 0x07, insn.opc & 0xF0
    if cls == 0x06:
        return "32-bit jump (opcode class 0x06, clang -mcpu=v3 or later): SBPF v0 has no JMP32; compile with -mcpu=v2"
    if cls in (0x04, 0x07):
        if op == 0xD0:
            if cls == 0x07:
                return "bswap (ALU64 END, clang -mcpu=v4) is not an SBPF v0 instruction; compile with -mcpu=v2"
            if insn.imm not in (16, 32, 64):
                return f"byte swap width {insn.imm} is invalid (16, 32 or 64)"
            return None
        if op not in _ALU_OPS:
            return f"opcode {opc:#04x} is not an SBPF v0 instruction"
        if op == 0x80 and opc & 0x08:
            return f"opcode {opc:#04x} is not an SBPF v0 instruction"
        if insn.off != 0:
            if op in (0x30, 0x90) and insn.off == 1:
                return (
                    "signed division/modulo (clang -mcpu=v4 sdiv/smod: off=1) would run as UNSIGNED on SBPF v0; "
                    "use unsigned arithmetic and compile with -mcpu=v2"
                )
            if op == 0xB0:
                return "sign-extending move (clang -mcpu=v4 movsx) is not an SBPF v0 instruction; compile with -mcpu=v2"
            return f"non-zero offset field ({insn.off}) on an ALU instruction is not SBPF v0"
        if not opc & 0x08:
            if op in (0x30, 0x90) and insn.imm == 0:
                return "division by constant zero (rejected by the verifier)"
            if op in (0x60, 0x70, 0xC0) and not 0 <= insn.imm < (32 if cls == 0x04 else 64):
                return f"shift by {insn.imm} is out of range (rejected by the verifier)"
        return None
    if cls == 0x05:
        if opc not in _JMP_CODES:
            return f"opcode {opc:#04x} is not an SBPF v0 instruction"
        if opc == CALLX and not 0 <= (insn.imm or insn.dst) <= 9:
            return "callx through r10 or an invalid register is rejected by the verifier"
        return None
    if opc == LDDW or opc in _MEM_OPS:
        return None
    if cls == 0x01 and opc & 0xE0 == 0x80:
        return "sign-extending load (clang -mcpu=v4 ldsx) is not an SBPF v0 instruction; compile with -mcpu=v2"
    if cls == 0x03 and opc & 0xE0 == 0xC0:
        return "atomic memory operation is not an SBPF v0 instruction (programs run single-threaded: use plain stores)"
    if cls == 0x00 and opc & 0xE0 in (0x20, 0x40):
        return "packet access (ld_abs/ld_ind) is not an SBPF instruction"
    return f"opcode {opc:#04x} is not an SBPF v0 instruction"
