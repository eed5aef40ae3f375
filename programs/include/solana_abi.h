/* solana_abi.h -- the small slice of the Solana runtime ABI our freestanding C programs need.
 *
 * Written from the runtime's documented behaviour (SBPF v0, BPFLoaderUpgradeable "aligned" input serialisation,
 * the C-ABI syscalls). No libc: fixed-width types are declared here, every copy goes through a syscall or a loop.
 *
 * Input buffer (aligned loader-v3 layout), as the runtime writes it at the address in r1:
 *   u64 num_accounts
 *   per account i:
 *     u8 dup_info            0xff = first occurrence, otherwise the index of the earlier account it duplicates
 *       first occurrence:  u8 is_signer, u8 is_writable, u8 executable, u8[4] original_data_len (padding to 8),
 *                          [32] key, [32] owner, u64 lamports, u64 data_len, data[data_len],
 *                          [MAX_PERMITTED_DATA_INCREASE] realloc space, padding to 8, u64 rent_epoch
 *       duplicate:         u8[7] padding
 *   u64 instruction_data_len, instruction_data[len], [32] program_id
 *
 * An account is viewed in place (SolAccount*): its lamports, data_len, owner and data are written back by the
 * runtime when the program returns, so a program changes accounts simply by writing through the view.
 */
#ifndef SOLANA_ABI_H
#define SOLANA_ABI_H

typedef unsigned char uint8_t;
typedef unsigned short uint16_t;
typedef unsigned int uint32_t;
typedef unsigned long long uint64_t;
typedef signed long long int64_t;
typedef uint64_t size_t;
typedef uint8_t bool;
#define true 1
#define false 0
#define NULL ((void *)0)

#define STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#define OFFSET_OF(type, field) __builtin_offsetof(type, field)

#define SUCCESS 0ULL
#define PUBKEY_BYTES 32
#define MAX_PERMITTED_DATA_INCREASE (10 * 1024)
#define NON_DUP_MARKER 0xff

/* Bytes the runtime charges rent for on top of an account's data (solana_rent::ACCOUNT_STORAGE_OVERHEAD). */
#define ACCOUNT_STORAGE_OVERHEAD 128ULL

typedef struct {
    uint8_t x[PUBKEY_BYTES];
} SolPubkey;

/* One serialised (non-duplicate) account header; its data follows immediately. */
typedef struct {
    uint8_t dup_info;
    uint8_t is_signer;
    uint8_t is_writable;
    uint8_t executable;
    uint8_t original_data_len[4];
    SolPubkey key;
    SolPubkey owner;
    uint64_t lamports;
    uint64_t data_len;
} SolAccount;
STATIC_ASSERT(OFFSET_OF(SolAccount, key) == 8, "serialised key offset");
STATIC_ASSERT(OFFSET_OF(SolAccount, owner) == 40, "serialised owner offset");
STATIC_ASSERT(OFFSET_OF(SolAccount, lamports) == 72, "serialised lamports offset");
STATIC_ASSERT(OFFSET_OF(SolAccount, data_len) == 80, "serialised data_len offset");
STATIC_ASSERT(sizeof(SolAccount) == 88, "serialised account header size");

static inline uint8_t *account_data(SolAccount *a) { return (uint8_t *)a + sizeof(SolAccount); }

/* Instructions here take at most this many accounts; extra accounts are walked past but not kept. */
#define MAX_VIEWED_ACCOUNTS 8

typedef struct {
    uint64_t num_accounts;               /* as serialised (may exceed MAX_VIEWED_ACCOUNTS) */
    SolAccount *accounts[MAX_VIEWED_ACCOUNTS]; /* duplicates point at the record of their first occurrence */
    const uint8_t *data;
    uint64_t data_len;
    const SolPubkey *program_id;
} SolInput;

/* Walk the input buffer once. Duplicate entries resolve to the same SolAccount*, so pointer equality is key
 * equality: that is what duplicate-account checks compare. */
