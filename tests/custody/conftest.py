from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from ephemeral_vault.custody import EnvKek, SealedKey, seal_new_session_key
from tests.custody.softhsm import SoftHsmToken, create_token


@pytest.fixture
def kek_bytes() -> dict[str, bytes]:
    return {"k1": os.urandom(32), "k2": os.urandom(32)}


@pytest.fixture
def kek(kek_bytes: dict[str, bytes]) -> EnvKek:
    return EnvKek({"k1": kek_bytes["k1"]}, "k1")


@pytest.fixture
def sealed(kek: EnvKek) -> SealedKey:
    return seal_new_session_key(uuid.uuid4(), kek)[0]


@pytest.fixture(scope="session")
def softhsm_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsmToken]:
    """One throwaway SoftHSM2 token for the whole run (tests use distinct key labels on it)."""
    previous = os.environ.get("SOFTHSM2_CONF")
    token = create_token(tmp_path_factory.mktemp("softhsm"), label="ev-test", pin="20261128")
    yield token
    if previous is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = previous
