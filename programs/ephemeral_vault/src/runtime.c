/* runtime.c -- sysvars through syscalls, System Program CPIs through sol_invoke_signed_c. */
#include "runtime.h"

#include "errors.h"

int64_t clock_now(void) {
    SolClock clock;
    sol_get_clock_sysvar(&clock);
    return clock.unix_timestamp;
}

uint64_t rent_exempt_minimum(uint64_t data_len, uint64_t *out) {
    SolRent rent;
    sol_get_rent_sysvar(&rent);
    bool overflow = false;
    *out = rent_minimum_balance(&rent, data_len, &overflow);
    return overflow ? ERR_ARITHMETIC_OVERFLOW : SUCCESS;
}

/* System Program instruction indices (solana_system_interface::SystemInstruction, bincode u32 tag). */
#define SYSTEM_CREATE_ACCOUNT 0
#define SYSTEM_ASSIGN 1
#define SYSTEM_TRANSFER 2
#define SYSTEM_ALLOCATE 8

static void account_info_from(SolAccountInfo *info, SolAccount *a) {
    info->key = &a->key;
    info->lamports = &a->lamports;
    info->data_len = a->data_len;
    info->data = account_data(a);
    info->owner = &a->owner;
    info->rent_epoch = 0;
    info->is_signer = a->is_signer;
    info->is_writable = a->is_writable;
    info->executable = a->executable;
}

/* System instruction data is a u32 tag followed by u64s and pubkeys. Placing the tag at offset 4 of an 8-aligned
 * buffer puts every later field on an 8-byte boundary, so each is one aligned word store instead of a byte loop. */
typedef struct {
    uint32_t _pad;
    uint32_t tag;
    uint64_t words[6]; /* createAccount: lamports, space, owner (4 words) = the largest body */
} SystemIxData;

static inline SolBytes system_ix_bytes(const SystemIxData *d, uint64_t len) {
    SolBytes b = {(const uint8_t *)&d->tag, len};
    return b;
}

/* One System Program call. Account i is passed writable, and as a signer if bit i of `signer_mask` is set (a
 * transaction signer, or the PDA that `pda_signer` signs for). The caller has checked the System Program account. */
static uint64_t invoke_system(const SolBytes *data, SolAccount *const *accounts, uint64_t n, uint64_t signer_mask,
                              const SolSignerSeeds *pda_signer) {
    SolPubkey system_program_id;
    pubkey_zero(&system_program_id);
    SolAccountMeta metas[2];
    SolAccountInfo infos[2];
    for (uint64_t i = 0; i < n; i++) {
        metas[i].pubkey = &accounts[i]->key;
        metas[i].is_writable = true;
        metas[i].is_signer = (signer_mask >> i) & 1;
        account_info_from(&infos[i], accounts[i]);
    }
    SolInstruction ix = {&system_program_id, metas, n, (uint8_t *)data->addr, data->len};
    return sol_invoke_signed_c(&ix, infos, (int)n, pda_signer, pda_signer ? 1 : 0);
}

uint64_t system_transfer(SolAccount *from, SolAccount *to, uint64_t lamports) {
    SystemIxData d;
    d.tag = SYSTEM_TRANSFER;
    d.words[0] = lamports;
    SolBytes ix_data = system_ix_bytes(&d, 12);
    SolAccount *accounts[2] = {from, to};
    return invoke_system(&ix_data, accounts, 2, 1, NULL);
}

uint64_t system_create_pda(SolAccount *payer, SolAccount *account, uint64_t space, const SolPubkey *owner,
                           const SolSignerSeeds *pda_signer) {
    uint64_t lamports;
    TRY(rent_exempt_minimum(space, &lamports));
    SystemIxData d;
    if (account->lamports == 0) {
        d.tag = SYSTEM_CREATE_ACCOUNT;
        d.words[0] = lamports;
        d.words[1] = space;
        pubkey_copy((SolPubkey *)&d.words[2], owner);
        SolBytes ix_data = system_ix_bytes(&d, 52);
        SolAccount *accounts[2] = {payer, account};
        return invoke_system(&ix_data, accounts, 2, 3, pda_signer);
    }
    /* Pre-funded address: createAccount refuses an account with lamports, so build it in three steps. */
    if (account->lamports < lamports) TRY(system_transfer(payer, account, lamports - account->lamports));
    SolAccount *accounts[1] = {account};
    d.tag = SYSTEM_ALLOCATE;
    d.words[0] = space;
    SolBytes ix_data = system_ix_bytes(&d, 12);
    TRY(invoke_system(&ix_data, accounts, 1, 1, pda_signer));
    d.tag = SYSTEM_ASSIGN;
    pubkey_copy((SolPubkey *)&d.words[0], owner);
    ix_data = system_ix_bytes(&d, 36);
    return invoke_system(&ix_data, accounts, 1, 1, pda_signer);
}

void close_account(SolAccount *a) {
    sol_memset_(account_data(a), 0, a->data_len); /* a memory syscall costs ~10 CU: cheaper than a store loop */
    a->data_len = 0;
    a->lamports = 0;
    pubkey_zero(&a->owner);
}
