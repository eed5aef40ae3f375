/* checks.c -- composite named rules (see checks.h). */
#include "checks.h"

#include "constants.h"
#include "discriminators.h"

uint64_t require_vault_account(SolAccount *vault, const SolPubkey *program_id) {
    TRY(require_owner(vault, program_id));
    return require_discriminator(vault, ACCOUNT_EPHEMERAL_VAULT_DISC_U64, EPHEMERAL_VAULT_LEN);
}

uint64_t require_delegation_account(SolAccount *delegation, const SolPubkey *program_id) {
    TRY(require_owner(delegation, program_id));
    return require_discriminator(delegation, ACCOUNT_VAULT_DELEGATION_DISC_U64, VAULT_DELEGATION_LEN);
}

uint64_t require_live_session(const EphemeralVault *v, int64_t now) {
    if (!v->is_active) return ERR_VAULT_INACTIVE;
    if (now >= v->session_expiry) return ERR_SESSION_EXPIRED;
    return SUCCESS;
}

uint64_t require_delegation_address(const SolAccount *a, const SolPubkey *vault, const SolPubkey *program_id) {
    /* Never created means empty: a System-owned account holding data is no absent delegation (look-alike). */
    if (a->data_len != 0) return ERR_INVALID_ACCOUNT_OWNER;
    const SolSignerSeed seeds[2] = {
        {(const uint8_t *)DELEGATION_SEED, DELEGATION_SEED_LEN},
        {vault->x, PUBKEY_BYTES},
    };
    SolPubkey expected;
    uint8_t bump;
    if (sol_try_find_program_address(seeds, 2, program_id, &expected, &bump) != SUCCESS) return ERR_INVALID_PDA;
    return require_keys_equal(&a->key, &expected, ERR_INVALID_PDA);
}

uint64_t require_all_distinct(SolAccount *const *accounts, uint64_t n) {
    for (uint64_t i = 0; i < n; i++)
        for (uint64_t j = i + 1; j < n; j++) TRY(require_distinct(accounts[i], accounts[j]));
    return SUCCESS;
}
