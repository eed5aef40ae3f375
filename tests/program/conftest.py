"""Program-test fixtures: a fresh LiteSVM per test with `ephemeral_vault` deployed through the real
BPFLoaderUpgradeable (InitializeBuffer / Write / DeployWithMaxDataLen, ~0.1 s), funded keypairs, the clock at a
realistic time, and `VaultHarness` (tests/program/harness.py) to build instructions with anchorpy, send them, decode
accounts and events, move the clock, and assert named errors with nothing changed.

Fixtures:
    program_elf    bytes of the .so built from the current sources (session; `programs.build` with clang-19)
    anchor_program anchorpy.Program over the committed legacy IDL (session)
    svm            LiteSVM with the program deployed by `localnet.loader.deploy_upgradeable`, clock at START_TIME
    h              VaultHarness over `svm`
    parent, delegate, cleaner   funded keypairs (PARENT_FUNDS, DELEGATE_FUNDS, CLEANER_FUNDS lamports)
    session        Session keys/PDAs for (parent, delegate); nothing sent
    open_vault     session after create_vault (duration SESSION_DURATION, max_deposit MAX_DEPOSIT)
    approved       open_vault after approve_delegate
    funded         approved after auto_deposit_for_trade(DEPOSIT)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from anchorpy import Program
from solders.keypair import Keypair
from solders.litesvm import LiteSVM

from localnet.loader import deploy_upgradeable, loader_v3_feature_set
from programs.build import build
from tests.program.harness import LAMPORTS_PER_SOL, PROGRAM_DIR, Session, VaultHarness, load_keypair, load_program

START_TIME = 1_764_288_000  # 2025-11-28T00:00:00Z: a realistic Clock, not LiteSVM's default of 0
PARENT_FUNDS = 50 * LAMPORTS_PER_SOL
DELEGATE_FUNDS = LAMPORTS_PER_SOL
CLEANER_FUNDS = LAMPORTS_PER_SOL
SESSION_DURATION = 3_600
MAX_DEPOSIT = 2 * LAMPORTS_PER_SOL
DEPOSIT = LAMPORTS_PER_SOL // 2


@pytest.fixture(scope="session")
def program_elf(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The program as built from the sources under test (not a possibly stale committed artifact)."""
    out: Path = tmp_path_factory.mktemp("deploy") / "ephemeral_vault.so"
    assert build(out) == 0, "programs.build failed (see stderr)"
    return out.read_bytes()


@pytest.fixture(scope="session")
def anchor_program() -> Program:
    return load_program()


def deployed_svm(elf: bytes, svm: LiteSVM | None = None) -> LiteSVM:
    """`svm` (default: every feature but the loader-v3 deployment ban) with the program deployed at its dev id."""
    svm = svm if svm is not None else LiteSVM().with_builtins(loader_v3_feature_set())
    deployer = Keypair()
    svm.airdrop(deployer.pubkey(), 10 * LAMPORTS_PER_SOL)
    deploy_upgradeable(
        svm,
        deployer,
        load_keypair(PROGRAM_DIR / "program-keypair.json"),
        load_keypair(PROGRAM_DIR / "dev-upgrade-authority-keypair.json"),
        elf,
    )
    clock = svm.get_clock()
    clock.unix_timestamp = START_TIME
    svm.set_clock(clock)
    return svm


@pytest.fixture
def svm(program_elf: bytes) -> LiteSVM:
    return deployed_svm(program_elf)


@pytest.fixture
def h(svm: LiteSVM, anchor_program: Program) -> Iterator[VaultHarness]:
    yield VaultHarness(svm, anchor_program)


@pytest.fixture
def parent(h: VaultHarness) -> Keypair:
    return h.funded_keypair(PARENT_FUNDS)


@pytest.fixture
def delegate(h: VaultHarness) -> Keypair:
    return h.funded_keypair(DELEGATE_FUNDS)


@pytest.fixture
def cleaner(h: VaultHarness) -> Keypair:
    return h.funded_keypair(CLEANER_FUNDS)


@pytest.fixture
def session(h: VaultHarness, parent: Keypair, delegate: Keypair) -> Session:
    return h.new_session(parent, delegate)


@pytest.fixture
def open_vault(h: VaultHarness, session: Session) -> Session:
    h.send(h.create_vault_ix(session, SESSION_DURATION, MAX_DEPOSIT), [session.parent])
    return session


@pytest.fixture
def approved(h: VaultHarness, open_vault: Session) -> Session:
    h.send(h.approve_delegate_ix(open_vault), [open_vault.parent])
    return open_vault


@pytest.fixture
def funded(h: VaultHarness, approved: Session) -> Session:
    h.send(h.deposit_ix(approved, DEPOSIT), [approved.parent])
    return approved
