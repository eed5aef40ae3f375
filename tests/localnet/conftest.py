"""Node tests: one node per test module, without the program unless the module asks for `localnet_url`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.localnet import LocalnetNode, start_localnet
from tests.localnet.rpc_client import RpcClient


@pytest.fixture(scope="module")
def bare_node() -> Iterator[LocalnetNode]:
    """A node without the program: the RPC mechanics do not need it, and it starts faster."""
    with start_localnet(program_so=None) as node:
        yield node


@pytest.fixture(scope="module")
def rpc(bare_node: LocalnetNode) -> Iterator[RpcClient]:
    client = RpcClient(bare_node.url)
    yield client
    client.close()
