/* instructions.h -- one processor per instruction (one .c file each), dispatched by entrypoint.c. */
#ifndef EPHEMERAL_VAULT_INSTRUCTIONS_H
#define EPHEMERAL_VAULT_INSTRUCTIONS_H

#include "solana_abi.h"

uint64_t process_create_vault(const SolInput *in);
uint64_t process_approve_delegate(const SolInput *in);
uint64_t process_auto_deposit_for_trade(const SolInput *in);
uint64_t process_execute_trade(const SolInput *in);
uint64_t process_revoke_access(const SolInput *in);
uint64_t process_cleanup_vault(const SolInput *in);

#endif
