"""AutoDepositCalculator: how many lamports the parent should deposit so the vault can pay for the next trades.

A pure function: `calculate_deposit(DepositInputs) -> DepositPlan`. No I/O — the caller fetches the fee market
(`getRecentPrioritizationFees`) and the vault account, and passes them in.

Cost model of one trade transaction (the delegate signs and pays; `execute_trade` reimburses it from the vault):
    priority fee   = ceil(compute_unit_limit * price_µlamports_per_CU / 1_000_000)   (as the runtime computes it:
                     on the requested *limit*, rounded up; LiteSVM does not charge this part, real clusters do)
    signature fees = signature_fee_lamports * signatures_per_trade
    per trade      = min(priority fee + signature fees, MAX_FEE_PER_TRADE)
The vault can never pay more than MAX_FEE_PER_TRADE per trade (the program refuses a larger `fee_lamports`), so the
estimate is capped there too: a fee market above the cap makes trades cost the delegate more than the vault
reimburses, which the breakdown reports (`capped_by_max_fee_per_trade`) rather than hides.

    burst     = ceil(per trade * expected_trades * (10_000 + safety_margin_bps) / 10_000)
    spendable = max(0, min(balance - rent_exempt_minimum, total_deposited - total_spent))
    shortfall = max(0, burst + rent_deficit - spendable)       rent_deficit = max(0, rent_exempt_minimum - balance)
    deposit   = min(shortfall, max_deposit - total_deposited)

`spendable` takes the smaller of the two because `execute_trade` enforces both: the vault stays rent-exempt and
`total_spent + fee ≤ total_deposited` (lamports sent to the vault outside `auto_deposit_for_trade` cannot be spent).
A deposit of `shortfall` therefore leaves both limits at or above the burst. A deposit of 0 means "send nothing"
(the program refuses zero-amount deposits). All arithmetic is on Python integers, exact; every input and output fits
in a u64.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ephemeral_vault.program_limits import MAX_DEPOSIT_LIMIT, MAX_FEE_PER_TRADE

# Compute units of one `execute_trade` (owner/discriminator/signer checks, Clock read, lamport move, `sol_log_data`
# event): 910 CU measured in LiteSVM with every feature active (04:35 UTC 2026-11-28), rounded up. Must match what
# `make bench-program` prints for execute_trade; tests/program/test_trade_fee_budget.py fails when the program
# outgrows it or shrinks below half of it, so the two are updated together.
EXECUTE_TRADE_COMPUTE_UNITS = 1_000
# Each ComputeBudget instruction (SetComputeUnitLimit, SetComputeUnitPrice) costs 150 CU in the same transaction.
COMPUTE_BUDGET_INSTRUCTION_UNITS = 150
# The limit the backend should request for a trade transaction (SetComputeUnitLimit): twice what the trade and its two
# budget instructions need, for feature-set differences between clusters. The priority fee is charged on the limit,
# not on consumption, so it is kept this tight; a transaction that exceeds it fails and still pays its fee.
DEFAULT_TRADE_COMPUTE_UNIT_LIMIT = 2 * (EXECUTE_TRADE_COMPUTE_UNITS + 2 * COMPUTE_BUDGET_INSTRUCTION_UNITS)
MAX_TRANSACTION_COMPUTE_UNITS = 1_400_000
SIGNATURE_FEE_LAMPORTS = 5_000
MICRO_LAMPORTS_PER_LAMPORT = 1_000_000
U64_MAX = 2**64 - 1
BPS = 10_000
MAX_SAFETY_MARGIN_BPS = 10 * BPS  # +1000 %: anything above is a typo, not a margin


class DepositInputError(ValueError):
    """An input to the calculator is out of range; `field` names it, and the message starts with it."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name


def _require_int(name: str, value: Any, low: int = 0, high: int = U64_MAX) -> None:
    # bool is an int subclass; `expected_trades=True` is a bug upstream, not one trade.
    if isinstance(value, bool) or not isinstance(value, int):
        raise DepositInputError(name, f"must be an integer, got {type(value).__name__}")
    if value < low:
        raise DepositInputError(name, f"must be at least {low}, got {value}")
    if value > high:
        raise DepositInputError(name, f"must be at most {high}, got {value}")


