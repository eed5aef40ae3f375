"""The AutoDepositCalculator's cost model against the real program in LiteSVM: what `execute_trade` consumes, what a
trade transaction is charged, and that a deposit sized by the calculator pays for exactly the trades it promised.

LiteSVM charges signature fees but not the prioritization fee, so the priority part of the model is checked by the
unit tests against the runtime's formula (ceil(limit * price / 1e6)); everything else is checked here.
"""

from __future__ import annotations

from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.instruction import Instruction

from ephemeral_vault.deposit_calculator import (
    DEFAULT_TRADE_COMPUTE_UNIT_LIMIT,
    EXECUTE_TRADE_COMPUTE_UNITS,
    DepositInputs,
    DepositPlan,
    calculate_deposit,
)
from tests.program.conftest import MAX_DEPOSIT
from tests.program.harness import Session, VaultHarness

VAULT_SIZE = 130


def _trade_tx(h: VaultHarness, s: Session, fee_lamports: int, price: int, ref: int) -> list[Instruction]:
    """A trade transaction as the backend should build it: CU limit and price first, then execute_trade."""
    return [
        set_compute_unit_limit(DEFAULT_TRADE_COMPUTE_UNIT_LIMIT),
        set_compute_unit_price(price),
        h.execute_trade_ix(s, fee_lamports=fee_lamports, trade_ref=ref.to_bytes(16, "little")),
    ]


def _plan(h: VaultHarness, s: Session, trades: int, price: int, margin_bps: int) -> DepositPlan:
    vault = h.decode(s.vault)
    return calculate_deposit(
        DepositInputs(
            expected_trades=trades,
            vault_balance=h.lamports(s.vault),
            rent_exempt_minimum=h.rent_minimum(VAULT_SIZE),
            max_deposit=vault.max_deposit,
            total_deposited=vault.total_deposited,
            total_spent=vault.total_spent,
            recent_prioritization_fees=(price,),
            fee_percentile=100,
            safety_margin_bps=margin_bps,
        )
    )


def test_execute_trade_fits_the_calculators_compute_unit_constant(h: VaultHarness, funded: Session) -> None:
    consumed = h.send(h.execute_trade_ix(funded), [funded.delegate]).compute_units

    # Within the constant, and not so far below it that the constant (and so the CU limit) is stale.
    assert EXECUTE_TRADE_COMPUTE_UNITS // 2 < consumed <= EXECUTE_TRADE_COMPUTE_UNITS


def test_a_trade_under_the_default_compute_unit_limit_succeeds_with_half_the_limit_to_spare(
    h: VaultHarness, funded: Session
) -> None:
    sent = h.send(_trade_tx(h, funded, 5_000, price=1_000, ref=1), [funded.delegate])

    assert sent.compute_units <= DEFAULT_TRADE_COMPUTE_UNIT_LIMIT // 2


def test_the_delegate_is_charged_the_signature_fees_the_plan_counts_and_the_vault_reimburses_them(
    h: VaultHarness, funded: Session
) -> None:
    plan = _plan(h, funded, trades=1, price=0, margin_bps=0)
    delegate = funded.delegate.pubkey()
    before = h.lamports(delegate)

    h.send(_trade_tx(h, funded, plan.per_trade_cost, price=0, ref=2), [funded.delegate])

    assert plan.per_trade_cost == plan.breakdown.signature_fees_per_trade == 5_000
    assert h.lamports(delegate) == before  # charged per_trade_cost, reimbursed per_trade_cost: gasless


def test_a_deposit_sized_for_n_trades_pays_for_exactly_n_trades(h: VaultHarness, approved: Session) -> None:
    trades, price = 4, 250_000  # 2,600 CU * 0.25 lamports = 650 lamports of priority fee per trade
    plan = _plan(h, approved, trades=trades, price=price, margin_bps=0)
    assert plan.deposit_lamports == trades * plan.per_trade_cost == trades * 5_650
    assert not plan.capped_by_headroom and plan.breakdown.headroom == MAX_DEPOSIT

    h.send(h.deposit_ix(approved, plan.deposit_lamports), [approved.parent])
    for ref in range(trades):
        h.send(_trade_tx(h, approved, plan.per_trade_cost, price=price, ref=ref), [approved.delegate])
    one_more = _trade_tx(h, approved, plan.per_trade_cost, price=price, ref=trades)
    h.expect_error(one_more, [approved.delegate], "SpendExceedsDeposits")

    assert _plan(h, approved, trades=1, price=price, margin_bps=0).deposit_lamports == plan.per_trade_cost
