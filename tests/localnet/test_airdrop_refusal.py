"""An airdrop the node cannot execute is an error the caller sees, not a signature that never lands (a client would
poll it until its timeout). The faucet is made an account no transaction may pay fees from; the SVM is real."""

from __future__ import annotations

import pytest
from solders.account import Account
from solders.keypair import Keypair

from localnet.chain import AIRDROP_ATTEMPTS, FAUCET_LAMPORTS, AirdropRefused, ChainConfig, LocalChain
from localnet.loader import BPF_LOADER_UPGRADEABLE_ID
from localnet.rpc.errors import INTERNAL_ERROR, RpcError
from localnet.rpc.methods_submit import request_airdrop
from localnet.rpc.params import Params


def test_an_airdrop_the_runtime_refuses_is_an_error_not_a_signature() -> None:
    chain = LocalChain(ChainConfig(slot_ms=0))
    recipient = Keypair().pubkey()
    landed = chain.request_airdrop(recipient, 7)
    assert chain.transaction(landed, "confirmed") is not None
    # A fee payer must be owned by the System Program: the runtime refuses the faucet's transfer before executing it.
    chain.svm.set_account(chain._faucet.pubkey(), Account(FAUCET_LAMPORTS, b"", BPF_LOADER_UPGRADEABLE_ID))

    with pytest.raises(AirdropRefused, match=f"refused {AIRDROP_ATTEMPTS} times"):
        chain.request_airdrop(Keypair().pubkey(), 7)
    with pytest.raises(RpcError) as over_rpc:
        request_airdrop(chain, Params("requestAirdrop", [str(Keypair().pubkey()), 7], 3))
    assert over_rpc.value.code == INTERNAL_ERROR and over_rpc.value.message.startswith("airdrop failed:")
