"""The Solana attack classes, each attempted against every instruction it applies to.

Every attack is a real transaction against the real program in LiteSVM and must fail with the exact named error of
docs/program-abi.md while changing no account but the fee payer's fee (`VaultHarness.expect_error`). Test ids read
`test_<class>[<instruction>-<variant>]`.

Where a class does not apply to an instruction it is left out on purpose:
- account data mismatch: `create_vault` records the keys it is given, there is nothing to match yet.
- arbitrary CPI: only `create_vault`, `approve_delegate` and `auto_deposit_for_trade` call another program;
  `execute_trade`, `revoke_access` and `cleanup_vault` move lamports of accounts the program owns and invoke nothing.
- the trust root is "owned by this program and tagged with the type's discriminator": only this program can write
  such an account, and it only ever creates one at a canonical PDA after checking it. Crafted program-owned
  accounts (via `set_account`) are therefore used here only where the program must refuse them anyway: at an
  address it is asked to create, or in the wrong type's slot.

Decisions on duplicates (the ABI's DuplicateAccount is "the same account in two mutable positions"): every pair of
mutable positions is refused, including a parent acting as the cleaner of its own vault (it uses any other key it
holds; the reward is the cleaner's, the refund the parent's). A read-only position may repeat a writable one: a
parent may name itself as the session's delegate (`test_read_only_slot_may_repeat_a_writable_one`); it gains no
authority it lacked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import pytest
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID

from programs.ephemeral_vault import idl as idl_def
from tests.program.attack_support import (
    BPF_LOADER_UPGRADEABLE,
    CLOCK_SYSVAR,
    copy_account,
    delegation_seeds,
    fake_clock,
    non_canonical_address,
    set_data,
    system_account_is_empty,
    transfer_ix,
    vault_seeds,
    with_extra_accounts,
)
from tests.program.conftest import DEPOSIT, MAX_DEPOSIT, SESSION_DURATION, START_TIME
from tests.program.harness import CONSTANTS, PROGRAM_ID, Session, VaultHarness, with_meta

TOKEN_PROGRAM = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
VAULT_LEN = CONSTANTS["EPHEMERAL_VAULT_SIZE"]
DELEGATION_LEN = CONSTANTS["VAULT_DELEGATION_SIZE"]
FAR_FUTURE = 4_102_444_800  # 2100-01-01
FAR_PAST = 0

NEW, OPEN, FUNDED = "new", "open", "funded"  # session stages: nothing sent / created / created+approved+deposited

INSTRUCTIONS = (
    "create_vault",
    "approve_delegate",
    "auto_deposit_for_trade",
    "execute_trade",
    "revoke_access",
    "cleanup_vault",
)
DEFAULT_STAGE = {
    "create_vault": NEW,
    "approve_delegate": OPEN,
    "auto_deposit_for_trade": FUNDED,
    "execute_trade": FUNDED,
    "revoke_access": FUNDED,
    "cleanup_vault": FUNDED,
}


@dataclass(frozen=True)
class World:
    """The session under attack, staged for one instruction, and what an attacker has at hand."""

    h: VaultHarness
    s: Session  # the victim session
    attacker: Keypair = field(repr=False)  # funded, unrelated; pays the fee whenever the victim's signer must not sign
    cleaner: Keypair = field(repr=False)  # an honest third party allowed to clean up
    other: Session  # a complete funded session of another parent and another delegate
    twin: Session  # a complete funded session of another parent for the SAME delegate key as `s`

    def ix(self, name: str, s: Session | None = None, **override: Pubkey) -> Instruction:
        """The honest instruction `name` for session `s` (default: the victim), accounts overridable."""
        h, s = self.h, s or self.s
        if name == "create_vault":
            return h.create_vault_ix(s, SESSION_DURATION, MAX_DEPOSIT, **override)
        if name == "approve_delegate":
            return h.approve_delegate_ix(s, **override)
        if name == "auto_deposit_for_trade":
            return h.deposit_ix(s, 1_000, **override)
        if name == "execute_trade":
            return h.execute_trade_ix(s, 5_000, bytes(range(16)), **override)
        if name == "revoke_access":
            return h.revoke_access_ix(s, **override)
        assert name == "cleanup_vault"
        return h.cleanup_vault_ix(s, override.pop("cleaner", self.cleaner.pubkey()), **override)

    def signer(self, name: str, s: Session | None = None) -> Keypair:
        s = s or self.s
        return {"execute_trade": s.delegate, "cleanup_vault": self.cleaner}.get(name, s.parent)


def open_session(h: VaultHarness, parent: Keypair, delegate: Keypair, stage: str = FUNDED) -> Session:
    s = h.new_session(parent, delegate)
    if stage in (OPEN, FUNDED):
        h.send(h.create_vault_ix(s, SESSION_DURATION, MAX_DEPOSIT), [parent])
    if stage == FUNDED:
        h.send(h.approve_delegate_ix(s), [parent])
        h.send(h.deposit_ix(s, DEPOSIT), [parent])
    return s


def stage_world(h: VaultHarness, instruction: str, stage: str | None = None) -> World:
    """A world where `instruction`, sent honestly, succeeds (checked by test_unattacked_instruction_succeeds)."""
    stage = stage or DEFAULT_STAGE[instruction]
    delegate = h.funded_keypair()
    s = open_session(h, h.funded_keypair(), delegate, stage)
    other = open_session(h, h.funded_keypair(), h.funded_keypair())
    twin = open_session(h, h.funded_keypair(), delegate)
    world = World(h, s, h.funded_keypair(), h.funded_keypair(), other, twin)
    if instruction == "cleanup_vault":
        h.advance(SESSION_DURATION)  # expired: cleanup is permissionless now
    return world


Attempt = tuple[Instruction | list[Instruction], list[Keypair]]


@dataclass(frozen=True)
class Case:
    instruction: str
    variant: str
    attack: Callable[[World], Attempt]
    error: str
    stage: str | None = None

    @property
    def id(self) -> str:
        return f"{self.instruction}-{self.variant}" if self.variant else self.instruction


def ids(cases: list[Case]) -> list[str]:
    return [c.id for c in cases]


def attempt(h: VaultHarness, case: Case) -> None:
    w = stage_world(h, case.instruction, case.stage)
    ixs, signers = case.attack(w)
    h.expect_error(ixs, signers, case.error)


def honest(name: str) -> Callable[..., Callable[[World], Attempt]]:
    """An attack builder: the honest instruction with account overrides computed from the world."""

    def build(**override: Callable[[World], Pubkey]) -> Callable[[World], Attempt]:
        def attack(w: World) -> Attempt:
            return w.ix(name, **{k: f(w) for k, f in override.items()}), [w.signer(name)]

        return attack

    return build


# ---- baseline: each staged world is one in which the honest instruction succeeds --------------------------------


@pytest.mark.parametrize(
    ("instruction", "stage"),
    [(name, DEFAULT_STAGE[name]) for name in INSTRUCTIONS] + [("revoke_access", OPEN), ("cleanup_vault", OPEN)],
)
def test_unattacked_instruction_succeeds(h: VaultHarness, instruction: str, stage: str) -> None:
    """The control for every attack below: the same world and the same instruction, unaltered, goes through."""
    w = stage_world(h, instruction, stage)
    h.send(w.ix(instruction), [w.signer(instruction)])


# ---- missing signer ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("instruction", INSTRUCTIONS)
def test_missing_signer(h: VaultHarness, instruction: str) -> None:
    """The one signing account (parent, delegate or cleaner; always slot 0) is listed but does not sign."""
    w = stage_world(h, instruction)
    ix = with_meta(w.ix(instruction), 0, signer=False)
    h.expect_error(ix, [w.attacker], "MissingSigner")


# ---- account data mismatch (has_one) -----------------------------------------------------------------------------


def _delegation_names_another_delegate(w: World) -> Attempt:
    w.h.set_field(w.s.delegation, "delegate", w.attacker.pubkey())
    return w.ix("execute_trade"), [w.s.delegate]


MISMATCH_CASES = [
    Case(
        "approve_delegate",
        "wrong-parent",
        lambda w: (w.ix("approve_delegate", parent=w.attacker.pubkey()), [w.attacker]),
        "ParentMismatch",
    ),
    Case(
        "approve_delegate",
        "wrong-delegate",
        lambda w: (w.h.approve_delegate_ix(w.s, w.attacker.pubkey()), [w.s.parent]),
        "DelegateMismatch",
    ),
    Case(
        "auto_deposit_for_trade",
        "wrong-parent",
        lambda w: (w.ix("auto_deposit_for_trade", parent=w.attacker.pubkey()), [w.attacker]),
        "ParentMismatch",
    ),
    Case(
        "execute_trade",
        "wrong-delegate",
        lambda w: (w.ix("execute_trade", delegate=w.attacker.pubkey()), [w.attacker]),
        "DelegateMismatch",
    ),
    Case("execute_trade", "delegation-names-another-delegate", _delegation_names_another_delegate, "DelegateMismatch"),
    Case(
        "execute_trade",
        "delegation-of-another-vault",
        lambda w: (w.ix("execute_trade", delegation=w.twin.delegation), [w.s.delegate]),
        "VaultMismatch",
    ),
    Case(
        "execute_trade",
        "delegation-of-another-vault-and-delegate",
        lambda w: (w.ix("execute_trade", delegation=w.other.delegation), [w.s.delegate]),
        "DelegateMismatch",
    ),
    Case(
        "revoke_access",
        "wrong-parent",
        lambda w: (w.ix("revoke_access", parent=w.attacker.pubkey()), [w.attacker]),
        "ParentMismatch",
    ),
    Case(
        "revoke_access",
        "delegation-of-another-vault",
        lambda w: (w.ix("revoke_access", delegation=w.other.delegation), [w.s.parent]),
        "VaultMismatch",
    ),
    Case(
        "cleanup_vault",
        "wrong-parent",
        lambda w: (w.ix("cleanup_vault", parent=w.attacker.pubkey()), [w.cleaner]),
        "ParentMismatch",
    ),
    Case(
        "cleanup_vault",
        "delegation-of-another-vault",
        lambda w: (w.ix("cleanup_vault", delegation=w.other.delegation), [w.cleaner]),
        "VaultMismatch",
    ),
]


@pytest.mark.parametrize("case", MISMATCH_CASES, ids=ids(MISMATCH_CASES))
def test_account_data_mismatch(h: VaultHarness, case: Case) -> None:
    attempt(h, case)


# ---- wrong owner: a look-alike with the right bytes, owned by another program or by the System Program ----------


def _patched(data: bytes, **fields: Pubkey) -> bytes:
    """`data` of a program account with some pubkey fields replaced (offsets from the IDL definition)."""
    struct_def = next(
        s for s in idl_def.DEFINITION.accounts if bytes(data[:8]) == idl_def.account_discriminator(s.name)
    )
    out = bytearray(data)
    for name, key in fields.items():
        off = struct_def.offsets()[name]
        out[off : off + 32] = bytes(key)
    return bytes(out)


def vault_bytes_for(w: World, s: Session) -> bytes:
    """The bytes a real vault of session `s` would hold (taken from a real vault, keys patched in)."""
    real = bytes(w.h.account(w.other.vault).data)
    return _patched(real, parent=s.parent.pubkey(), delegate=s.delegate.pubkey())


def delegation_bytes_for(w: World, s: Session) -> bytes:
    real = bytes(w.h.account(w.other.delegation).data)
    return _patched(real, vault=s.vault, delegate=s.delegate.pubkey())


def in_place(slot: str, owner: Pubkey) -> Callable[[World], Pubkey]:
    """Override builder: the victim's own `slot` account, bytes kept, re-owned by `owner`."""
    return lambda w: copy_account(w.h.svm, getattr(w.s, slot), owner=owner)


