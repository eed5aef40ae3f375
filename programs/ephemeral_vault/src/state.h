/* state.h -- the program's accounts, viewed in place (zero-copy) in the account data.
 *
 * Layout is Anchor's: an 8-byte discriminator, then the borsh fields with no padding. Every multi-byte field sits at
 * an 8-byte-aligned offset, so the structs below use natural alignment (one load per field) and carry *tail*
 * padding only: the on-chain length (EPHEMERAL_VAULT_LEN, VAULT_DELEGATION_LEN) is the end of the last field, not
 * sizeof. The padding bytes are never read or written. The static assertions pin each offset; the IDL generator
 * computes the same numbers and tests/program/test_idl.py compares them with the assertions below. */
#ifndef EPHEMERAL_VAULT_STATE_H
#define EPHEMERAL_VAULT_STATE_H

#include "solana_abi.h"

typedef struct {
    uint64_t discriminator;
    SolPubkey parent;
    SolPubkey delegate;
    int64_t created_at;
    int64_t session_expiry;
    uint64_t max_deposit;
    uint64_t total_deposited;
    uint64_t total_spent;
    uint64_t trade_count;
    int64_t last_activity;
    uint8_t is_active;
    uint8_t bump;
} EphemeralVault;

#define EPHEMERAL_VAULT_LEN 130
STATIC_ASSERT(OFFSET_OF(EphemeralVault, discriminator) == 0, "EphemeralVault.discriminator");
STATIC_ASSERT(OFFSET_OF(EphemeralVault, parent) == 8, "EphemeralVault.parent");
STATIC_ASSERT(OFFSET_OF(EphemeralVault, delegate) == 40, "EphemeralVault.delegate");
STATIC_ASSERT(OFFSET_OF(EphemeralVault, created_at) == 72, "EphemeralVault.created_at");
STATIC_ASSERT(OFFSET_OF(EphemeralVault, session_expiry) == 80, "EphemeralVault.session_expiry");
STATIC_ASSERT(OFFSET_OF(EphemeralVault, max_deposit) == 88, "EphemeralVault.max_deposit");
STATIC_ASSERT(OFFSET_OF(EphemeralVault, total_deposited) == 96, "EphemeralVault.total_deposited");
STATIC_ASSERT(OFFSET_OF(EphemeralVault, total_spent) == 104, "EphemeralVault.total_spent");
STATIC_ASSERT(OFFSET_OF(EphemeralVault, trade_count) == 112, "EphemeralVault.trade_count");
STATIC_ASSERT(OFFSET_OF(EphemeralVault, last_activity) == 120, "EphemeralVault.last_activity");
STATIC_ASSERT(OFFSET_OF(EphemeralVault, is_active) == 128, "EphemeralVault.is_active");
STATIC_ASSERT(OFFSET_OF(EphemeralVault, bump) == 129, "EphemeralVault.bump");
STATIC_ASSERT(OFFSET_OF(EphemeralVault, bump) + sizeof(uint8_t) == EPHEMERAL_VAULT_LEN, "EphemeralVault length");

typedef struct {
    uint64_t discriminator;
    SolPubkey vault;
    SolPubkey delegate;
    int64_t approved_at;
    int64_t revoked_at;
    uint8_t bump;
} VaultDelegation;

#define VAULT_DELEGATION_LEN 89
STATIC_ASSERT(OFFSET_OF(VaultDelegation, discriminator) == 0, "VaultDelegation.discriminator");
STATIC_ASSERT(OFFSET_OF(VaultDelegation, vault) == 8, "VaultDelegation.vault");
STATIC_ASSERT(OFFSET_OF(VaultDelegation, delegate) == 40, "VaultDelegation.delegate");
STATIC_ASSERT(OFFSET_OF(VaultDelegation, approved_at) == 72, "VaultDelegation.approved_at");
STATIC_ASSERT(OFFSET_OF(VaultDelegation, revoked_at) == 80, "VaultDelegation.revoked_at");
STATIC_ASSERT(OFFSET_OF(VaultDelegation, bump) == 88, "VaultDelegation.bump");
STATIC_ASSERT(OFFSET_OF(VaultDelegation, bump) + sizeof(uint8_t) == VAULT_DELEGATION_LEN, "VaultDelegation length");

static inline EphemeralVault *vault_view(SolAccount *a) { return (EphemeralVault *)account_data(a); }
static inline VaultDelegation *delegation_view(SolAccount *a) { return (VaultDelegation *)account_data(a); }

#endif
