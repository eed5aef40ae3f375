/* approve_delegate(delegate: Pubkey)
 *
 * Accounts:
 *   0. [WRITE, SIGNER] parent          pays for the delegation; must equal vault.parent
 *   1. []              vault           EphemeralVault owned by this program, active and unexpired
 *   2. [WRITE]         delegation      PDA ["delegation", vault], canonical bump; must not exist yet
 *   3. []              system_program  11111111111111111111111111111111
 * Data:
 *   data[0..8]   discriminator sha256("global:approve_delegate")[:8]
 *   data[8..40]  delegate: Pubkey, must equal vault.delegate
 * Effect: delegation created rent-exempt (paid by parent): vault, delegate, approved_at = now, revoked_at = 0.
 *   Revocation is final: an existing delegation (live or revoked) is DelegationAlreadyExists. Emits DelegateApproved.
 */
#include "checks.h"
#include "constants.h"
#include "discriminators.h"
#include "events.h"
#include "instructions.h"
#include "runtime.h"

#define APPROVE_DELEGATE_DATA_LEN 40

uint64_t process_approve_delegate(const SolInput *in) {
    TRY(require_accounts(in, 4));
    TRY(require_data_len(in, APPROVE_DELEGATE_DATA_LEN));
    SolAccount *parent = in->accounts[0];
    SolAccount *vault = in->accounts[1];
    SolAccount *delegation = in->accounts[2];
    SolAccount *system_program = in->accounts[3];
    const SolPubkey *delegate = (const SolPubkey *)(in->data + 8);

    TRY(require_signer(parent));
    TRY(require_writable(parent));
    TRY(require_writable(delegation));
    TRY(require_distinct(parent, delegation));
    TRY(require_system_program(system_program));
    TRY(require_vault_account(vault, in->program_id));
    EphemeralVault *v = vault_view(vault);
    TRY(require_keys_equal(&v->parent, &parent->key, ERR_PARENT_MISMATCH));
    TRY(require_keys_equal(&v->delegate, delegate, ERR_DELEGATE_MISMATCH));
    const int64_t now = clock_now();
    TRY(require_live_session(v, now));

    SolSignerSeed seeds[3] = {
        {(const uint8_t *)DELEGATION_SEED, DELEGATION_SEED_LEN},
        {vault->key.x, PUBKEY_BYTES},
        {NULL, 1},
    };
    SolPubkey expected;
    uint8_t bump;
    if (sol_try_find_program_address(seeds, 2, in->program_id, &expected, &bump) != SUCCESS) return ERR_INVALID_PDA;
    TRY(require_keys_equal(&delegation->key, &expected, ERR_INVALID_PDA));
    seeds[2].addr = &bump;

    if (pubkey_eq(&delegation->owner, in->program_id) || delegation->data_len != 0)
        return ERR_DELEGATION_ALREADY_EXISTS;
    TRY(require_keys_equal(&delegation->owner, &system_program->key, ERR_INVALID_ACCOUNT_OWNER));

    const SolSignerSeeds delegation_signer = {seeds, 3};
    TRY(system_create_pda(parent, delegation, VAULT_DELEGATION_LEN, in->program_id, &delegation_signer));

    VaultDelegation *d = delegation_view(delegation);
    d->discriminator = ACCOUNT_VAULT_DELEGATION_DISC_U64;
    pubkey_copy(&d->vault, &vault->key);
    pubkey_copy(&d->delegate, delegate);
    d->approved_at = now;
    d->revoked_at = 0;
    d->bump = bump;

    emit_delegate_approved(&vault->key, delegate, now);
    return SUCCESS;
}
