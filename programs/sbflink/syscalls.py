"""Names of the syscalls a Solana validator registers for SBPF programs (loader v3, SBPF v0).

The loader resolves a syscall by the murmur3 hash of its name; a name missing from the validator's registry makes
the deploy fail with "Unresolved symbol" (while `LiteSVM.add_program` would accept it). Refusing unknown names here
turns that deploy-time failure into a link-time error that names the call site.

Deliberately absent: `sol_alloc_free_` (not deployable on current clusters) and the deprecated `sol_get_fees_sysvar`.
"""

SYSCALLS: frozenset[str] = frozenset(
    {
        "abort",
        "sol_panic_",
        "sol_log_",
        "sol_log_64_",
        "sol_log_compute_units_",
        "sol_log_pubkey",
        "sol_log_data",
        "sol_create_program_address",
        "sol_try_find_program_address",
        "sol_sha256",
        "sol_keccak256",
        "sol_blake3",
        "sol_secp256k1_recover",
        "sol_curve_validate_point",
        "sol_curve_group_op",
        "sol_curve_multiscalar_mul",
        "sol_get_clock_sysvar",
        "sol_get_epoch_schedule_sysvar",
        "sol_get_rent_sysvar",
        "sol_get_epoch_rewards_sysvar",
        "sol_get_last_restart_slot",
        "sol_get_sysvar",
        "sol_get_epoch_stake",
        "sol_memcpy_",
        "sol_memmove_",
        "sol_memcmp_",
        "sol_memset_",
        "sol_invoke_signed_c",
        "sol_invoke_signed_rust",
        "sol_set_return_data",
        "sol_get_return_data",
        "sol_get_processed_sibling_instruction",
        "sol_get_stack_height",
        "sol_remaining_compute_units",
        "sol_alt_bn128_group_op",
        "sol_alt_bn128_compression",
        "sol_big_mod_exp",
        "sol_poseidon",
    }
)

# Library routines clang emits calls to on its own; an unresolved reference to one of these gets a hint.
COMPILER_RUNTIME_HINTS: dict[str, str] = {
    "memcpy": "clang lowered a struct copy or memcpy of non-constant size to a libc call; use sol_memcpy_",
    "memmove": "clang emitted a libc memmove call; use sol_memmove_",
    "memset": "clang lowered a zero-initialisation or memset of non-constant size to a libc call; use sol_memset_",
    "memcmp": "clang emitted a libc memcmp call; use sol_memcmp_",
    "__multi3": "128-bit multiplication needs compiler-rt, which is not linked; avoid __int128",
    "__udivti3": "128-bit division needs compiler-rt, which is not linked; avoid __int128",
    "__umodti3": "128-bit modulo needs compiler-rt, which is not linked; avoid __int128",
    "__divti3": "128-bit division needs compiler-rt, which is not linked; avoid __int128",
}
