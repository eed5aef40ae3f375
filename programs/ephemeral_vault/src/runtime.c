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

static void put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* One System Program call. Account i is passed writable, and as a signer if bit i of `signer_mask` is set (a
 * transaction signer, or the PDA that `pda_signer` signs for). The caller has checked the System Program account. */
static uint64_t invoke_system(const SolBytes *data, SolAccount *const *accounts, uint64_t n, uint64_t signer_mask,
                              const SolSignerSeeds *pda_signer) {
    SolPubkey system_program_id;
    sol_memset_(&system_program_id, 0, sizeof(system_program_id));
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
    uint64_t buf[2]; /* u32 tag + u64 lamports = 12 bytes, 8-aligned storage */
    uint8_t *data = (uint8_t *)buf;
    put_u32(data, SYSTEM_TRANSFER);
    store_u64_le(data + 4, lamports);
    SolBytes ix_data = {data, 12};
    SolAccount *accounts[2] = {from, to};
    return invoke_system(&ix_data, accounts, 2, 1, NULL);
}

uint64_t system_create_pda(SolAccount *payer, SolAccount *account, uint64_t space, const SolPubkey *owner,
                           const SolSignerSeeds *pda_signer) {
    uint64_t lamports;
    TRY(rent_exempt_minimum(space, &lamports));
    uint64_t buf[7]; /* largest: createAccount = u32 + u64 + u64 + pubkey = 52 bytes */
    uint8_t *data = (uint8_t *)buf;
    SolBytes ix_data = {data, 0};
    if (account->lamports == 0) {
        put_u32(data, SYSTEM_CREATE_ACCOUNT);
        store_u64_le(data + 4, lamports);
        store_u64_le(data + 12, space);
        bytes_copy(data + 20, owner->x, PUBKEY_BYTES);
        ix_data.len = 52;
        SolAccount *accounts[2] = {payer, account};
        return invoke_system(&ix_data, accounts, 2, 3, pda_signer);
    }
    /* Pre-funded address: createAccount refuses an account with lamports, so build it in three steps. */
    if (account->lamports < lamports) TRY(system_transfer(payer, account, lamports - account->lamports));
    SolAccount *accounts[1] = {account};
    put_u32(data, SYSTEM_ALLOCATE);
    store_u64_le(data + 4, space);
    ix_data.len = 12;
    TRY(invoke_system(&ix_data, accounts, 1, 1, pda_signer));
    put_u32(data, SYSTEM_ASSIGN);
    bytes_copy(data + 4, owner->x, PUBKEY_BYTES);
    ix_data.len = 36;
    return invoke_system(&ix_data, accounts, 1, 1, pda_signer);
}

void close_account(SolAccount *a) {
    sol_memset_(account_data(a), 0, a->data_len);
    a->data_len = 0;
    a->lamports = 0;
    sol_memset_(&a->owner, 0, sizeof(SolPubkey));
}
