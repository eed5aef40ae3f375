/* auto_deposit_for_trade(amount: u64)
 *
 * Accounts:
 *   0. [WRITE, SIGNER] parent          the source of the lamports; must equal vault.parent
 *   1. [WRITE]         vault           EphemeralVault owned by this program, active and unexpired
 *   2. []              system_program  11111111111111111111111111111111
 * Data:
 *   data[0..8]   discriminator sha256("global:auto_deposit_for_trade")[:8]
 *   data[8..16]  amount: u64 LE, > 0, total_deposited + amount <= max_deposit
 * Effect: System transfer parent -> vault of `amount`; total_deposited += amount. Emits AutoDeposit.
 */
#include "checks.h"
#include "discriminators.h"
#include "events.h"
#include "instructions.h"
#include "runtime.h"

#define AUTO_DEPOSIT_DATA_LEN 16

uint64_t process_auto_deposit_for_trade(const SolInput *in) {
    TRY(require_accounts(in, 3));
    TRY(require_data_len(in, AUTO_DEPOSIT_DATA_LEN));
    SolAccount *parent = in->accounts[0];
    SolAccount *vault = in->accounts[1];
    SolAccount *system_program = in->accounts[2];
    const uint64_t amount = *(const uint64_t *)(in->data + 8);

    TRY(require_signer(parent));
    TRY(require_writable(parent));
    TRY(require_writable(vault));
    TRY(require_distinct(parent, vault));
    TRY(require_system_program(system_program));
    TRY(require_vault_account(vault, in->program_id));
    EphemeralVault *v = vault_view(vault);
    TRY(require_keys_equal(&v->parent, &parent->key, ERR_PARENT_MISMATCH));
    if (amount == 0) return ERR_INVALID_AMOUNT;
    TRY(require_live_session(v, clock_now()));
    uint64_t total_deposited;
    TRY(checked_add_u64(v->total_deposited, amount, &total_deposited));
    if (total_deposited > v->max_deposit) return ERR_DEPOSIT_CAP_EXCEEDED;

    TRY(system_transfer(parent, vault, amount));
    v->total_deposited = total_deposited;

    emit_auto_deposit(&vault->key, amount, total_deposited);
    return SUCCESS;
}
