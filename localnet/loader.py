"""Deploy an SBF program into LiteSVM through the real BPFLoaderUpgradeable instructions.

`add_program` skips the loader: it never verifies the ELF the way a validator does (unknown syscalls pass, for one).
Going through InitializeBuffer / Write / DeployWithMaxDataLen runs the same checks a cluster runs at deploy time, so
an object that deploys here deploys on a validator too.

Instruction data is bincode: a u32 little-endian variant tag, then the fields (`Vec<u8>` = u64 length + bytes).
"""

from __future__ import annotations

import struct

from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.litesvm import FeatureSet, LiteSVM
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from solders.system_program import CreateAccountParams, create_account
from solders.sysvar import CLOCK, RENT
from solders.transaction import Transaction
from solders.transaction_metadata import FailedTransactionMetadata

BPF_LOADER_UPGRADEABLE_ID = Pubkey.from_string("BPFLoaderUpgradeab1e11111111111111111111111")

# UpgradeableLoaderState sizes: enum tag u32 + Option<Pubkey> authority (buffer), + slot u64 (programdata),
# + programdata address (program).
BUFFER_METADATA_SIZE = 37
PROGRAMDATA_METADATA_SIZE = 45
PROGRAM_ACCOUNT_SIZE = 36

PACKET_DATA_SIZE = 1232  # a serialized transaction must fit one packet

# SIMD-0167 (loader-v4) `disable_new_loader_v3_deployments`. `LiteSVM()` starts from FeatureSet.all_enabled(), which
# includes it, so DeployWithMaxDataLen fails there with "Unsupported instruction". It is not active on mainnet, where
# new programs still deploy through loader v3; build the SVM with `loader_v3_feature_set()` to match.
DISABLE_NEW_LOADER_V3_DEPLOYMENTS = Pubkey.from_string("EmhbpdVtZ2hWRGFWBDjn2i3SJD8Z36z4mpMcZJEnebnP")


def loader_v3_feature_set(base: FeatureSet | None = None) -> FeatureSet:
    """`base` (default: every feature) with loader-v3 deployments still allowed.

    Use as `LiteSVM().with_builtins(loader_v3_feature_set())`: `with_builtins` also installs the feature set.
    """
    fs = base if base is not None else FeatureSet.all_enabled()
    active = dict(fs.active)
    active.pop(DISABLE_NEW_LOADER_V3_DEPLOYMENTS, None)
    fs.active = active
    return fs


class DeployError(RuntimeError):
    """A loader transaction failed; the message carries the runtime error and the program logs."""


def programdata_address(program_id: Pubkey) -> Pubkey:
    return Pubkey.find_program_address([bytes(program_id)], BPF_LOADER_UPGRADEABLE_ID)[0]


def initialize_buffer_ix(buffer: Pubkey, authority: Pubkey) -> Instruction:
    return Instruction(
        BPF_LOADER_UPGRADEABLE_ID,
        struct.pack("<I", 0),
        [AccountMeta(buffer, is_signer=False, is_writable=True), AccountMeta(authority, False, False)],
    )


def write_ix(buffer: Pubkey, authority: Pubkey, offset: int, chunk: bytes) -> Instruction:
    return Instruction(
        BPF_LOADER_UPGRADEABLE_ID,
        struct.pack("<IIQ", 1, offset, len(chunk)) + chunk,
        [AccountMeta(buffer, is_signer=False, is_writable=True), AccountMeta(authority, True, False)],
    )


def deploy_with_max_data_len_ix(
    payer: Pubkey, program_id: Pubkey, buffer: Pubkey, authority: Pubkey, max_data_len: int
) -> Instruction:
    return Instruction(
        BPF_LOADER_UPGRADEABLE_ID,
        struct.pack("<IQ", 2, max_data_len),
        [
            AccountMeta(payer, is_signer=True, is_writable=True),
            AccountMeta(programdata_address(program_id), False, True),
            AccountMeta(program_id, False, True),
            AccountMeta(buffer, False, True),
            AccountMeta(RENT, False, False),
            AccountMeta(CLOCK, False, False),
            AccountMeta(SYSTEM_PROGRAM_ID, False, False),
            AccountMeta(authority, True, False),
        ],
    )


