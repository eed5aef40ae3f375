/* events.c -- event emitters. Each event is laid out in a u64 buffer: the discriminator, then the borsh fields
 * (pubkeys 32 bytes, integers little-endian). Every field of every event starts at a multiple of 8, so fields are
 * stored with aligned word writes; the word index of each field is its borsh offset / 8. */
#include "events.h"

#include "discriminators.h"

static void put_key(uint64_t *words, uint64_t word_index, const SolPubkey *key) {
    pubkey_copy((SolPubkey *)&words[word_index], key);
}

static void log_event(const uint64_t *words, uint64_t len) {
    SolBytes slice = {(const uint8_t *)words, len};
    sol_log_data(&slice, 1);
}

void emit_vault_created(const SolPubkey *vault, const SolPubkey *parent, const SolPubkey *delegate,
                        int64_t session_expiry, uint64_t max_deposit) {
    uint64_t w[15]; /* 8 + 3*32 + 8 + 8 = 120 bytes */
    w[0] = EVENT_VAULT_CREATED_DISC_U64;
    put_key(w, 1, vault);
    put_key(w, 5, parent);
    put_key(w, 9, delegate);
    w[13] = (uint64_t)session_expiry;
    w[14] = max_deposit;
    log_event(w, 120);
}

void emit_delegate_approved(const SolPubkey *vault, const SolPubkey *delegate, int64_t approved_at) {
    uint64_t w[10]; /* 8 + 2*32 + 8 = 80 */
    w[0] = EVENT_DELEGATE_APPROVED_DISC_U64;
    put_key(w, 1, vault);
    put_key(w, 5, delegate);
    w[9] = (uint64_t)approved_at;
    log_event(w, 80);
}

void emit_auto_deposit(const SolPubkey *vault, uint64_t amount, uint64_t total_deposited) {
    uint64_t w[7]; /* 8 + 32 + 8 + 8 = 56 */
    w[0] = EVENT_AUTO_DEPOSIT_DISC_U64;
    put_key(w, 1, vault);
    w[5] = amount;
    w[6] = total_deposited;
    log_event(w, 56);
}

void emit_trade_executed(const SolPubkey *vault, const EphemeralVault *v, uint64_t fee_lamports,
                         const uint8_t *trade_ref) {
    uint64_t w[14]; /* 8 + 2*32 + 3*8 + 16 = 112 */
    w[0] = EVENT_TRADE_EXECUTED_DISC_U64;
    put_key(w, 1, vault);
    put_key(w, 5, &v->delegate);
    w[9] = fee_lamports;
    w[10] = v->total_spent;
    w[11] = v->trade_count;
    w[12] = ((const uint64_t *)trade_ref)[0]; /* instruction data offset 16: 8-aligned in the input buffer */
    w[13] = ((const uint64_t *)trade_ref)[1];
    log_event(w, 112);
}

void emit_access_revoked(const SolPubkey *vault, const SolPubkey *parent, uint64_t refunded, int64_t revoked_at) {
    uint64_t w[11]; /* 8 + 2*32 + 8 + 8 = 88 */
    w[0] = EVENT_ACCESS_REVOKED_DISC_U64;
    put_key(w, 1, vault);
    put_key(w, 5, parent);
    w[9] = refunded;
    w[10] = (uint64_t)revoked_at;
    log_event(w, 88);
}

void emit_vault_cleaned(const SolPubkey *vault, const SolPubkey *parent, const SolPubkey *cleaner, uint64_t refunded,
                        uint64_t reward) {
    uint64_t w[15]; /* 8 + 3*32 + 8 + 8 = 120 */
    w[0] = EVENT_VAULT_CLEANED_DISC_U64;
    put_key(w, 1, vault);
    put_key(w, 5, parent);
    put_key(w, 9, cleaner);
    w[13] = refunded;
    w[14] = reward;
    log_event(w, 120);
}
