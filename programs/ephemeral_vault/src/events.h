/* events.h -- Anchor-style events: sol_log_data of one slice, discriminator sha256("event:<Name>")[:8] followed by
 * the borsh fields, so clients decode "Program data: <base64>" log lines through the IDL. */
#ifndef EPHEMERAL_VAULT_EVENTS_H
#define EPHEMERAL_VAULT_EVENTS_H

#include "solana_abi.h"
#include "state.h"

void emit_vault_created(const SolPubkey *vault, const SolPubkey *parent, const SolPubkey *delegate,
                        int64_t session_expiry, uint64_t max_deposit);
void emit_delegate_approved(const SolPubkey *vault, const SolPubkey *delegate, int64_t approved_at);
void emit_auto_deposit(const SolPubkey *vault, uint64_t amount, uint64_t total_deposited);
/* After the trade is applied: delegate, total_spent and trade_count are read from the updated vault `v`. */
void emit_trade_executed(const SolPubkey *vault, const EphemeralVault *v, uint64_t fee_lamports,
                         const uint8_t *trade_ref);
void emit_access_revoked(const SolPubkey *vault, const SolPubkey *parent, uint64_t refunded, int64_t revoked_at);
void emit_vault_cleaned(const SolPubkey *vault, const SolPubkey *parent, const SolPubkey *cleaner, uint64_t refunded,
                        uint64_t reward);

#endif