def elsewhere(slot: str, owner: Pubkey) -> Callable[[World], Pubkey]:
    """Override builder: a copy of the victim's `slot` account at a fresh address, owned by `owner`."""
    return lambda w: copy_account(w.h.svm, getattr(w.s, slot), owner=owner, to=Keypair().pubkey())


def crafted_at(slot: str, owner: Pubkey, data: Callable[[World], bytes]) -> Callable[[World], Pubkey]:
    """Override builder: `data` written at the victim's (not yet existing) `slot` address, owned by `owner`."""

    def build(w: World) -> Pubkey:
        key = getattr(w.s, slot)
        set_data(w.h.svm, key, data(w), owner=owner)
        return key

    return build


OWNERS = {"other-program": TOKEN_PROGRAM, "system": SYSTEM_PROGRAM_ID}
OWNER_CASES: list[Case] = []
for _owner_name, _owner in OWNERS.items():
    OWNER_CASES += [
        Case(
            "create_vault",
            f"look-alike-vault-{_owner_name}",
            honest("create_vault")(vault=crafted_at("vault", _owner, lambda w: vault_bytes_for(w, w.s))),
            "VaultAlreadyExists",
        ),
        Case(
            "approve_delegate",
            f"look-alike-delegation-{_owner_name}",
            honest("approve_delegate")(
                delegation=crafted_at("delegation", _owner, lambda w: delegation_bytes_for(w, w.s))
            ),
            "DelegationAlreadyExists",
        ),
    ]
    for _ix in ("approve_delegate", "auto_deposit_for_trade", "execute_trade", "revoke_access", "cleanup_vault"):
        OWNER_CASES += [
            Case(_ix, f"vault-{_owner_name}", honest(_ix)(vault=in_place("vault", _owner)), "InvalidAccountOwner"),
            Case(
                _ix, f"vault-copy-{_owner_name}", honest(_ix)(vault=elsewhere("vault", _owner)), "InvalidAccountOwner"
            ),
        ]
    for _ix in ("execute_trade", "revoke_access", "cleanup_vault"):
        OWNER_CASES.append(
            Case(
                _ix,
                f"delegation-{_owner_name}",
                honest(_ix)(delegation=in_place("delegation", _owner)),
                "InvalidAccountOwner",
            )
        )
