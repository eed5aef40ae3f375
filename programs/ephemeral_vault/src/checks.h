/* checks.h -- the named rules every instruction is made of. Each returns SUCCESS or one named error (errors.h), so
 * an instruction body reads as its list of rules: TRY(require_signer(parent)); TRY(require_owner(vault, id)); ...
 * The one-line rules are inline (they run on every call); the composite ones live in checks.c. */
#ifndef EPHEMERAL_VAULT_CHECKS_H
#define EPHEMERAL_VAULT_CHECKS_H

#include "solana_abi.h"
#include "errors.h"
#include "state.h"

static inline uint64_t require_accounts(const SolInput *in, uint64_t needed) {
    return in->num_accounts >= needed ? SUCCESS : ERR_MISSING_ACCOUNTS;
}

/* Borsh arguments have a fixed size here: anything else is malformed, including trailing bytes. */
static inline uint64_t require_data_len(const SolInput *in, uint64_t expected) {
    return in->data_len == expected ? SUCCESS : ERR_INVALID_INSTRUCTION_DATA;
}

static inline uint64_t require_signer(const SolAccount *a) {
    return a->is_signer ? SUCCESS : ERR_MISSING_SIGNER;
}

static inline uint64_t require_writable(const SolAccount *a) {
    return a->is_writable ? SUCCESS : ERR_ACCOUNT_NOT_WRITABLE;
}

static inline uint64_t require_owner(const SolAccount *a, const SolPubkey *owner) {
    return pubkey_eq(&a->owner, owner) ? SUCCESS : ERR_INVALID_ACCOUNT_OWNER;
}

/* Type check: long enough for the type and tagged with its discriminator (defeats type cosplay). */
static inline uint64_t require_discriminator(SolAccount *a, uint64_t discriminator, uint64_t min_len) {
    if (a->data_len < min_len) return ERR_INVALID_DISCRIMINATOR;
    return *(const uint64_t *)account_data(a) == discriminator ? SUCCESS : ERR_INVALID_DISCRIMINATOR;
}

static inline uint64_t require_keys_equal(const SolPubkey *a, const SolPubkey *b, uint64_t error) {
    return pubkey_eq(a, b) ? SUCCESS : error;
}

/* The runtime resolves a repeated account to the same record, so two positions holding one account compare equal
 * as pointers. Used on every pair of mutable positions. */
static inline uint64_t require_distinct(const SolAccount *a, const SolAccount *b) {
    return a != b ? SUCCESS : ERR_DUPLICATE_ACCOUNT;
}

/* The System Program id is 32 zero bytes. Checked before every CPI so a caller cannot substitute its own program. */
static inline uint64_t require_system_program(const SolAccount *a) {
    return pubkey_is_zero(&a->key) ? SUCCESS : ERR_INVALID_SYSTEM_PROGRAM;
}

static inline uint64_t checked_add_u64(uint64_t a, uint64_t b, uint64_t *out) {
    if (__builtin_add_overflow(a, b, out)) return ERR_ARITHMETIC_OVERFLOW;
    return SUCCESS;
}

static inline uint64_t checked_sub_u64(uint64_t a, uint64_t b, uint64_t *out) {
    if (__builtin_sub_overflow(a, b, out)) return ERR_ARITHMETIC_OVERFLOW;
    return SUCCESS;
}

/* Owner + discriminator + length of a vault: afterwards the stored keys can be trusted (only this program writes
 * such an account, and it verified the PDA when it created it). */
uint64_t require_vault_account(SolAccount *vault, const SolPubkey *program_id);
uint64_t require_delegation_account(SolAccount *delegation, const SolPubkey *program_id);

/* The vault is open for trading and deposits: active, and now < session_expiry. */
uint64_t require_live_session(const EphemeralVault *v, int64_t now);

/* `a` is the never-created delegation: empty (else InvalidAccountOwner) at the canonical PDA ["delegation", vault]
 * (else InvalidPda). Used when the delegation slot holds a System-owned account. */
uint64_t require_delegation_address(const SolAccount *a, const SolPubkey *vault, const SolPubkey *program_id);

/* Every pair among `n` accounts is distinct. */
uint64_t require_all_distinct(SolAccount *const *accounts, uint64_t n);

#endif
