"""sbflink: the SBPF v0 shared objects it writes, what it refuses and why, and that the output runs in LiteSVM
both through `add_program` and through real BPFLoaderUpgradeable deployment."""

from __future__ import annotations

import base64
import struct
import subprocess
import sys

import pytest
from solders.account import Account
from solders.instruction import AccountMeta
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.transaction_metadata import FailedTransactionMetadata

import programs.sbflink.linker as sbflink_linker
from localnet.loader import BPF_LOADER_UPGRADEABLE_ID, DeployError, deploy_upgradeable, programdata_address
from programs.sbflink import LinkError, check_so, link
from programs.sbflink import elf as E
from programs.sbflink.isa import CALL, CALLX, LDDW, Insn
from programs.sbflink.syscalls import SYSCALLS

from .sbf_support import FEATURE_SETS, Chain, logs_of, program_logs
from .sbf_support import compile_c as compile_fixture

MM_RODATA_START = 0x1_0000_0000
ALL_FIXTURES = [("hello.c",), ("calls_main.c", "calls_lib.c"), ("log_data.c",), ("pda.c",), ("lamports.c",)]


def sections(so: E.Elf) -> dict[str, E.Section]:
    return {s.name: s for s in so.sections}


def dynsyms(so: E.Elf) -> list[tuple[str, int, int]]:
    sec = sections(so)
    strtab = sec[".dynstr"].data
    out = []
    for j in range(1, sec[".dynsym"].size // E.SYM.size):
        st_name, info, _other, shndx, _value, _size = E.SYM.unpack_from(sec[".dynsym"].data, j * E.SYM.size)
        out.append((strtab[st_name : strtab.index(b"\0", st_name)].decode(), info, shndx))
    return out


def text_insns(so: E.Elf) -> list[tuple[int, Insn]]:
    text = sections(so)[".text"]
    out, pc = [], 0
    while pc * 8 < text.size:
        insn = Insn.decode(text.data, pc * 8)
        out.append((text.addr + pc * 8, insn))
        pc += 2 if insn.opc == LDDW else 1
    return out


@pytest.fixture(scope="module")
def compile_c(tmp_path_factory):
    """compile_c("hello.c"), or compile_c(source="...", name="x", cpu="v3")."""
    out_dir = tmp_path_factory.mktemp("objs")
    return lambda *args, **kwargs: compile_fixture(out_dir, *args, **kwargs)


@pytest.fixture(scope="module")
def build_fixture(compile_c):
    """build_fixture("calls_main.c", "calls_lib.c") -> linked .so bytes (cached)."""
    cache: dict[tuple[str, ...], bytes] = {}

    def build(*names: str) -> bytes:
        if names not in cache:
            cache[names] = link([compile_c(n) for n in names]).so
        return cache[names]

    return build


@pytest.fixture(scope="module")
def calls_so(build_fixture) -> E.Elf:
    return E.parse(build_fixture("calls_main.c", "calls_lib.c"), "calls.so")


# ---- structure of the output --------------------------------------------------------------------------------------


@pytest.mark.parametrize("names", ALL_FIXTURES, ids=lambda n: n[0])
def test_linked_fixture_passes_the_checker(build_fixture, names):
    assert check_so(build_fixture(*names)) == []


def test_header_is_sbpf_v0_shared_object(calls_so):
    assert (calls_so.e_type, calls_so.e_machine, calls_so.e_flags) == (E.ET_DYN, E.EM_BPF, 0)


def test_allocated_sections_sit_at_file_offset_equal_to_vaddr(calls_so):
    allocated = [s for s in calls_so.sections if s.flags & E.SHF_ALLOC]
    assert [s.name for s in allocated] == [".text", ".rodata", ".dynamic", ".dynsym", ".dynstr", ".rel.dyn"]
    assert all(s.offset == s.addr for s in allocated)


def test_no_section_is_writable(calls_so):
    assert not [s.name for s in calls_so.sections if s.flags & E.SHF_WRITE or s.type == E.SHT_NOBITS]


def test_program_headers_cover_code_and_dynamic_tables(calls_so):
    sec = sections(calls_so)
    (t0, f0, o0, v0, _, fs0, _, _), (t1, f1, o1, v1, _, fs1, _, _), (t2, _, o2, _, _, fs2, _, _) = calls_so.phdrs
    assert (t0, f0, o0, v0) == (E.PT_LOAD, E.PF_R | E.PF_X, sec[".text"].addr, sec[".text"].addr)
    assert o0 + fs0 >= sec[".rodata"].addr + sec[".rodata"].size
    assert (t1, f1, o1, v1) == (E.PT_LOAD, E.PF_R, sec[".dynamic"].addr, sec[".dynamic"].addr)
    assert o1 + fs1 == sec[".rel.dyn"].addr + sec[".rel.dyn"].size
    assert (t2, o2, fs2) == (E.PT_DYNAMIC, sec[".dynamic"].addr, sec[".dynamic"].size)


def test_entry_is_the_entrypoint_function(compile_c):
    result = link([compile_c("calls_main.c"), compile_c("calls_lib.c")])
    (entry,) = [addr for addr, name, _obj in result.functions if name == "entrypoint"]
    assert E.parse(result.so).e_entry == entry


def test_dynsym_holds_exactly_the_syscalls_used_as_undefined_globals(calls_so):
    assert dynsyms(calls_so) == [
        ("sol_log_", E.STB_GLOBAL << 4 | E.STT_NOTYPE, E.SHN_UNDEF),
        ("sol_log_64_", E.STB_GLOBAL << 4 | E.STT_NOTYPE, E.SHN_UNDEF),
    ]


def test_every_dynamic_relocation_is_a_call_minus_one_to_a_syscall(calls_so):
    sec = sections(calls_so)
    names = ["", *(n for n, _, _ in dynsyms(calls_so))]
    tags = dict(E.DYN.unpack_from(sec[".dynamic"].data, i * 16) for i in range(sec[".dynamic"].size // 16))
    assert (tags[E.DT_REL], tags[E.DT_RELSZ], tags[E.DT_RELENT]) == (sec[".rel.dyn"].addr, sec[".rel.dyn"].size, 16)
    assert tags[E.DT_SYMTAB] == sec[".dynsym"].addr
    relocs = [E.REL.unpack_from(sec[".rel.dyn"].data, j * 16) for j in range(sec[".rel.dyn"].size // 16)]
    syscall_sites = {addr for addr, insn in text_insns(calls_so) if insn.opc == CALL and insn.imm == -1}
    assert {off for off, _ in relocs} == syscall_sites
    assert len(relocs) == 3  # calls_main.c: one sol_log_64_, two sol_log_
    assert all(info & 0xFFFFFFFF == E.R_BPF_64_32 and names[info >> 32] in SYSCALLS for _, info in relocs)


def test_local_calls_are_pc_relative_and_land_on_functions(compile_c):
    result = link([compile_c("calls_main.c"), compile_c("calls_lib.c")])
    so = E.parse(result.so)
    starts = {addr for addr, _name, _obj in result.functions}
    targets = {addr + 8 + insn.imm * 8 for addr, insn in text_insns(so) if insn.opc == CALL and insn.imm != -1}
    assert targets and targets <= starts


def test_rodata_and_code_addresses_are_resolved_to_the_read_only_region(calls_so):
    sec = sections(calls_so)
    image = range(MM_RODATA_START + sec[".text"].addr, MM_RODATA_START + sec[".rodata"].addr + sec[".rodata"].size)
    text = sec[".text"]
    lddw_values = [
        Insn.decode(text.data, a - text.addr).imm & 0xFFFFFFFF | Insn.decode(text.data, a - text.addr + 8).imm << 32
        for a, insn in text_insns(calls_so)
        if insn.opc == LDDW
    ]
    # 8-aligned words in the first MiB above MM_RODATA_START are pointers (string bytes never look like that)
    words = struct.iter_unpack("<Q", sec[".rodata"].data[: sec[".rodata"].size // 8 * 8])
    pointers_in_rodata = [v for (v,) in words if MM_RODATA_START <= v < MM_RODATA_START + (1 << 20)]
    assert lddw_values and all(v in image for v in lddw_values)
    assert len(pointers_in_rodata) == 6 and all(v in image for v in pointers_in_rodata)  # OPS[3] + WORDS[3]


def test_callx_names_its_register_in_imm_as_sbpf_v0_reads_it(calls_so):
    callx = [insn for _, insn in text_insns(calls_so) if insn.opc == CALLX]
    assert callx and all(insn.imm == insn.dst and 0 <= insn.imm <= 9 for insn in callx)


def test_same_objects_link_to_identical_bytes(compile_c):
    objs = [compile_c("calls_main.c"), compile_c("calls_lib.c")]
    assert link(objs).so == link(objs).so


def test_output_does_not_depend_on_where_the_objects_were_built(compile_c, tmp_path):
    first = link([compile_c("hello.c")]).so
    moved = tmp_path / "elsewhere" / "hello.o"
    moved.parent.mkdir()
    moved.write_bytes(compile_c("hello.c").read_bytes())
    assert link([moved]).so == first


# ---- refusals -----------------------------------------------------------------------------------------------------

ENTRY = "u64 entrypoint(const u8 *in) { return run(in[0], in[1]); }\n"
REFUSALS = {
    "jmp32": (
        "v3",
        "__attribute__((noinline)) u64 run(unsigned a, unsigned b) { if ((int)a < (int)b) return 1; return 2; }\n"
        + ENTRY,
        ["jmp32-v3.o:.text", "<run+", "32-bit jump (opcode class 0x06", "-mcpu=v2"],
    ),
    "sdiv": (
        "v4",
        "__attribute__((noinline)) u64 run(long long a, long long b) { return (u64)(a / b); }\n" + ENTRY,
        ["sdiv-v4.o:.text", "<run+", "sdiv64 r", "signed division/modulo", "UNSIGNED"],
    ),
    "bss": (
        "v2",
        "u64 counter;\nu64 run(u64 a, u64 b) { counter += a + b; return counter; }\n" + ENTRY,
        ["bss-v2.o: writable section .bss", "symbols: counter", "static const"],
    ),
    "data": (
        "v2",
        "u64 seed = 7;\nu64 run(u64 a, u64 b) { seed += a * b; return seed; }\n" + ENTRY,
        ["data-v2.o: writable section .data", "symbols: seed"],
    ),
    "unknown_syscall": (
        "v2",
        "extern void sol_log_typo(const char *, u64);\n"
        "u64 run(u64 a, u64 b) { sol_log_typo(\"x\", 1); return a + b; }\n" + ENTRY,
        ["unknown_syscall-v2.o:.text", "<run+", "`call -1`", "unresolved symbol `sol_log_typo`", "not a Solana"],
    ),
    "libc_memcpy": (
        "v2",
        "extern void *memcpy(void *, const void *, u64);\n"
        "u64 run(u64 a, u64 b) { u8 x[64], y[64]; y[0] = (u8)b; memcpy(x, y, a); return x[0]; }\n" + ENTRY,
        ["unresolved symbol `memcpy`", "use sol_memcpy_"],
    ),
    "extern_data": (
        "v2",
        "extern const u64 TABLE[];\nu64 run(u64 a, u64 b) { return TABLE[a] + b; }\n" + ENTRY,
        ["lddw", "unresolved symbol `TABLE`"],
    ),
    "no_entrypoint": ("v2", "u64 run(u64 a, u64 b) { return a + b; }\n", ["no global function `entrypoint`"]),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_linker_refuses_what_sbpf_v0_cannot_run_and_says_where_and_why(compile_c, case):
    cpu, source, fragments = REFUSALS[case]
    obj = compile_c(source=source, name=case, cpu=cpu)
    with pytest.raises(LinkError) as exc:
        link([obj])
    message = str(exc.value)
    for fragment in fragments:
        assert fragment in message


def test_duplicate_global_definitions_are_refused(compile_c):
    a = compile_c(source="u64 twice(void) { return 1; }\n", name="dup_a")
    b = compile_c(source="u64 twice(void) { return 2; }\nu64 entrypoint(const u8 *i) { (void)i; return 0; }\n",
                  name="dup_b")  # fmt: skip
    with pytest.raises(LinkError, match=r"duplicate definition of `twice` in dup_a-v2\.o and dup_b-v2\.o"):
        link([a, b])


def test_a_non_bpf_input_is_refused(tmp_path):
    bogus = tmp_path / "bogus.o"
    bogus.write_bytes(b"not an object at all")
    with pytest.raises(LinkError, match=r"bogus\.o: not an ELF file"):
        link([bogus])


def test_every_problem_is_reported_at_once(compile_c):
    obj = compile_c(source=REFUSALS["bss"][1].replace("return counter;", 'sol_log_typo("x", 1); return counter;')
                    .replace("u64 counter;", "extern void sol_log_typo(const char *, u64);\nu64 counter;"),
                    name="many")  # fmt: skip
    with pytest.raises(LinkError) as exc:
        link([obj])
    problems = exc.value.problems
    assert any("writable section .bss" in p for p in problems)
    assert any("unresolved symbol `sol_log_typo`" in p for p in problems)
    assert not any("unresolved symbol `counter`" in p for p in problems)  # follows from the first; not repeated


def test_checker_flags_a_tampered_header_and_an_unknown_syscall_name(build_fixture):
    good = bytearray(build_fixture("hello.c"))
    flagged = bytearray(good)
    struct.pack_into("<I", flagged, 48, 1)  # e_flags = 1 (SBPF v1)
    assert any("e_flags 0" in p for p in check_so(bytes(flagged)))
    renamed = bytes(good).replace(b"sol_log_\0", b"sol_lox_\0")
    assert any("`sol_lox_` is not a syscall" in p for p in check_so(renamed))


def test_unknown_syscall_slips_past_add_program_but_not_a_real_deploy(compile_c, monkeypatch):
    """Why the allow-list exists: only the deploy path resolves syscall names."""
    obj = compile_c(source=REFUSALS["unknown_syscall"][1], name="unknown_syscall")
    monkeypatch.setattr(sbflink_linker, "SYSCALLS", SYSCALLS | {"sol_log_typo"})
    elf = link([obj]).so
    chain = Chain("all-features")
    chain.load(elf, "add_program")
    with pytest.raises(DeployError, match=r"Unresolved symbol \(sol_log_typo\)"):
        chain.load(elf, "deploy_upgradeable")


def test_deploy_records_the_upgrade_authority_and_the_program_data(build_fixture):
    chain = Chain("all-features")
    elf = build_fixture("hello.c")
    program, authority = Keypair(), Keypair()
    chain.svm.airdrop(authority.pubkey(), 1_000_000_000)
    deploy_upgradeable(chain.svm, chain.payer, program, authority, elf, max_data_len=2 * len(elf))
    account = chain.svm.get_account(program.pubkey())
    programdata = chain.svm.get_account(programdata_address(program.pubkey()))
    assert account.owner == BPF_LOADER_UPGRADEABLE_ID and account.executable
    assert account.data == struct.pack("<I", 2) + bytes(programdata_address(program.pubkey()))
    # ProgramData: tag 3, slot, Some(authority), then the ELF padded to max_data_len
    assert programdata.data[:4] == struct.pack("<I", 3)
    assert programdata.data[12:45] == b"\x01" + bytes(authority.pubkey())
    assert programdata.data[45:] == elf + bytes(len(elf))
    assert program_logs(chain.invoke(program.pubkey())) == ["Program log: hello from sbflink"]


# ---- command line -------------------------------------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "programs.sbflink", *args], capture_output=True, text=True,
                          check=False)  # fmt: skip


def test_cli_links_several_objects_and_reports_sizes(compile_c, tmp_path):
    out = tmp_path / "calls.so"
    res = run_cli(str(compile_c("calls_main.c")), str(compile_c("calls_lib.c")), "-o", str(out))
    assert res.returncode == 0, res.stderr
    assert "syscalls: sol_log_, sol_log_64_" in res.stdout
    assert run_cli("--check", str(out)).returncode == 0


def test_cli_fails_with_the_reason_and_writes_nothing(compile_c, tmp_path):
    out = tmp_path / "bad.so"
    res = run_cli(str(compile_c(source=REFUSALS["bss"][1], name="bss")), "-o", str(out))
    assert res.returncode == 1
    assert "sbflink: error: bss-v2.o: writable section .bss" in res.stderr
    assert not out.exists()


def test_cli_check_fails_on_a_broken_shared_object(build_fixture, tmp_path):
    broken = tmp_path / "broken.so"
    broken.write_bytes(bytes(build_fixture("hello.c")).replace(b"sol_log_\0", b"sol_lox_\0"))
    res = run_cli("--check", str(broken))
    assert res.returncode == 1 and "sol_lox_" in res.stderr


# ---- running in LiteSVM -------------------------------------------------------------------------------------------

LOADS = ["add_program", "deploy_upgradeable"]


@pytest.fixture(params=[(fs, via) for fs in FEATURE_SETS for via in LOADS], ids=lambda p: f"{p[0]}-{p[1]}")
def chain_and_via(request) -> tuple[Chain, str]:
    feature_set, via = request.param
    return Chain(feature_set), via


def test_hello_logs_its_rodata_string(chain_and_via, build_fixture):
    chain, via = chain_and_via
    program = chain.load(build_fixture("hello.c"), via)
    result = chain.invoke(program)
    assert not isinstance(result, FailedTransactionMetadata), logs_of(result)
    assert program_logs(result) == ["Program log: hello from sbflink"]


def test_calls_across_objects_function_pointers_and_switch(chain_and_via, build_fixture):
    chain, via = chain_and_via
    program = chain.load(build_fixture("calls_main.c", "calls_lib.c"), via)
    result = chain.invoke(program, bytes([2, 0, 1, 2]))
    assert not isinstance(result, FailedTransactionMetadata), logs_of(result)
    # OPS applied to 5 = 36; classify(2) = 317; inc(2), dbl(2), lib_scale(2)
    assert program_logs(result) == ["Program log: 0x24, 0x13d, 0x3, 0x4, 0x6", "Program log: two",
                                    "Program log: calls_lib"]  # fmt: skip


def test_log_data_emits_both_slices(chain_and_via, build_fixture):
    chain, via = chain_and_via
    program = chain.load(build_fixture("log_data.c"), via)
    result = chain.invoke(program)
    expected = " ".join(base64.b64encode(b).decode() for b in (b"event001", bytes([1, 2, 3, 4])))
    assert program_logs(result) == [f"Program data: {expected}"]


def test_pda_syscall_matches_find_program_address(chain_and_via, build_fixture):
    chain, via = chain_and_via
    program = chain.load(build_fixture("pda.c"), via)
    parent = Keypair().pubkey()
    result = chain.invoke(program, accounts=[AccountMeta(parent, False, False)])
    pda, bump = Pubkey.find_program_address([b"vault", bytes(parent)], program)
    assert program_logs(result) == [f"Program log: {pda}", f"Program log: {bump:#x}, 0x0, 0x0, 0x0, 0x0"]


def test_lamports_move_out_of_a_program_owned_account(chain_and_via, build_fixture):
    chain, via = chain_and_via
    program = chain.load(build_fixture("lamports.c"), via)
    vault, recipient = Keypair().pubkey(), Keypair().pubkey()
    rent_min = chain.svm.minimum_balance_for_rent_exemption(0)
    chain.svm.set_account(vault, Account(rent_min + 5_000, b"", program, False, 0))
    chain.svm.set_account(recipient, Account(rent_min, b"", Pubkey.default(), False, 0))
    result = chain.invoke(program, struct.pack("<Q", 5_000), [AccountMeta(vault, False, True),
                                                              AccountMeta(recipient, False, True)])  # fmt: skip
    assert not isinstance(result, FailedTransactionMetadata), logs_of(result)
    assert (chain.svm.get_balance(vault), chain.svm.get_balance(recipient)) == (rent_min, rent_min + 5_000)
