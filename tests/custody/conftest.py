from __future__ import annotations

import os
import uuid

import pytest

from ephemeral_vault.custody import EnvKek, SealedKey, seal_new_session_key


@pytest.fixture
def kek_bytes() -> dict[str, bytes]:
    return {"k1": os.urandom(32), "k2": os.urandom(32)}


@pytest.fixture
def kek(kek_bytes: dict[str, bytes]) -> EnvKek:
    return EnvKek({"k1": kek_bytes["k1"]}, "k1")


@pytest.fixture
def sealed(kek: EnvKek) -> SealedKey:
    return seal_new_session_key(uuid.uuid4(), kek)[0]
