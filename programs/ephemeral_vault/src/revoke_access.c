/* revoke_access()
 *
 * Accounts:
 *   0. [WRITE, SIGNER] parent      must equal vault.parent; receives the refund
 *   1. [WRITE]         vault       EphemeralVault owned by this program, active (expired is fine)
 *   2. [WRITE]         delegation  the VaultDelegation of this vault, or -- if the session was never approved --
 *                                  the not-yet-created PDA ["delegation", vault] (system-owned, empty; address
 *                                  verified by derivation)
 * Data:
 *   data[0..8]   discriminator sha256("global:revoke_access")[:8]
 * Effect: is_active = false; delegation.revoked_at = now (if it exists); every vault lamport above the rent-exempt
 *   minimum -> parent. Emits AccessRevoked.
 */
#include "checks.h"
#include "discriminators.h"
#include "events.h"
#include "instructions.h"
#include "runtime.h"

#define REVOKE_ACCESS_DATA_LEN 8

uint64_t process_revoke_access(const SolInput *in) {
    TRY(require_accounts(in, 3));
    TRY(require_data_len(in, REVOKE_ACCESS_DATA_LEN));
    SolAccount *parent = in->accounts[0];
    SolAccount *vault = in->accounts[1];
    SolAccount *delegation = in->accounts[2];

    TRY(require_signer(parent));
    TRY(require_writable(parent));
    TRY(require_writable(vault));
    TRY(require_writable(delegation));
    TRY(require_all_distinct(in->accounts, 3));
    TRY(require_vault_account(vault, in->program_id));
    EphemeralVault *v = vault_view(vault);
    TRY(require_keys_equal(&v->parent, &parent->key, ERR_PARENT_MISMATCH));
    if (!v->is_active) return ERR_VAULT_INACTIVE;

    VaultDelegation *d = NULL;
    if (pubkey_is_zero(&delegation->owner)) {
        TRY(require_delegation_address(delegation, &vault->key, in->program_id));
    } else {
        TRY(require_delegation_account(delegation, in->program_id));
        d = delegation_view(delegation);
        TRY(require_keys_equal(&d->vault, &vault->key, ERR_VAULT_MISMATCH));
    }

    const int64_t now = clock_now();
    uint64_t rent_minimum;
    TRY(rent_exempt_minimum(EPHEMERAL_VAULT_LEN, &rent_minimum));
    uint64_t refunded = vault->lamports > rent_minimum ? vault->lamports - rent_minimum : 0;
    uint64_t parent_after;
    TRY(checked_add_u64(parent->lamports, refunded, &parent_after));

    vault->lamports -= refunded;
    parent->lamports = parent_after;
    v->is_active = 0;
    if (d) d->revoked_at = now;

    emit_access_revoked(&vault->key, &parent->key, refunded, now);
    return SUCCESS;
}
