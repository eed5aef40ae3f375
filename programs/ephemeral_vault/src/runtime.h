/* runtime.h -- what the program asks of the runtime: time, rent, and System Program CPIs. */
#ifndef EPHEMERAL_VAULT_RUNTIME_H
#define EPHEMERAL_VAULT_RUNTIME_H

#include "solana_abi.h"

/* Unix time from the Clock sysvar syscall (never from an account an attacker could pass). */
int64_t clock_now(void);

/* Rent-exempt minimum for `data_len` bytes from the Rent sysvar syscall; ERR_ARITHMETIC_OVERFLOW on overflow. */
uint64_t rent_exempt_minimum(uint64_t data_len, uint64_t *out);

/* Create the PDA `account` with `space` bytes owned by `owner`, holding exactly the rent-exempt minimum, paid by
 * `payer`. A PDA address someone pre-funded (System createAccount would refuse it) is handled: transfer the
 * shortfall, allocate, assign. `pda_signer` (seeds ending with the bump) signs for the PDA. */
uint64_t system_create_pda(SolAccount *payer, SolAccount *account, uint64_t space, const SolPubkey *owner,
                           const SolSignerSeeds *pda_signer);

/* System transfer `from` -> `to` (from must be a signer). */
uint64_t system_transfer(SolAccount *from, SolAccount *to, uint64_t lamports);

/* Close a program-owned account in place: data zeroed, length 0, lamports 0 (caller has moved them), owner = the
 * System Program. The runtime accepts the owner change because the data is empty and zeroed. */
void close_account(SolAccount *a);

#endif
