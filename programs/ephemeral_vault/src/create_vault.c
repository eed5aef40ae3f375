/* create_vault(session_duration: i64, max_deposit: u64)
 *
 * Accounts:
 *   0. [WRITE, SIGNER] parent          pays for the vault; recorded as vault.parent (every refund goes there)
 *   1. []              delegate        the ephemeral session pubkey; it does not sign
 *   2. [WRITE]         vault           PDA ["vault", parent, delegate], canonical bump; must not exist yet
 *   3. []              system_program  11111111111111111111111111111111
 * Data:
 *   data[0..8]   discriminator sha256("global:create_vault")[:8]
 *   data[8..16]  session_duration: i64 LE, in [MIN_SESSION_DURATION, MAX_SESSION_DURATION]
 *   data[16..24] max_deposit: u64 LE, in [1, MAX_DEPOSIT_LIMIT]
 * Effect: vault created rent-exempt (paid by parent), owned by this program; created_at = last_activity = now,
 *   session_expiry = now + session_duration, is_active = true. Emits VaultCreated.
 */
#include "checks.h"
#include "constants.h"
#include "discriminators.h"
#include "events.h"
#include "instructions.h"
#include "runtime.h"

#define CREATE_VAULT_DATA_LEN 24

uint64_t process_create_vault(const SolInput *in) {
    TRY(require_accounts(in, 4));
    TRY(require_data_len(in, CREATE_VAULT_DATA_LEN));
    SolAccount *parent = in->accounts[0];
    SolAccount *delegate = in->accounts[1];
    SolAccount *vault = in->accounts[2];
    SolAccount *system_program = in->accounts[3];
    const int64_t session_duration = *(const int64_t *)(in->data + 8);
    const uint64_t max_deposit = *(const uint64_t *)(in->data + 16);

    TRY(require_signer(parent));
    TRY(require_writable(parent));
    TRY(require_writable(vault));
    TRY(require_distinct(parent, vault));
    TRY(require_system_program(system_program));
    if (session_duration < MIN_SESSION_DURATION || session_duration > MAX_SESSION_DURATION)
        return ERR_INVALID_SESSION_DURATION;
    if (max_deposit == 0 || max_deposit > MAX_DEPOSIT_LIMIT) return ERR_INVALID_MAX_DEPOSIT;

    /* Canonical bump only: the address must be the one sol_try_find_program_address returns. */
    SolSignerSeed seeds[4] = {
        {(const uint8_t *)VAULT_SEED, VAULT_SEED_LEN},
        {parent->key.x, PUBKEY_BYTES},
        {delegate->key.x, PUBKEY_BYTES},
        {NULL, 1},
    };
    SolPubkey expected;
    uint8_t bump;
    if (sol_try_find_program_address(seeds, 3, in->program_id, &expected, &bump) != SUCCESS) return ERR_INVALID_PDA;
    TRY(require_keys_equal(&vault->key, &expected, ERR_INVALID_PDA));
    seeds[3].addr = &bump;

    /* Re-initialisation: ours already, or anything holding data, is an existing vault. */
    if (pubkey_eq(&vault->owner, in->program_id) || vault->data_len != 0) return ERR_VAULT_ALREADY_EXISTS;
    TRY(require_keys_equal(&vault->owner, &system_program->key, ERR_INVALID_ACCOUNT_OWNER));

    const int64_t now = clock_now();
    int64_t session_expiry;
    if (__builtin_add_overflow(now, session_duration, &session_expiry)) return ERR_ARITHMETIC_OVERFLOW;
    const SolSignerSeeds vault_signer = {seeds, 4};
    TRY(system_create_pda(parent, vault, EPHEMERAL_VAULT_LEN, in->program_id, &vault_signer));

    EphemeralVault *v = vault_view(vault);
    v->discriminator = ACCOUNT_EPHEMERAL_VAULT_DISC_U64;
    pubkey_copy(&v->parent, &parent->key);
    pubkey_copy(&v->delegate, &delegate->key);
    v->created_at = now;
    v->session_expiry = session_expiry;
    v->max_deposit = max_deposit;
    v->total_deposited = 0;
    v->total_spent = 0;
    v->trade_count = 0;
    v->last_activity = now;
    v->is_active = 1;
    v->bump = bump;

    emit_vault_created(&vault->key, &parent->key, &delegate->key, session_expiry, max_deposit);
    return SUCCESS;
}