OWNER_CASES += [
    Case(
        "create_vault",
        "empty-vault-address-other-program",
        honest("create_vault")(vault=crafted_at("vault", TOKEN_PROGRAM, lambda w: b"")),
        "InvalidAccountOwner",
    ),
    Case(
        "approve_delegate",
        "empty-delegation-address-other-program",
        honest("approve_delegate")(delegation=crafted_at("delegation", TOKEN_PROGRAM, lambda w: b"")),
        "InvalidAccountOwner",
    ),
    Case(
        "execute_trade",
        "delegation-copy-system",
        honest("execute_trade")(delegation=elsewhere("delegation", SYSTEM_PROGRAM_ID)),
        "InvalidAccountOwner",
    ),
    # A System-owned delegation slot means "never approved", which is only true of an empty account (and then only
    # at the derived address: test_non_canonical_bump, test_pda_sharing).
    Case(
        "revoke_access",
        "delegation-copy-system",
        honest("revoke_access")(delegation=elsewhere("delegation", SYSTEM_PROGRAM_ID)),
        "InvalidAccountOwner",
    ),
    Case(
        "cleanup_vault",
        "delegation-copy-system",
        honest("cleanup_vault")(delegation=elsewhere("delegation", SYSTEM_PROGRAM_ID)),
        "InvalidAccountOwner",
    ),
]