static inline void sol_deserialize_input(uint8_t *input, SolInput *out) {
    uint64_t n = *(uint64_t *)input;
    uint8_t *p = input + sizeof(uint64_t);
    out->num_accounts = n;
    for (uint64_t i = 0; i < n; i++) {
        SolAccount *a = (SolAccount *)p;
        if (a->dup_info == NON_DUP_MARKER) {
            if (i < MAX_VIEWED_ACCOUNTS) out->accounts[i] = a;
            uint64_t len = a->data_len;
            p += sizeof(SolAccount) + len + MAX_PERMITTED_DATA_INCREASE;
            p = (uint8_t *)(((uint64_t)p + 7) & ~7ULL);
            p += sizeof(uint64_t); /* rent_epoch */
        } else {
            if (i < MAX_VIEWED_ACCOUNTS) out->accounts[i] = out->accounts[a->dup_info];
            p += 8;
        }
    }
    out->data_len = *(uint64_t *)p;
    p += sizeof(uint64_t);
    out->data = p;
    out->program_id = (const SolPubkey *)(p + out->data_len);
}

/* ---- syscalls (resolved by name at load time) -------------------------------------------------------------- */

typedef struct {
    const uint8_t *addr;
    uint64_t len;
} SolBytes;

typedef SolBytes SolSignerSeed;

typedef struct {
    const SolSignerSeed *addr;
    uint64_t len;
} SolSignerSeeds;

typedef struct {
    SolPubkey *pubkey;
    bool is_writable;
    bool is_signer;
} SolAccountMeta;

typedef struct {
    SolPubkey *program_id;
    SolAccountMeta *accounts;
    uint64_t account_len;
    uint8_t *data;
    uint64_t data_len;
} SolInstruction;

/* Account info as the C-ABI CPI syscall reads it. */
typedef struct {
    SolPubkey *key;
    uint64_t *lamports;
    uint64_t data_len;
    uint8_t *data;
    SolPubkey *owner;
    uint64_t rent_epoch;
    bool is_signer;
    bool is_writable;
    bool executable;
} SolAccountInfo;
STATIC_ASSERT(sizeof(SolAccountInfo) == 56, "C-ABI account info size");

/* Clock sysvar (solana_clock::Clock). */
typedef struct {
    uint64_t slot;
    int64_t epoch_start_timestamp;
    uint64_t epoch;
    uint64_t leader_schedule_epoch;
    int64_t unix_timestamp;
} SolClock;
STATIC_ASSERT(sizeof(SolClock) == 40, "Clock size");

/* Rent sysvar (solana_rent::Rent, repr(C)): exemption_threshold is an IEEE-754 f64, kept as raw bits because
 * SBPF has no floating point. */
typedef struct {
    uint64_t lamports_per_byte_year;
    uint64_t exemption_threshold_bits;
    uint8_t burn_percent;
    uint8_t _pad[7];
} SolRent;
STATIC_ASSERT(sizeof(SolRent) == 24, "Rent size");

extern void sol_log_(const char *message, uint64_t len);
extern void sol_log_64_(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t);
extern void sol_log_pubkey(const SolPubkey *pubkey);
extern void sol_log_data(const SolBytes *slices, uint64_t count);
extern void sol_log_compute_units_(void);
extern uint64_t sol_invoke_signed_c(const SolInstruction *instruction, const SolAccountInfo *account_infos,
                                    int account_infos_len, const SolSignerSeeds *signers_seeds,
                                    int signers_seeds_len);
extern uint64_t sol_create_program_address(const SolSignerSeed *seeds, int seeds_len, const SolPubkey *program_id,
                                           SolPubkey *address);
extern uint64_t sol_try_find_program_address(const SolSignerSeed *seeds, int seeds_len,
                                             const SolPubkey *program_id, SolPubkey *address, uint8_t *bump_seed);
extern uint64_t sol_get_clock_sysvar(void *clock);
extern uint64_t sol_get_rent_sysvar(void *rent);
extern void *sol_memcpy_(void *dst, const void *src, uint64_t n);
extern void *sol_memset_(void *dst, int c, uint64_t n);
extern int sol_memcmp_(const void *a, const void *b, uint64_t n, int *result);
extern void sol_sha256(const SolBytes *slices, uint64_t count, uint8_t *result);
extern void sol_set_return_data(const uint8_t *data, uint64_t len);

