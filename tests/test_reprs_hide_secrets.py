"""Reprs end up in logs, tracebacks and error reporters. Every dataclass field in the project that holds a keypair,
a token or key material must be left out of its repr (solders' `repr(Keypair)` prints the secret bytes)."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import re

import pytest

PACKAGES = ("ephemeral_vault", "activities", "workflows", "api", "demo", "bench", "devstack", "localnet", "tests")
SECRET_NAME = re.compile(r"(secret|token|wrapped_dek|dek_nonce|ciphertext|^kek$|pin$|password)")
SECRET_TYPE = re.compile(r"\b(Keypair|SecretStr|KekProvider)\b")
# Public by design: names that match the pattern but hold no secret.
PUBLIC = {"token_label", "key_label", "tokens", "kek_id", "secret_nonce_len"}


def _project_dataclasses() -> list[type]:
    found: dict[str, type] = {}
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        modules = [package]
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package_name}."):
            if info.name.endswith("__main__"):
                continue
            modules.append(importlib.import_module(info.name))
        for module in modules:
            for obj in vars(module).values():
                if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == module.__name__:
                    found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return list(found.values())


def test_the_scan_finds_the_project_dataclasses():
    names = {cls.__name__ for cls in _project_dataclasses()}
    assert {"SealedKey", "NewSessionKey", "Resources", "DemoTarget"} <= names


def _uses_generated_repr(cls: type) -> bool:
    # A class with its own __repr__ (SealedKey shows byte lengths only) is tested by its owner's leak tests.
    # The generated one is wrapped by dataclasses' recursion guard (functools.wraps sets __wrapped__).
    return cls.__dataclass_params__.repr and hasattr(cls.__repr__, "__wrapped__")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "cls",
    [c for c in _project_dataclasses() if _uses_generated_repr(c)],
    ids=lambda c: f"{c.__module__}.{c.__qualname__}",
)
def test_secret_fields_are_left_out_of_repr(cls):
    leaky = [
        f.name
        for f in dataclasses.fields(cls)
        if f.repr
        and f.name not in PUBLIC
        and (SECRET_NAME.search(f.name) or SECRET_TYPE.search(str(f.type)))
    ]
    assert leaky == [], f"{cls.__qualname__} shows {leaky} in its repr"


def test_resources_repr_shows_no_cleaner_secret_in_any_encoding():
    """Resources is built once per worker and shows up in activity tracebacks: its repr must not carry the cleaner's
    secret (raw bytes, hex, base58, the JSON array solana-keygen writes) nor the KEK."""
    from solders.keypair import Keypair

    from activities.resources import Resources
    from ephemeral_vault.custody.env_kek import EnvKek

    cleaner = Keypair()
    kek_key = bytes(range(32))
    resources = Resources(pool=None, chain=None, kek=EnvKek({"k1": kek_key}, "k1"), cleaner=cleaner)  # type: ignore[arg-type]
    shown = repr(resources)
    secret = bytes(cleaner)
    for encoding in (
        secret.hex(),
        secret[:32].hex(),
        str(cleaner),  # solders: the base58 of the 64 secret bytes
        str(list(secret)),
        str(list(secret[:32]))[1:-1],
        str(secret),
        kek_key.hex(),
        str(list(kek_key))[1:-1],
    ):
        assert encoding not in shown
    assert "Resources(" in shown and "fee_float_lamports" in shown
