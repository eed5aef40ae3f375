/* entrypoint.c -- deserialise the input once, dispatch on the 8-byte Anchor instruction discriminator. */
#include "discriminators.h"
#include "errors.h"
#include "instructions.h"

uint64_t entrypoint(uint8_t *input) {
    SolInput in;
    sol_deserialize_input(input, &in);
    if (in.data_len < 8) return ERR_INVALID_INSTRUCTION_DATA;
    switch (*(const uint64_t *)in.data) {
        case IX_CREATE_VAULT_DISC_U64:
            return process_create_vault(&in);
        case IX_APPROVE_DELEGATE_DISC_U64:
            return process_approve_delegate(&in);
        case IX_AUTO_DEPOSIT_FOR_TRADE_DISC_U64:
            return process_auto_deposit_for_trade(&in);
        case IX_EXECUTE_TRADE_DISC_U64:
            return process_execute_trade(&in);
        case IX_REVOKE_ACCESS_DISC_U64:
            return process_revoke_access(&in);
        case IX_CLEANUP_VAULT_DISC_U64:
            return process_cleanup_vault(&in);
        default:
            return ERR_INVALID_INSTRUCTION_DATA;
    }
}