@pytest.mark.parametrize("case", OWNER_CASES, ids=ids(OWNER_CASES))
def test_wrong_owner(h: VaultHarness, case: Case) -> None:
    attempt(h, case)


# ---- type cosplay ---------------------------------------------------------------------------------------------


def _rewrite(slot: str, data: Callable[[World], bytes]) -> Callable[[World], Pubkey]:
    """Override builder: the victim's existing `slot` account, program-owned, its data replaced by `data`."""

    def build(w: World) -> Pubkey:
        key = getattr(w.s, slot)
        set_data(w.h.svm, key, data(w), lamports=w.h.lamports(key))
        return key

    return build


def _delegation_shaped(w: World, length: int) -> bytes:
    data = delegation_bytes_for(w, w.s)
    return data + bytes(length - len(data))


def _vault_shaped(w: World, length: int) -> bytes:
    return vault_bytes_for(w, w.s)[:length]


def _zero_discriminator(slot_bytes: Callable[[World, Session], bytes]) -> Callable[[World], bytes]:
    return lambda w: bytes(8) + slot_bytes(w, w.s)[8:]


COSPLAY_CASES: list[Case] = []
for _ix in ("approve_delegate", "auto_deposit_for_trade", "execute_trade", "revoke_access", "cleanup_vault"):
    COSPLAY_CASES += [
        Case(_ix, "real-delegation-as-vault", honest(_ix)(vault=lambda w: w.other.delegation), "InvalidDiscriminator"),
        Case(
            _ix,
            "crafted-delegation-bytes-in-vault",
            honest(_ix)(vault=_rewrite("vault", lambda w: _delegation_shaped(w, VAULT_LEN))),
            "InvalidDiscriminator",
        ),
        Case(
            _ix,
            "vault-tag-too-short",
            honest(_ix)(vault=_rewrite("vault", lambda w: _vault_shaped(w, DELEGATION_LEN))),
            "InvalidDiscriminator",
        ),
        Case(
            _ix,
            "vault-untagged",
            honest(_ix)(vault=_rewrite("vault", _zero_discriminator(vault_bytes_for))),
            "InvalidDiscriminator",
        ),
    ]
for _ix in ("execute_trade", "revoke_access", "cleanup_vault"):
    COSPLAY_CASES += [
        Case(_ix, "real-vault-as-delegation", honest(_ix)(delegation=lambda w: w.other.vault), "InvalidDiscriminator"),
        Case(
            _ix,
            "crafted-vault-bytes-in-delegation",
            honest(_ix)(delegation=_rewrite("delegation", lambda w: _vault_shaped(w, VAULT_LEN))),
            "InvalidDiscriminator",
        ),
        Case(
            _ix,
            "delegation-untagged",
            honest(_ix)(delegation=_rewrite("delegation", _zero_discriminator(delegation_bytes_for))),
            "InvalidDiscriminator",
        ),
    ]
COSPLAY_CASES += [
    Case(
        "execute_trade",
        "own-vault-as-delegation",
        honest("execute_trade")(delegation=lambda w: w.s.vault),
        "InvalidDiscriminator",
    ),
    Case(
        "create_vault",
        "delegation-bytes-at-vault-address",
        honest("create_vault")(vault=crafted_at("vault", PROGRAM_ID, lambda w: _delegation_shaped(w, DELEGATION_LEN))),
        "VaultAlreadyExists",
    ),
    Case(
        "approve_delegate",
        "vault-bytes-at-delegation-address",
        honest("approve_delegate")(delegation=crafted_at("delegation", PROGRAM_ID, lambda w: vault_bytes_for(w, w.s))),
        "DelegationAlreadyExists",
    ),
]


@pytest.mark.parametrize("case", COSPLAY_CASES, ids=ids(COSPLAY_CASES))
def test_type_cosplay(h: VaultHarness, case: Case) -> None:
    attempt(h, case)


