/* execute_trade(fee_lamports: u64, trade_ref: [u8; 16])
 *
 * Accounts:
 *   0. [WRITE, SIGNER] delegate    the session key; must equal vault.delegate and delegation.delegate
 *   1. [WRITE]         vault       EphemeralVault owned by this program, active and unexpired
 *   2. []              delegation  VaultDelegation owned by this program, delegation.vault == vault, revoked_at == 0
 * Data:
 *   data[0..8]   discriminator sha256("global:execute_trade")[:8]
 *   data[8..16]  fee_lamports: u64 LE, <= MAX_FEE_PER_TRADE
 *   data[16..32] trade_ref: [u8; 16], the backend's trade id, echoed in the event
 * Rules: total_spent + fee <= total_deposited; the vault keeps at least its rent-exempt minimum.
 * Effect: fee_lamports vault -> delegate (fee reimbursement); total_spent += fee; trade_count += 1;
 *   last_activity = now. Emits TradeExecuted.
 */
#include "checks.h"
#include "constants.h"
#include "discriminators.h"
#include "events.h"
#include "instructions.h"
#include "runtime.h"

#define EXECUTE_TRADE_DATA_LEN 32

uint64_t process_execute_trade(const SolInput *in) {
    TRY(require_accounts(in, 3));
    TRY(require_data_len(in, EXECUTE_TRADE_DATA_LEN));
    SolAccount *delegate = in->accounts[0];
    SolAccount *vault = in->accounts[1];
    SolAccount *delegation = in->accounts[2];
    const uint64_t fee = *(const uint64_t *)(in->data + 8);
    const uint8_t *trade_ref = in->data + 16;

    TRY(require_signer(delegate));
    TRY(require_writable(delegate));
    TRY(require_writable(vault));
    TRY(require_distinct(delegate, vault));
    TRY(require_vault_account(vault, in->program_id));
    TRY(require_delegation_account(delegation, in->program_id));
    EphemeralVault *v = vault_view(vault);
    const VaultDelegation *d = delegation_view(delegation);
    TRY(require_keys_equal(&v->delegate, &delegate->key, ERR_DELEGATE_MISMATCH));
    TRY(require_keys_equal(&d->delegate, &delegate->key, ERR_DELEGATE_MISMATCH));
    TRY(require_keys_equal(&d->vault, &vault->key, ERR_VAULT_MISMATCH));
    if (d->revoked_at != 0) return ERR_DELEGATION_REVOKED;
    const int64_t now = clock_now();
    TRY(require_live_session(v, now));
    if (fee > MAX_FEE_PER_TRADE) return ERR_FEE_TOO_HIGH;
    uint64_t total_spent;
    TRY(checked_add_u64(v->total_spent, fee, &total_spent));
    if (total_spent > v->total_deposited) return ERR_SPEND_EXCEEDS_DEPOSITS;
    uint64_t rent_minimum;
    TRY(rent_exempt_minimum(EPHEMERAL_VAULT_LEN, &rent_minimum));
    uint64_t vault_after;
    if (checked_sub_u64(vault->lamports, fee, &vault_after) != SUCCESS || vault_after < rent_minimum)
        return ERR_INSUFFICIENT_VAULT_BALANCE;
    uint64_t delegate_after;
    TRY(checked_add_u64(delegate->lamports, fee, &delegate_after));
    uint64_t trade_count;
    TRY(checked_add_u64(v->trade_count, 1, &trade_count));

    vault->lamports = vault_after;
    delegate->lamports = delegate_after;
    v->total_spent = total_spent;
    v->trade_count = trade_count;
    v->last_activity = now;

    emit_trade_executed(&vault->key, v, fee, trade_ref);
    return SUCCESS;
}
