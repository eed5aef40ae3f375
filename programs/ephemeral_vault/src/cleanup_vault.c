/* cleanup_vault()
 *
 * Accounts:
 *   0. [WRITE, SIGNER] cleaner     anyone; receives reward = min(CLEANUP_REWARD_CAP, lamports of both accounts)
 *   1. [WRITE]         parent      must equal vault.parent; receives everything else
 *   2. [WRITE]         vault       EphemeralVault owned by this program, expired (now >= session_expiry) or revoked
 *   3. [WRITE]         delegation  the VaultDelegation of this vault, or the not-yet-created PDA
 *                                  ["delegation", vault] (system-owned, empty; address verified by derivation)
 * Data:
 *   data[0..8]   discriminator sha256("global:cleanup_vault")[:8]
 * Effect: both program accounts closed -- lamports 0, data zeroed and length 0, owner = System Program -- so neither
 *   can be revived or read as a vault again. Emits VaultCleaned.
 */
#include "checks.h"
#include "constants.h"
#include "discriminators.h"
#include "events.h"
#include "instructions.h"
#include "runtime.h"

#define CLEANUP_VAULT_DATA_LEN 8

uint64_t process_cleanup_vault(const SolInput *in) {
    TRY(require_accounts(in, 4));
    TRY(require_data_len(in, CLEANUP_VAULT_DATA_LEN));
    SolAccount *cleaner = in->accounts[0];
    SolAccount *parent = in->accounts[1];
    SolAccount *vault = in->accounts[2];
    SolAccount *delegation = in->accounts[3];

    TRY(require_signer(cleaner));
    TRY(require_writable(cleaner));
    TRY(require_writable(parent));
    TRY(require_writable(vault));
    TRY(require_writable(delegation));
    TRY(require_all_distinct(in->accounts, 4));
    TRY(require_vault_account(vault, in->program_id));
    EphemeralVault *v = vault_view(vault);
    TRY(require_keys_equal(&v->parent, &parent->key, ERR_PARENT_MISMATCH));
    if (v->is_active && clock_now() < v->session_expiry) return ERR_SESSION_NOT_EXPIRED;

    bool delegation_exists = false;
    if (pubkey_is_zero(&delegation->owner)) {
        TRY(require_delegation_address(delegation, &vault->key, in->program_id));
    } else {
        TRY(require_delegation_account(delegation, in->program_id));
        TRY(require_keys_equal(&delegation_view(delegation)->vault, &vault->key, ERR_VAULT_MISMATCH));
        delegation_exists = true;
    }

    uint64_t total = vault->lamports;
    if (delegation_exists) TRY(checked_add_u64(total, delegation->lamports, &total));
    const uint64_t reward = total < CLEANUP_REWARD_CAP ? total : CLEANUP_REWARD_CAP;
    const uint64_t refunded = total - reward;
    uint64_t cleaner_after, parent_after;
    TRY(checked_add_u64(cleaner->lamports, reward, &cleaner_after));
    TRY(checked_add_u64(parent->lamports, refunded, &parent_after));

    cleaner->lamports = cleaner_after;
    parent->lamports = parent_after;
    close_account(vault);
    if (delegation_exists) close_account(delegation);

    emit_vault_cleaned(&vault->key, &parent->key, &cleaner->key, refunded, reward);
    return SUCCESS;
}
