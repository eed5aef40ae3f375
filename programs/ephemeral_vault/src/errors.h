/* errors.h -- the program's named errors, numbered from 6000 like Anchor's #[error_code] so Anchor clients map
 * `custom program error: 0x1770` to a name through the IDL. Order and values are the ABI (docs/program-abi.md);
 * tests/program/test_idl.py checks them against the IDL definition. */
#ifndef EPHEMERAL_VAULT_ERRORS_H
#define EPHEMERAL_VAULT_ERRORS_H

#define ERR_INVALID_INSTRUCTION_DATA 6000ULL
#define ERR_MISSING_ACCOUNTS 6001ULL
#define ERR_MISSING_SIGNER 6002ULL
#define ERR_ACCOUNT_NOT_WRITABLE 6003ULL
#define ERR_INVALID_ACCOUNT_OWNER 6004ULL
#define ERR_INVALID_DISCRIMINATOR 6005ULL
#define ERR_INVALID_PDA 6006ULL
#define ERR_INVALID_SYSTEM_PROGRAM 6007ULL
#define ERR_DUPLICATE_ACCOUNT 6008ULL
#define ERR_PARENT_MISMATCH 6009ULL
#define ERR_DELEGATE_MISMATCH 6010ULL
#define ERR_VAULT_MISMATCH 6011ULL
#define ERR_VAULT_ALREADY_EXISTS 6012ULL
#define ERR_DELEGATION_ALREADY_EXISTS 6013ULL
#define ERR_INVALID_SESSION_DURATION 6014ULL
#define ERR_INVALID_MAX_DEPOSIT 6015ULL
#define ERR_INVALID_AMOUNT 6016ULL
#define ERR_DEPOSIT_CAP_EXCEEDED 6017ULL
#define ERR_VAULT_INACTIVE 6018ULL
#define ERR_SESSION_EXPIRED 6019ULL
#define ERR_SESSION_NOT_EXPIRED 6020ULL
#define ERR_DELEGATION_REVOKED 6021ULL
#define ERR_FEE_TOO_HIGH 6022ULL
#define ERR_INSUFFICIENT_VAULT_BALANCE 6023ULL
#define ERR_SPEND_EXCEEDS_DEPOSITS 6024ULL
#define ERR_ARITHMETIC_OVERFLOW 6025ULL

/* Propagate a non-zero error code: instruction bodies read as a list of rules. */
#define TRY(expr)                        \
    do {                                 \
        uint64_t err_ = (expr);          \
        if (err_ != SUCCESS) return err_; \
    } while (0)

#endif