# ---- re-initialisation ------------------------------------------------------------------------------------------


def _twice_in_one_transaction(name: str) -> Callable[[World], Attempt]:
    return lambda w: ([w.ix(name), w.ix(name)], [w.s.parent])


def _after(first: str, then: str, stage_s: Callable[[World], None] | None = None) -> Callable[[World], Attempt]:
    def attack(w: World) -> Attempt:
        if stage_s:
            stage_s(w)
        w.h.send(w.ix(first), [w.signer(first)])
        return w.ix(then), [w.signer(then)]

    return attack


def _create_again_with_other_terms(w: World) -> Attempt:
    w.h.send(w.ix("create_vault"), [w.s.parent])
    return w.h.create_vault_ix(w.s, CONSTANTS["MIN_SESSION_DURATION"], 1), [w.s.parent]


def _create_after_revoke(w: World) -> Attempt:
    w.h.send(w.ix("create_vault"), [w.s.parent])
    w.h.send(w.ix("revoke_access"), [w.s.parent])
    return w.ix("create_vault"), [w.s.parent]


REINIT_CASES = [
    Case("create_vault", "twice", _after("create_vault", "create_vault"), "VaultAlreadyExists"),
    Case("create_vault", "twice-in-one-transaction", _twice_in_one_transaction("create_vault"), "VaultAlreadyExists"),
    Case("create_vault", "again-with-other-terms", _create_again_with_other_terms, "VaultAlreadyExists"),
    Case("create_vault", "after-revoke", _create_after_revoke, "VaultAlreadyExists"),
    Case(
        "create_vault",
        "over-a-funded-session",
        lambda w: (w.ix("create_vault", s=w.twin), [w.twin.parent]),
        "VaultAlreadyExists",
    ),
    Case("approve_delegate", "twice", _after("approve_delegate", "approve_delegate"), "DelegationAlreadyExists"),
    Case(
        "approve_delegate",
        "twice-in-one-transaction",
        _twice_in_one_transaction("approve_delegate"),
        "DelegationAlreadyExists",
    ),
    # Revocation is final: the live-session rule stops a re-approval before the existence check is reached.
    Case("approve_delegate", "after-revoke", _after("revoke_access", "approve_delegate"), "VaultInactive"),
]


@pytest.mark.parametrize("case", REINIT_CASES, ids=ids(REINIT_CASES))
def test_reinitialisation(h: VaultHarness, case: Case) -> None:
    attempt(h, case)


# ---- arbitrary CPI: something else in the system_program slot --------------------------------------------------


@pytest.fixture
def impostor_program(h: VaultHarness, program_elf: bytes) -> Pubkey:
    """Another deployed program (a copy of this one at a fresh id) that an attacker offers as the System Program."""
    key = Keypair().pubkey()
    h.svm.add_program(key, program_elf)
    return key


CPI_FAKES: dict[str, Callable[[World, Pubkey], Pubkey]] = {
    "another-deployed-program": lambda w, impostor: impostor,
    "this-program": lambda w, impostor: PROGRAM_ID,
    "bpf-loader-upgradeable": lambda w, impostor: BPF_LOADER_UPGRADEABLE,
    "clock-sysvar": lambda w, impostor: CLOCK_SYSVAR,
    "attacker-wallet": lambda w, impostor: w.attacker.pubkey(),
    "nonexistent-account": lambda w, impostor: Keypair().pubkey(),
}
CPI_INSTRUCTIONS = ("create_vault", "approve_delegate", "auto_deposit_for_trade")


@pytest.mark.parametrize("fake", CPI_FAKES)
@pytest.mark.parametrize("instruction", CPI_INSTRUCTIONS)
def test_arbitrary_cpi(h: VaultHarness, impostor_program: Pubkey, instruction: str, fake: str) -> None:
    w = stage_world(h, instruction)
    ix = w.ix(instruction, system_program=CPI_FAKES[fake](w, impostor_program))
    h.expect_error(ix, [w.signer(instruction)], "InvalidSystemProgram")


# ---- duplicate mutable accounts ---------------------------------------------------------------------------------

