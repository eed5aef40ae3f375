"""AutoDepositCalculator: worked examples, input validation, and the invariants as Hypothesis properties."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ephemeral_vault.deposit_calculator import (
    MAX_DEPOSIT_LIMIT,
    MAX_FEE_PER_TRADE,
    U64_MAX,
    DepositInputError,
    DepositInputs,
    DepositPlan,
    calculate_deposit,
    nearest_rank_percentile,
)

RENT = 1_795_680  # rent-exempt minimum of the 130-byte EphemeralVault account


def _inputs(**overrides: Any) -> DepositInputs:
    values: dict[str, Any] = {
        "expected_trades": 10,
        "vault_balance": RENT + 10_000,
        "rent_exempt_minimum": RENT,
        "max_deposit": 1_000_000,
        "total_deposited": 10_000,
        "total_spent": 0,
        "recent_prioritization_fees": (0, 100, 200, 300, 10_000),
        "fee_percentile": 75,
        "compute_unit_limit": 5_000,
        "safety_margin_bps": 2_000,
    }
    return DepositInputs(**(values | overrides))


def test_worked_example_prices_the_burst_from_the_p75_fee() -> None:
    plan = calculate_deposit(_inputs())

    # p75 of 5 samples is the 4th smallest (nearest rank): 300 µlamports/CU; 5_000 CU * 300 = 1.5 lamports -> 2
    assert plan.breakdown.priority_price_micro_lamports == 300
    assert plan.breakdown.priority_fee_per_trade == 2
    assert plan.breakdown.signature_fees_per_trade == 5_000
    assert plan.per_trade_cost == 5_002
    assert plan.breakdown.trades_cost == 50_020
    assert plan.burst_cost == 60_024  # +20 %
    assert plan.breakdown.safety_margin == 10_004
    assert plan.breakdown.spendable_balance == 10_000
    assert plan.shortfall == 50_024
    assert plan.breakdown.headroom == 990_000
    assert plan.deposit_lamports == 50_024
    assert plan.capped_by_headroom is False


def test_no_deposit_when_the_spendable_balance_already_covers_the_burst() -> None:
    plan = calculate_deposit(_inputs(vault_balance=RENT + 70_000, total_deposited=70_000))

    assert plan.burst_cost == 60_024
    assert plan.shortfall == 0
    assert plan.deposit_lamports == 0


def test_deposit_never_exceeds_the_headroom_under_max_deposit() -> None:
    plan = calculate_deposit(_inputs(max_deposit=30_000))

    assert plan.shortfall == 50_024
    assert plan.deposit_lamports == 20_000
    assert plan.capped_by_headroom is True


def test_priority_fee_rounds_fractions_of_a_lamport_up() -> None:
    plan = calculate_deposit(_inputs(recent_prioritization_fees=(1,), compute_unit_limit=5_000))

    assert plan.breakdown.priority_fee_per_trade == 1  # 0.005 lamports charged as a whole lamport


def test_per_trade_cost_is_capped_at_what_execute_trade_may_reimburse() -> None:
    # 200k CU at 10,000,000 µlamports/CU would be 2,000,000 lamports of priority fee alone
    plan = calculate_deposit(
        _inputs(recent_prioritization_fees=(10_000_000,), compute_units_per_trade=3_000, compute_unit_limit=200_000)
    )

    assert plan.breakdown.per_trade_uncapped == 2_005_000
    assert plan.per_trade_cost == MAX_FEE_PER_TRADE
    assert plan.breakdown.capped_by_max_fee_per_trade is True


def test_no_fee_samples_means_signature_fees_only() -> None:
    plan = calculate_deposit(_inputs(recent_prioritization_fees=()))

    assert plan.breakdown.fee_samples == 0
    assert plan.breakdown.priority_fee_per_trade == 0
    assert plan.per_trade_cost == 5_000


def test_lamports_sent_to_the_vault_outside_deposits_are_not_counted_as_spendable() -> None:
    # A stray 1 SOL transfer raised the balance, but execute_trade only spends up to total_deposited.
    plan = calculate_deposit(_inputs(vault_balance=RENT + 1_000_000_000, total_deposited=10_000, total_spent=4_000))

    assert plan.breakdown.spendable_balance == 6_000
    assert plan.deposit_lamports == 60_024 - 6_000


def test_a_vault_below_its_rent_minimum_also_gets_the_deficit() -> None:
    plan = calculate_deposit(_inputs(vault_balance=RENT - 500, total_deposited=0))

    assert plan.breakdown.rent_deficit == 500
    assert plan.deposit_lamports == 60_024 + 500


@pytest.mark.parametrize(
    ("samples", "percentile", "expected"),
    [
        ((5, 1, 4, 2, 3), 0, 1),
        ((5, 1, 4, 2, 3), 100, 5),
        ((4, 1, 3, 2), 50, 2),
        ((4, 1, 3, 2), 75, 3),
        ((4, 1, 3, 2), 75.1, 4),
        ((7,), 1, 7),
        ((), 75, 0),
    ],
)
def test_nearest_rank_percentile(samples: tuple[int, ...], percentile: float, expected: int) -> None:
    assert nearest_rank_percentile(samples, percentile) == expected


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"expected_trades": 0}, "expected_trades"),
        ({"expected_trades": -3}, "expected_trades"),
        ({"expected_trades": True}, "expected_trades"),
        ({"expected_trades": 2.5}, "expected_trades"),
        ({"expected_trades": U64_MAX + 1}, "expected_trades"),
        ({"vault_balance": -1}, "vault_balance"),
        ({"vault_balance": U64_MAX + 1}, "vault_balance"),
        ({"rent_exempt_minimum": -1}, "rent_exempt_minimum"),
        ({"max_deposit": 0}, "max_deposit"),
        ({"max_deposit": MAX_DEPOSIT_LIMIT + 1}, "max_deposit"),
        ({"total_deposited": 1_000_001}, "total_deposited"),
        ({"total_deposited": -1}, "total_deposited"),
        ({"total_spent": 10_001}, "total_spent"),
        ({"recent_prioritization_fees": (1, -2)}, "recent_prioritization_fees[1]"),
        ({"recent_prioritization_fees": (U64_MAX + 1,)}, "recent_prioritization_fees[0]"),
        ({"recent_prioritization_fees": "100,200"}, "recent_prioritization_fees"),
        ({"recent_prioritization_fees": (1.5,)}, "recent_prioritization_fees[0]"),
        ({"fee_percentile": -0.1}, "fee_percentile"),
        ({"fee_percentile": 100.5}, "fee_percentile"),
        ({"fee_percentile": float("nan")}, "fee_percentile"),
        ({"fee_percentile": "75"}, "fee_percentile"),
        ({"compute_units_per_trade": 0}, "compute_units_per_trade"),
        ({"compute_units_per_trade": 1_000, "compute_unit_limit": 999}, "compute_unit_limit"),
        ({"compute_unit_limit": 1_400_001}, "compute_unit_limit"),
        ({"signature_fee_lamports": -5_000}, "signature_fee_lamports"),
        ({"signatures_per_trade": 0}, "signatures_per_trade"),
        ({"safety_margin_bps": -1}, "safety_margin_bps"),
        ({"safety_margin_bps": 100_001}, "safety_margin_bps"),
    ],
)
def test_nonsense_input_is_refused_naming_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(DepositInputError) as caught:
        _inputs(**overrides)

    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert isinstance(caught.value, ValueError)


def test_a_burst_that_overflows_u64_is_refused_naming_the_trade_count() -> None:
    with pytest.raises(DepositInputError, match=r"^expected_trades: .*overflows u64"):
        calculate_deposit(_inputs(expected_trades=U64_MAX // 5_000))


# ---- properties -------------------------------------------------------------------------------------------------

_fees = st.lists(st.integers(0, 50_000_000), max_size=150).map(tuple)


@st.composite
def deposit_inputs(draw: st.DrawFn) -> DepositInputs:
    max_deposit = draw(st.integers(1, MAX_DEPOSIT_LIMIT))
    total_deposited = draw(st.integers(0, max_deposit))
    total_spent = draw(st.integers(0, total_deposited))
    rent = draw(st.integers(0, 10_000_000))
    # mostly realistic balances (rent + unspent deposits + stray transfers), sometimes anything at all
    balance = draw(
        st.one_of(
            st.integers(0, 2**62),
            st.integers(0, 10**9).map(lambda extra: rent + total_deposited - total_spent + extra),
        )
    )
    cu_per_trade = draw(st.integers(1, 200_000))
    return DepositInputs(
        expected_trades=draw(st.integers(1, 1_000_000)),
        vault_balance=balance,
        rent_exempt_minimum=rent,
        max_deposit=max_deposit,
        total_deposited=total_deposited,
        total_spent=total_spent,
        recent_prioritization_fees=draw(_fees),
        fee_percentile=draw(st.floats(0, 100)),
        compute_units_per_trade=cu_per_trade,
        compute_unit_limit=draw(st.integers(cu_per_trade, 1_400_000)),
        signature_fee_lamports=draw(st.integers(0, 100_000)),
        signatures_per_trade=draw(st.integers(1, 4)),
        safety_margin_bps=draw(st.integers(0, 100_000)),
    )


def _spendable_after(inputs: DepositInputs, plan: DepositPlan) -> int:
    """What execute_trade could spend after the parent deposits `plan.deposit_lamports` (both on-chain limits)."""
    deposit = plan.deposit_lamports
    return min(
        inputs.vault_balance + deposit - inputs.rent_exempt_minimum,
        inputs.total_deposited + deposit - inputs.total_spent,
    )


@given(deposit_inputs())
def test_deposit_is_between_zero_and_the_headroom(inputs: DepositInputs) -> None:
    plan = calculate_deposit(inputs)

    headroom = inputs.max_deposit - inputs.total_deposited
    assert 0 <= plan.deposit_lamports <= headroom
    assert plan.deposit_lamports == min(plan.shortfall, headroom)
    assert plan.capped_by_headroom == (plan.shortfall > headroom)
    assert all(type(v) is int for v in (plan.deposit_lamports, plan.per_trade_cost, plan.burst_cost, plan.shortfall))
    assert 0 <= plan.per_trade_cost <= MAX_FEE_PER_TRADE
    assert plan.burst_cost <= U64_MAX


@given(deposit_inputs())
def test_deposit_covers_the_burst_whenever_the_headroom_allows(inputs: DepositInputs) -> None:
    plan = calculate_deposit(inputs)

    if not plan.capped_by_headroom:
        assert _spendable_after(inputs, plan) >= plan.burst_cost
    else:
        assert plan.deposit_lamports == inputs.max_deposit - inputs.total_deposited


@given(deposit_inputs())
def test_no_deposit_when_already_covered(inputs: DepositInputs) -> None:
    plan = calculate_deposit(inputs)
    spendable_now = min(inputs.vault_balance - inputs.rent_exempt_minimum, inputs.total_deposited - inputs.total_spent)

    assert (plan.deposit_lamports == 0) == (spendable_now >= plan.burst_cost or plan.breakdown.headroom == 0)


@given(deposit_inputs(), st.integers(0, 1_000_000))
def test_more_trades_never_need_a_smaller_deposit(inputs: DepositInputs, more: int) -> None:
    fewer = calculate_deposit(inputs)
    busier = calculate_deposit(dataclasses.replace(inputs, expected_trades=inputs.expected_trades + more))

    assert busier.deposit_lamports >= fewer.deposit_lamports
    assert busier.burst_cost >= fewer.burst_cost


@given(deposit_inputs(), st.integers(0, 10_000_000))
def test_a_pricier_fee_market_never_needs_a_smaller_deposit(inputs: DepositInputs, rise: int) -> None:
    calm = calculate_deposit(inputs)
    busy_fees = tuple(fee + rise for fee in inputs.recent_prioritization_fees)
    busy = calculate_deposit(dataclasses.replace(inputs, recent_prioritization_fees=busy_fees))

    assert busy.per_trade_cost >= calm.per_trade_cost
    assert busy.deposit_lamports >= calm.deposit_lamports


@given(deposit_inputs(), st.floats(0, 100))
def test_a_higher_percentile_never_needs_a_smaller_deposit(inputs: DepositInputs, other: float) -> None:
    low, high = sorted((inputs.fee_percentile, other))
    at_low = calculate_deposit(dataclasses.replace(inputs, fee_percentile=low))
    at_high = calculate_deposit(dataclasses.replace(inputs, fee_percentile=high))

    assert at_high.deposit_lamports >= at_low.deposit_lamports