#define sol_log(literal) sol_log_((literal), sizeof(literal) - 1)

/* ---- small helpers ----------------------------------------------------------------------------------------- */

/* 32-byte key equality as four 8-byte compares: cheaper than a sol_memcmp_ syscall (100 CU). Keys in the input
 * buffer and in account data are 8-byte aligned wherever this is used; the loads are unaligned-safe on SBPF anyway. */
static inline bool pubkey_eq(const SolPubkey *a, const SolPubkey *b) {
    const uint64_t *x = (const uint64_t *)a;
    const uint64_t *y = (const uint64_t *)b;
    return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3])) == 0;
}

static inline void pubkey_copy(SolPubkey *dst, const SolPubkey *src) {
    uint64_t *d = (uint64_t *)dst;
    const uint64_t *s = (const uint64_t *)src;
    d[0] = s[0];
    d[1] = s[1];
    d[2] = s[2];
    d[3] = s[3];
}

static inline void pubkey_zero(SolPubkey *a) {
    uint64_t *x = (uint64_t *)a;
    x[0] = 0;
    x[1] = 0;
    x[2] = 0;
    x[3] = 0;
}

static inline bool pubkey_is_zero(const SolPubkey *a) {
    const uint64_t *x = (const uint64_t *)a;
    return (x[0] | x[1] | x[2] | x[3]) == 0;
}

#define F64_BITS_ONE 0x3ff0000000000000ULL
#define F64_BITS_TWO 0x4000000000000000ULL

/* Rent::minimum_balance(data_len) = ((OVERHEAD + data_len) * lamports_per_byte_year) as f64 * exemption_threshold,
 * truncated. SBPF has no floating point, so the f64 threshold (mantissa m, 53 bits, times 2^e) is applied in exact
 * integer arithmetic: equal to the runtime's float result whenever the product is exact, which holds for every
 * threshold the runtime has used (2.0, and 1.0 after SIMD-0194) and every size this program allocates. m is split
 * into 27 + 26 bits so that, with base < 2^32, no partial product exceeds 64 bits (clang would otherwise fuse a
 * wide multiply into a 128-bit libcall SBPF does not have). *overflow set for anything outside that range. */
static inline uint64_t rent_minimum_balance(const SolRent *rent, uint64_t data_len, bool *overflow) {
    uint64_t bytes = ACCOUNT_STORAGE_OVERHEAD + data_len;
    if (bytes >> 32 || rent->lamports_per_byte_year >> 32) {
        *overflow = true;
        return 0;
    }
    uint64_t base = bytes * rent->lamports_per_byte_year;
    uint64_t bits = rent->exemption_threshold_bits;
    if (bits == F64_BITS_TWO) return base << 1; /* the threshold every cluster uses today: skip the general path */
    if (bits == F64_BITS_ONE) return base;      /* SIMD-0194's threshold */
    uint64_t exp_bits = (bits >> 52) & 0x7ff;
    if (bits >> 63 || exp_bits == 0x7ff || base >> 32) {
        *overflow = true; /* negative, infinite or NaN threshold, or a base we cannot multiply exactly */
        return 0;
    }
    if (exp_bits == 0) return 0; /* zero or subnormal threshold */
    uint64_t mantissa = (bits & ((1ULL << 52) - 1)) | (1ULL << 52);
    /* threshold = mantissa / 2^shr with shr = 1075 - exp_bits */
    if (exp_bits > 1075 - 26) {
        *overflow = true; /* threshold >= 2^27: not a rent threshold */
        return 0;
    }
    uint64_t shr = 1075 - exp_bits;
    if (shr >= 26 + 64) return 0;
    uint64_t hi = base * (mantissa >> 26);               /* < 2^59 */
    uint64_t lo = base * (mantissa & ((1ULL << 26) - 1)); /* < 2^58 */
    /* floor((hi * 2^26 + lo) / 2^shr) == floor((hi + floor(lo / 2^26)) / 2^(shr - 26)) */
    uint64_t sum = hi + (lo >> 26);
    uint64_t k = shr - 26;
    return k >= 64 ? 0 : sum >> k;
}

#endif /* SOLANA_ABI_H */