DUPLICATE_CASES = [
    Case(
        "create_vault",
        "vault-is-parent",
        honest("create_vault")(vault=lambda w: w.s.parent.pubkey()),
        "DuplicateAccount",
    ),
    Case(
        "approve_delegate",
        "delegation-is-parent",
        honest("approve_delegate")(delegation=lambda w: w.s.parent.pubkey()),
        "DuplicateAccount",
    ),
    Case(
        "auto_deposit_for_trade",
        "vault-is-parent",
        honest("auto_deposit_for_trade")(vault=lambda w: w.s.parent.pubkey()),
        "DuplicateAccount",
    ),
    Case(
        "execute_trade",
        "vault-is-delegate",
        honest("execute_trade")(vault=lambda w: w.s.delegate.pubkey()),
        "DuplicateAccount",
    ),
    Case(
        "revoke_access",
        "vault-is-parent",
        honest("revoke_access")(vault=lambda w: w.s.parent.pubkey()),
        "DuplicateAccount",
    ),
    Case(
        "revoke_access",
        "delegation-is-parent",
        honest("revoke_access")(delegation=lambda w: w.s.parent.pubkey()),
        "DuplicateAccount",
    ),
    Case(
        "revoke_access",
        "delegation-is-vault",
        honest("revoke_access")(delegation=lambda w: w.s.vault),
        "DuplicateAccount",
    ),
    Case(
        "cleanup_vault",
        "cleaner-is-parent",
        lambda w: (w.ix("cleanup_vault", cleaner=w.s.parent.pubkey()), [w.s.parent]),
        "DuplicateAccount",
    ),
    Case(
        "cleanup_vault",
        "vault-is-cleaner",
        honest("cleanup_vault")(vault=lambda w: w.cleaner.pubkey()),
        "DuplicateAccount",
    ),
    Case(
        "cleanup_vault",
        "delegation-is-cleaner",
        honest("cleanup_vault")(delegation=lambda w: w.cleaner.pubkey()),
        "DuplicateAccount",
    ),
    Case(
        "cleanup_vault",
        "vault-is-parent",
        honest("cleanup_vault")(vault=lambda w: w.s.parent.pubkey()),
        "DuplicateAccount",
    ),
    Case(
        "cleanup_vault",
        "delegation-is-parent",
        honest("cleanup_vault")(delegation=lambda w: w.s.parent.pubkey()),
        "DuplicateAccount",
    ),
    Case(
        "cleanup_vault",
        "delegation-is-vault",
        honest("cleanup_vault")(delegation=lambda w: w.s.vault),
        "DuplicateAccount",
    ),
]


@pytest.mark.parametrize("case", DUPLICATE_CASES, ids=ids(DUPLICATE_CASES))
def test_duplicate_mutable_accounts(h: VaultHarness, case: Case) -> None:
    attempt(h, case)


def test_read_only_slot_may_repeat_a_writable_one(h: VaultHarness) -> None:
    """create_vault's delegate is read-only: a parent naming itself as its own delegate is a legitimate session."""
    parent = h.funded_keypair()
    s = h.new_session(parent, parent)
    h.send(h.create_vault_ix(s), [parent])
    assert h.decode(s.vault).delegate == parent.pubkey() == h.decode(s.vault).parent


# ---- non-canonical bump -----------------------------------------------------------------------------------------


def _nc_vault(w: World) -> tuple[Pubkey, int]:
    return non_canonical_address(vault_seeds(w.s.parent.pubkey(), w.s.delegate.pubkey()))


def _nc_delegation(w: World) -> tuple[Pubkey, int]:
    return non_canonical_address(delegation_seeds(w.s.vault))


def _prefunded(address: Callable[[World], tuple[Pubkey, int]]) -> Callable[[World], Pubkey]:
    """The non-canonical address holding lamports as a System account (the program's pre-funded create path)."""

    def build(w: World) -> Pubkey:
        key, _ = address(w)
        set_data(w.h.svm, key, b"", owner=SYSTEM_PROGRAM_ID, lamports=10_000_000)
        return key

    return build


def _crafted_vault(w: World) -> Pubkey:
    key, bump = _nc_vault(w)
    set_data(w.h.svm, key, vault_bytes_for(w, w.s)[:-1] + bytes([bump]))
    return key


def _crafted_delegation(w: World) -> Pubkey:
    key, bump = _nc_delegation(w)
    set_data(w.h.svm, key, delegation_bytes_for(w, w.s)[:-1] + bytes([bump]))
    return key


NON_CANONICAL_CASES = [
    Case("create_vault", "vault-absent", honest("create_vault")(vault=lambda w: _nc_vault(w)[0]), "InvalidPda"),
    Case("create_vault", "vault-prefunded", honest("create_vault")(vault=_prefunded(_nc_vault)), "InvalidPda"),
    Case("create_vault", "vault-crafted-program-owned", honest("create_vault")(vault=_crafted_vault), "InvalidPda"),
    Case(
        "approve_delegate",
        "delegation-absent",
        honest("approve_delegate")(delegation=lambda w: _nc_delegation(w)[0]),
        "InvalidPda",
    ),
    Case(
        "approve_delegate",
        "delegation-prefunded",
        honest("approve_delegate")(delegation=_prefunded(_nc_delegation)),
        "InvalidPda",
    ),
    Case(
        "approve_delegate",
        "delegation-crafted-program-owned",
        honest("approve_delegate")(delegation=_crafted_delegation),
        "InvalidPda",
    ),
]
for _ix in ("revoke_access", "cleanup_vault"):  # a never-approved session: the delegation slot is checked by address
    NON_CANONICAL_CASES += [
        Case(_ix, "delegation-absent", honest(_ix)(delegation=lambda w: _nc_delegation(w)[0]), "InvalidPda", OPEN),
        Case(_ix, "delegation-prefunded", honest(_ix)(delegation=_prefunded(_nc_delegation)), "InvalidPda", OPEN),
    ]