def _send(svm: LiteSVM, payer: Keypair, ixs: list[Instruction], signers: list[Keypair], what: str) -> None:
    unique = list({bytes(k.pubkey()): k for k in [payer, *signers]}.values())
    msg = Message.new_with_blockhash(ixs, payer.pubkey(), svm.latest_blockhash())
    tx = Transaction(unique, msg, svm.latest_blockhash())
    result = svm.send_transaction(tx)
    if isinstance(result, FailedTransactionMetadata):
        logs = "\n".join(result.meta().logs())
        hint = ""
        if "Unsupported instruction" in logs:
            hint = "\n(hint: loader-v3 deployments are disabled in this feature set; use loader_v3_feature_set())"
        raise DeployError(f"{what} failed: {result.err()}{hint}\n{logs}")


def _write_chunk_size(payer: Keypair, buffer: Pubkey, authority: Keypair, blockhash) -> int:
    """Largest Write payload whose transaction still fits one packet (measured, not guessed)."""
    signers = list({bytes(k.pubkey()): k for k in [payer, authority]}.values())
    probe = write_ix(buffer, authority.pubkey(), 0, b"")
    tx = Transaction(signers, Message.new_with_blockhash([probe], payer.pubkey(), blockhash), blockhash)
    overhead = len(bytes(tx))
    # +2: the instruction-data length is a compact-u16 that grows from 1 to 2 bytes past 127.
    return PACKET_DATA_SIZE - overhead - 2


def deploy_upgradeable(
    svm: LiteSVM,
    payer: Keypair,
    program_keypair: Keypair,
    upgrade_authority: Keypair,
    elf: bytes,
    *,
    max_data_len: int | None = None,
) -> None:
    """Deploy `elf` at `program_keypair.pubkey()` with `upgrade_authority`, then warp one slot so it is callable.

    `max_data_len` (default: the ELF's size) bounds later upgrades of the ProgramData account.
    Raises DeployError (runtime error + logs) if any loader transaction fails, e.g. the ELF is refused.
    """
    buffer = Keypair()
    authority = upgrade_authority.pubkey()
    buffer_space = BUFFER_METADATA_SIZE + len(elf)
    _send(
        svm,
        payer,
        [
            create_account(
                CreateAccountParams(
                    from_pubkey=payer.pubkey(),
                    to_pubkey=buffer.pubkey(),
                    lamports=svm.minimum_balance_for_rent_exemption(buffer_space),
                    space=buffer_space,
                    owner=BPF_LOADER_UPGRADEABLE_ID,
                )
            ),
            initialize_buffer_ix(buffer.pubkey(), authority),
        ],
        [buffer],
        "create buffer",
    )

    chunk = _write_chunk_size(payer, buffer.pubkey(), upgrade_authority, svm.latest_blockhash())
    for offset in range(0, len(elf), chunk):
        _send(
            svm,
            payer,
            [write_ix(buffer.pubkey(), authority, offset, elf[offset : offset + chunk])],
            [upgrade_authority],
            f"write buffer at offset {offset}",
        )

    program_id = program_keypair.pubkey()
    max_data_len = len(elf) if max_data_len is None else max_data_len
    _send(
        svm,
        payer,
        [
            create_account(
                CreateAccountParams(
                    from_pubkey=payer.pubkey(),
                    to_pubkey=program_id,
                    lamports=svm.minimum_balance_for_rent_exemption(PROGRAM_ACCOUNT_SIZE),
                    space=PROGRAM_ACCOUNT_SIZE,
                    owner=BPF_LOADER_UPGRADEABLE_ID,
                )
            ),
            deploy_with_max_data_len_ix(payer.pubkey(), program_id, buffer.pubkey(), authority, max_data_len),
        ],
        [program_keypair, upgrade_authority],
        "deploy",
    )
    # A program deployed through loader v3 becomes visible from the next slot.
    svm.warp_to_slot(svm.get_clock().slot + 1)