@dataclass(frozen=True)
class DepositInputs:
    """Everything the calculation needs. Lamports and µlamports are integers; validation happens on construction."""

    expected_trades: int
    vault_balance: int
    rent_exempt_minimum: int
    max_deposit: int
    total_deposited: int
    total_spent: int
    # `getRecentPrioritizationFees` values, µlamports per compute unit; empty = no recent data = price 0
    recent_prioritization_fees: tuple[int, ...] = ()
    fee_percentile: float = 75.0
    compute_units_per_trade: int = EXECUTE_TRADE_COMPUTE_UNITS
    compute_unit_limit: int = DEFAULT_TRADE_COMPUTE_UNIT_LIMIT
    signature_fee_lamports: int = SIGNATURE_FEE_LAMPORTS
    signatures_per_trade: int = 1
    safety_margin_bps: int = 2_000  # +20 %

    def __post_init__(self) -> None:
        _require_int("expected_trades", self.expected_trades, low=1)
        _require_int("vault_balance", self.vault_balance)
        _require_int("rent_exempt_minimum", self.rent_exempt_minimum)
        _require_int("max_deposit", self.max_deposit, low=1, high=MAX_DEPOSIT_LIMIT)
        _require_int("total_deposited", self.total_deposited, high=self.max_deposit)
        _require_int("total_spent", self.total_spent, high=self.total_deposited)
        fees = self.recent_prioritization_fees
        if isinstance(fees, str | bytes) or not hasattr(fees, "__iter__"):
            raise DepositInputError("recent_prioritization_fees", "must be a sequence of integers")
        object.__setattr__(self, "recent_prioritization_fees", tuple(fees))
        for index, fee in enumerate(self.recent_prioritization_fees):
            _require_int(f"recent_prioritization_fees[{index}]", fee)
        percentile = self.fee_percentile
        if isinstance(percentile, bool) or not isinstance(percentile, int | float) or percentile != percentile:
            raise DepositInputError("fee_percentile", "must be a number between 0 and 100")
        if not 0 <= percentile <= 100:
            raise DepositInputError("fee_percentile", f"must be between 0 and 100, got {percentile}")
        _require_int("compute_units_per_trade", self.compute_units_per_trade, low=1, high=MAX_TRANSACTION_COMPUTE_UNITS)
        _require_int(
            "compute_unit_limit", self.compute_unit_limit, low=self.compute_units_per_trade,
            high=MAX_TRANSACTION_COMPUTE_UNITS,
        )  # fmt: skip
        _require_int("signature_fee_lamports", self.signature_fee_lamports)
        _require_int("signatures_per_trade", self.signatures_per_trade, low=1, high=127)
        _require_int("safety_margin_bps", self.safety_margin_bps, high=MAX_SAFETY_MARGIN_BPS)


@dataclass(frozen=True)
class DepositBreakdown:
    fee_samples: int
    priority_price_micro_lamports: int  # the chosen percentile of the samples, µlamports per CU
    priority_fee_per_trade: int
    signature_fees_per_trade: int
    per_trade_uncapped: int
    capped_by_max_fee_per_trade: bool  # the fee market exceeds what execute_trade may reimburse per trade
    trades_cost: int  # per trade * expected trades, before the margin
    safety_margin: int
    spendable_balance: int
    rent_deficit: int  # lamports the vault lacks to be rent-exempt (0 for any healthy vault); part of the shortfall
    headroom: int


@dataclass(frozen=True)
class DepositPlan:
    deposit_lamports: int  # 0 when the vault already covers the burst
    per_trade_cost: int
    burst_cost: int
    shortfall: int
    capped_by_headroom: bool  # the deposit is smaller than the shortfall because max_deposit is nearly reached
    breakdown: DepositBreakdown = field(repr=True)


def nearest_rank_percentile(samples: tuple[int, ...], percentile: float) -> int:
    """Nearest-rank percentile (an actual sample, never interpolated): the smallest value with at least
    `percentile` % of the samples at or below it; p0 is the minimum. 0 for no samples."""
    if not samples:
        return 0
    ordered = sorted(samples)
    # ceil(p/100 * n) in exact arithmetic on the float's integer ratio, so p75 of 4 samples is rank 3, not 3.0000001
    numerator, denominator = float(percentile).as_integer_ratio()
    rank = -(-numerator * len(ordered) // (denominator * 100))
    return ordered[max(rank, 1) - 1]


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def calculate_deposit(inputs: DepositInputs) -> DepositPlan:
    """Size the next `auto_deposit_for_trade` (see the module docstring for the model)."""
    price = nearest_rank_percentile(inputs.recent_prioritization_fees, inputs.fee_percentile)
    priority_fee = _ceil_div(inputs.compute_unit_limit * price, MICRO_LAMPORTS_PER_LAMPORT)
    signature_fees = inputs.signature_fee_lamports * inputs.signatures_per_trade
    per_trade_uncapped = priority_fee + signature_fees
    per_trade = min(per_trade_uncapped, MAX_FEE_PER_TRADE)

    trades_cost = per_trade * inputs.expected_trades
    burst = _ceil_div(trades_cost * (BPS + inputs.safety_margin_bps), BPS)
    if burst > U64_MAX:
        raise DepositInputError("expected_trades", f"the burst cost of {inputs.expected_trades} trades overflows u64")

    rent_deficit = max(0, inputs.rent_exempt_minimum - inputs.vault_balance)
    spendable = max(
        0,
        min(
            inputs.vault_balance - inputs.rent_exempt_minimum,
            inputs.total_deposited - inputs.total_spent,
        ),
    )
    shortfall = max(0, burst + rent_deficit - spendable)
    headroom = inputs.max_deposit - inputs.total_deposited
    deposit = min(shortfall, headroom)
    return DepositPlan(
        deposit_lamports=deposit,
        per_trade_cost=per_trade,
        burst_cost=burst,
        shortfall=shortfall,
        capped_by_headroom=shortfall > headroom,
        breakdown=DepositBreakdown(
            fee_samples=len(inputs.recent_prioritization_fees),
            priority_price_micro_lamports=price,
            priority_fee_per_trade=priority_fee,
            signature_fees_per_trade=signature_fees,
            per_trade_uncapped=per_trade_uncapped,
            capped_by_max_fee_per_trade=per_trade_uncapped > MAX_FEE_PER_TRADE,
            trades_cost=trades_cost,
            safety_margin=burst - trades_cost,
            spendable_balance=spendable,
            rent_deficit=rent_deficit,
            headroom=headroom,
        ),
    )