@pytest.mark.parametrize("case", NON_CANONICAL_CASES, ids=ids(NON_CANONICAL_CASES))
def test_non_canonical_bump(h: VaultHarness, case: Case) -> None:
    attempt(h, case)


# ---- PDA sharing across vaults ----------------------------------------------------------------------------------

SHARING_CASES = [
    Case(
        "create_vault",
        "vault-of-another-parent-same-delegate",
        honest("create_vault")(vault=lambda w: w.twin.vault),
        "InvalidPda",
    ),
    Case(
        "create_vault",
        "vault-of-another-delegate",
        honest("create_vault")(vault=lambda w: w.h.vault_address(w.s.parent.pubkey(), w.attacker.pubkey())[0]),
        "InvalidPda",
    ),
    Case(
        "approve_delegate",
        "delegation-of-another-vault",
        honest("approve_delegate")(delegation=lambda w: w.twin.delegation),
        "InvalidPda",
    ),
    Case(
        "approve_delegate",
        "unused-delegation-pda-of-another-vault",
        honest("approve_delegate")(delegation=lambda w: w.h.delegation_address(w.other.vault)[0]),
        "InvalidPda",
    ),
    Case(
        "approve_delegate",
        "vault-of-another-parent",
        lambda w: (w.ix("approve_delegate", s=replace(w.other, parent=w.s.parent)), [w.s.parent]),
        "ParentMismatch",
    ),
    Case(
        "auto_deposit_for_trade",
        "vault-of-another-parent",
        honest("auto_deposit_for_trade")(vault=lambda w: w.other.vault),
        "ParentMismatch",
    ),
    Case(
        "execute_trade",
        "delegation-of-another-vault-same-delegate",
        honest("execute_trade")(delegation=lambda w: w.twin.delegation),
        "VaultMismatch",
    ),
    Case(
        "execute_trade",
        "vault-of-another-parent-same-delegate",
        honest("execute_trade")(vault=lambda w: w.twin.vault),
        "VaultMismatch",
    ),
    Case(
        "revoke_access",
        "vault-of-another-parent",
        honest("revoke_access")(vault=lambda w: w.other.vault, delegation=lambda w: w.other.delegation),
        "ParentMismatch",
    ),
    Case(
        "revoke_access",
        "delegation-of-another-vault-same-delegate",
        honest("revoke_access")(delegation=lambda w: w.twin.delegation),
        "VaultMismatch",
    ),
    Case(
        "cleanup_vault",
        "vault-of-another-parent",
        honest("cleanup_vault")(vault=lambda w: w.other.vault, delegation=lambda w: w.other.delegation),
        "ParentMismatch",
    ),
    Case(
        "cleanup_vault",
        "delegation-of-another-vault-same-delegate",
        honest("cleanup_vault")(delegation=lambda w: w.twin.delegation),
        "VaultMismatch",
    ),
]


@pytest.mark.parametrize("case", SHARING_CASES, ids=ids(SHARING_CASES))
def test_pda_sharing(h: VaultHarness, case: Case) -> None:
    attempt(h, case)


# ---- closed-account revival ---------------------------------------------------------------------------------------

REVIVAL_TARGETS = ("approve_delegate", "auto_deposit_for_trade", "execute_trade", "revoke_access", "cleanup_vault")


def _revival(w: World, refund: bool) -> list[Instruction]:
    """Clean the session up (attacker as cleaner), then pay both closed addresses back to rent-exemption."""
    rent = w.h.rent_minimum(0)
    ixs = [w.ix("cleanup_vault", cleaner=w.attacker.pubkey())]
    if refund:
        ixs += [
            transfer_ix(w.attacker.pubkey(), w.s.vault, rent),
            transfer_ix(w.attacker.pubkey(), w.s.delegation, rent),
        ]
    return ixs


def _reuse(w: World, name: str) -> tuple[Instruction, Keypair]:
    if name == "cleanup_vault":
        return w.ix(name, cleaner=w.attacker.pubkey()), w.attacker
    return w.ix(name), w.signer(name)


@pytest.mark.parametrize("refund", [True, False], ids=["lamports-sent-back", "no-lamports"])
@pytest.mark.parametrize("instruction", REVIVAL_TARGETS)
def test_closed_account_revival_in_the_same_transaction(h: VaultHarness, instruction: str, refund: bool) -> None:
    """cleanup_vault, lamports transferred back to both closed addresses, then the instruction, all in one
    transaction: the closed vault is an empty System account, never read as a vault again, and the whole
    transaction (the cleanup included) is rolled back."""
    w = stage_world(h, "cleanup_vault")
    ix, signer = _reuse(w, instruction)
    h.expect_error([*_revival(w, refund), ix], [w.attacker, signer], "InvalidAccountOwner")


