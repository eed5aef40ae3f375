/* constants.h -- every limit of the program, with the reason for its value.
 * Mirrored in the IDL `constants` (programs/ephemeral_vault/idl.py); tests/program/test_idl.py holds the two equal. */
#ifndef EPHEMERAL_VAULT_CONSTANTS_H
#define EPHEMERAL_VAULT_CONSTANTS_H

#define LAMPORTS_PER_SOL 1000000000ULL

/* A session shorter than a minute cannot even be opened, approved and funded before it lapses (a few slots each,
 * plus the wallet pop-up); it would only create rent churn for the cleaner. */
#define MIN_SESSION_DURATION 60LL

/* 24 h: a leaked ephemeral key is worthless after at most one day, and a trader re-opens a session daily with one
 * signature. Longer sessions only widen the window in which a stolen key can spend. */
#define MAX_SESSION_DURATION 86400LL

/* 1,000 SOL: a sanity ceiling on the float a parent can commit to one session, so a typo in max_deposit (lamports
 * vs SOL) cannot authorise an unbounded deposit. Fee reimbursement needs far less. */
#define MAX_DEPOSIT_LIMIT (1000ULL * LAMPORTS_PER_SOL)

/* 0.001 SOL: a 200k-CU trade at an extreme 5,000,000 micro-lamports/CU priority price plus its base fee fits; a
 * leaked key can burn at most this much per trade. */
#define MAX_FEE_PER_TRADE 1000000ULL

/* 10,000 lamports = two signature fees: cleaning up an expired vault is always worth a cleaner's transaction, and
 * never worth draining -- everything else goes back to the parent. */
#define CLEANUP_REWARD_CAP 10000ULL

/* PDA seeds (without their terminating NUL). */
#define VAULT_SEED "vault"
#define VAULT_SEED_LEN 5
#define DELEGATION_SEED "delegation"
#define DELEGATION_SEED_LEN 10

#endif
