"""The on-chain program's bounds, for the off-chain checks that refuse bad input before anything is signed.

One Python home for the numbers the API, the workflow and the deposit calculator all enforce; the values are those of
`programs/ephemeral_vault/src/constants.h`, and tests/program/test_idl.py checks them against the IDL definition
(which is itself checked against the C header), so the three layers cannot drift apart.
"""

LAMPORTS_PER_SOL = 1_000_000_000
MIN_SESSION_DURATION = 60  # seconds
MAX_SESSION_DURATION = 86_400  # seconds (24 h)
MAX_DEPOSIT_LIMIT = 1_000 * LAMPORTS_PER_SOL  # lamports
MAX_FEE_PER_TRADE = 1_000_000  # lamports reimbursed to the delegate per trade at most
CLEANUP_REWARD_CAP = 10_000  # lamports
