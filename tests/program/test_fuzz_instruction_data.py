"""Fuzz of instruction data (Hypothesis): random bytes after each valid discriminator, random discriminators, and
random account counts, sent to the real program over a live, funded, approved session.

Every transaction must either succeed (random bytes can be valid arguments) or fail with a named program error
(custom 6000-6025) having changed nothing but the fee payer's fee; never a panic or abort ("Program failed to
complete", an access violation, a compute overrun). Where the ABI fixes the answer it is asserted exactly: data
shorter than 8 bytes or an unknown discriminator is InvalidInstructionData; too few accounts is MissingAccounts;
a known discriminator with the wrong data length is InvalidInstructionData. A success is rolled back (every
account restored) so the next case meets the same session.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st
from solders.account import Account
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.transaction_metadata import FailedTransactionMetadata

from programs.ephemeral_vault import idl as idl_def
from tests.program.attack_support import panic_lines, program_error_name
from tests.program.conftest import DEPOSIT, MAX_DEPOSIT, SESSION_DURATION
from tests.program.harness import LAMPORTS_PER_SIGNATURE, PROGRAM_ID, Session, VaultHarness

# name -> (discriminator, accounts needed, exact data length)
LAYOUT: dict[str, tuple[bytes, int, int]] = {
    "create_vault": (idl_def.instruction_discriminator("create_vault"), 4, 24),
    "approve_delegate": (idl_def.instruction_discriminator("approve_delegate"), 4, 40),
    "auto_deposit_for_trade": (idl_def.instruction_discriminator("auto_deposit_for_trade"), 3, 16),
    "execute_trade": (idl_def.instruction_discriminator("execute_trade"), 3, 32),
    "revoke_access": (idl_def.instruction_discriminator("revoke_access"), 3, 8),
    "cleanup_vault": (idl_def.instruction_discriminator("cleanup_vault"), 4, 8),
}
DISCRIMINATORS = {disc for disc, _, _ in LAYOUT.values()}
EXAMPLES_PER_INSTRUCTION = 150
EXAMPLES_RANDOM_DISCRIMINATOR = 300


def honest_ix(h: VaultHarness, s: Session, fresh: Session, cleaner: Keypair, name: str) -> tuple[Instruction, Keypair]:
    """The instruction `name` with a valid account list for the session (create_vault: a not-yet-created one)."""
    if name == "create_vault":
        return h.create_vault_ix(fresh), fresh.parent
    if name == "approve_delegate":
        return h.approve_delegate_ix(s), s.parent
    if name == "auto_deposit_for_trade":
        return h.deposit_ix(s, 1), s.parent
    if name == "execute_trade":
        return h.execute_trade_ix(s), s.delegate
    if name == "revoke_access":
        return h.revoke_access_ix(s), s.parent
    return h.cleanup_vault_ix(s, cleaner.pubkey()), cleaner


def expected_error(data: bytes, accounts: int) -> str | None:
    """The error the ABI fixes for this data and account count, or None when the arguments decide."""
    if len(data) < 8 or data[:8] not in DISCRIMINATORS:
        return "InvalidInstructionData"
    _, needed, length = next(v for v in LAYOUT.values() if v[0] == data[:8])
    if accounts < needed:
        return "MissingAccounts"
    if len(data) != length:
        return "InvalidInstructionData"
    return None


def fuzz_one(h: VaultHarness, env: dict, name: str, data: bytes, accounts: int, stats: Counter) -> None:
    s, fresh, cleaner = env["s"], env["fresh"], env["cleaner"]
    ix, signer = honest_ix(h, s, fresh, cleaner, name)
    metas = list(ix.accounts)
    metas = metas[:accounts] + [AccountMeta(Keypair().pubkey(), False, False) for _ in range(accounts - len(metas))]
    ix = Instruction(PROGRAM_ID, data, metas)
    watched = {m.pubkey for m in metas} | {signer.pubkey()}
    before = {k: h.account(k) for k in watched}
    result = h.try_send(ix, [signer])
    stats["cases"] += 1
    stats[f"cases: {name}"] += 1
    expected = expected_error(data, accounts)
    if isinstance(result, FailedTransactionMetadata):
        logs = "\n".join(result.meta().logs())
        assert not panic_lines(result), f"program aborted on data {data.hex()}:\n{logs}"
        got = program_error_name(result)
        assert got is not None, f"not a named program error: {result.err()} on data {data.hex()}\n{logs}"
        if expected is not None:
            assert got == expected, f"data {data.hex()} with {accounts} accounts: expected {expected}, got {got}"
        stats[got] += 1
        for key, b in before.items():
            a = h.account(key)
            if key == signer.pubkey():
                assert a is not None and b is not None and a.lamports == b.lamports - LAMPORTS_PER_SIGNATURE
                assert (a.data, a.owner) == (b.data, b.owner)
            else:
                assert a == b, f"{key} changed by a failed transaction (data {data.hex()})"
        return
    assert expected is None, f"data {data.hex()} with {accounts} accounts succeeded; the ABI says {expected}"
    stats["succeeded (rolled back)"] += 1
    for key, b in before.items():  # put the session back exactly as it was
        if b is None:
            h.svm.set_account(key, Account(0, b"", Pubkey.default(), False, 0))
        else:
            h.svm.set_account(key, b)


def make_env(h: VaultHarness) -> dict:
    parent, delegate, cleaner = h.funded_keypair(100 * 10**9), h.funded_keypair(), h.funded_keypair()
    s = h.new_session(parent, delegate)
    h.send(h.create_vault_ix(s, SESSION_DURATION, MAX_DEPOSIT), [parent])
    h.send(h.approve_delegate_ix(s), [parent])
    h.send(h.deposit_ix(s, DEPOSIT), [parent])
    return {"s": s, "fresh": h.new_session(parent), "cleaner": cleaner}


def test_fuzz_instruction_data(h: VaultHarness) -> None:
    env = make_env(h)
    stats: Counter = Counter()

    @settings(max_examples=EXAMPLES_PER_INSTRUCTION * len(LAYOUT), deadline=None)
    @given(
        st.sampled_from(list(LAYOUT)),
        st.data(),
    )
    def after_valid_discriminator(name: str, draw: st.DataObject) -> None:
        disc, needed, length = LAYOUT[name]
        tail = draw.draw(
            st.one_of(st.binary(min_size=length - 8, max_size=length - 8), st.binary(max_size=64)), label="tail"
        )
        accounts = draw.draw(st.one_of(st.just(needed), st.integers(0, needed + 2)), label="accounts")
        fuzz_one(h, env, name, disc + tail, accounts, stats)

    @settings(max_examples=EXAMPLES_RANDOM_DISCRIMINATOR, deadline=None)
    @given(st.sampled_from(list(LAYOUT)), st.binary(max_size=48), st.integers(0, 6))
    def random_discriminator(name: str, data: bytes, accounts: int) -> None:
        if data[:8] in DISCRIMINATORS:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        fuzz_one(h, env, name, data, accounts, stats)

    after_valid_discriminator()
    random_discriminator()
    print(f"\ninstruction-data fuzz: {stats['cases']} cases")
    for outcome, count in sorted((k, v) for k, v in stats.items() if k != "cases"):
        print(f"  {outcome}: {count}")
    assert stats["cases"] >= len(LAYOUT) * 50