@pytest.mark.parametrize("instruction", REVIVAL_TARGETS)
def test_closed_account_revival_in_a_later_transaction(h: VaultHarness, instruction: str) -> None:
    """Revoked (session time still running), cleaned up and paid back in one transaction; then the instruction."""
    w = stage_world(h, "revoke_access")
    h.send(w.ix("revoke_access"), [w.s.parent])
    h.send(_revival(w, refund=True), [w.attacker])
    rent = h.rent_minimum(0)
    for key in (w.s.vault, w.s.delegation):
        acct = h.account(key)
        assert acct is not None and (acct.owner, bytes(acct.data), acct.lamports) == (SYSTEM_PROGRAM_ID, b"", rent)
    ix, signer = _reuse(w, instruction)
    h.expect_error(ix, [signer], "InvalidAccountOwner")


def test_a_closed_vault_only_comes_back_as_a_fresh_vault_of_its_parent(h: VaultHarness) -> None:
    """After cleanup (and the attacker paying the address back), no one but the parent can create the vault again
    (the address is derived from the signing parent), and what the parent creates starts from nothing: no deposits,
    no trades, no delegation."""
    w = stage_world(h, "cleanup_vault")
    h.send(_revival(w, refund=True), [w.attacker])
    h.expect_error(w.ix("create_vault", parent=w.attacker.pubkey()), [w.attacker], "InvalidPda")
    h.send(w.ix("create_vault"), [w.s.parent])
    v = h.decode(w.s.vault)
    assert (v.total_deposited, v.total_spent, v.trade_count, v.is_active) == (0, 0, 0, True)
    assert v.created_at == h.now()
    assert h.lamports(w.s.vault) == h.rent_minimum(VAULT_LEN)  # pre-funded by the attacker: the shortfall was paid
    assert system_account_is_empty(h.svm, w.s.delegation)  # paid back, but still an empty System account


# ---- fake sysvar --------------------------------------------------------------------------------------------------
# No instruction takes a sysvar account: time comes from the sol_get_clock_sysvar syscall. A Clock-looking account
# (sysvar-owned, Clock layout) passed as an extra account must change nothing.


def read_only(key: Pubkey) -> AccountMeta:
    return AccountMeta(key, is_signer=False, is_writable=False)


@pytest.mark.parametrize("claimed", [FAR_PAST, START_TIME], ids=["claims-epoch-zero", "claims-session-start"])
@pytest.mark.parametrize("instruction", ["approve_delegate", "auto_deposit_for_trade", "execute_trade"])
def test_fake_sysvar_cannot_undo_expiry(h: VaultHarness, instruction: str, claimed: int) -> None:
    w = stage_world(h, instruction)
    h.advance(SESSION_DURATION)
    ix = with_extra_accounts(w.ix(instruction), read_only(fake_clock(h.svm, claimed)))
    h.expect_error(ix, [w.signer(instruction)], "SessionExpired")


@pytest.mark.parametrize("stage", [OPEN, FUNDED], ids=["cleanup_vault-never-approved", "cleanup_vault-funded"])
def test_fake_sysvar_cannot_bring_cleanup_forward(h: VaultHarness, stage: str) -> None:
    w = stage_world(h, "revoke_access", stage)  # live, unexpired
    ix = with_extra_accounts(w.ix("cleanup_vault"), read_only(fake_clock(h.svm, FAR_FUTURE)))
    h.expect_error(ix, [w.cleaner], "SessionNotExpired")


@pytest.mark.parametrize("claimed", [FAR_PAST, FAR_FUTURE], ids=["claims-epoch-zero", "claims-year-2100"])
@pytest.mark.parametrize("instruction", ["create_vault", "revoke_access"])
def test_fake_sysvar_is_not_the_time_recorded(h: VaultHarness, instruction: str, claimed: int) -> None:
    """The instructions that record a time record the real Clock's, whatever the extra account claims."""
    w = stage_world(h, instruction)
    sent = h.send(with_extra_accounts(w.ix(instruction), read_only(fake_clock(h.svm, claimed))), [w.s.parent])
    now = h.now()
    assert now not in (FAR_PAST, FAR_FUTURE)
    if instruction == "create_vault":
        v = h.decode(w.s.vault)
        assert (v.created_at, v.session_expiry, v.last_activity) == (now, now + SESSION_DURATION, now)
        assert sent.event("VaultCreated").session_expiry == now + SESSION_DURATION
    else:
        assert h.decode(w.s.delegation).revoked_at == now
        assert sent.event("AccessRevoked").revoked_at == now
