"""KEK_KEYS / KEK_ACTIVE_ID parsing and the errors a bad configuration produces."""

from __future__ import annotations

import base64
import os
import traceback

import pytest
from pydantic import SecretStr

from ephemeral_vault.custody import EnvKek, KekConfigError, kek_from_settings, parse_kek_keys
from ephemeral_vault.settings import Settings
from tests.custody.helpers import assert_no_leak


def test_every_listed_id_is_parsed_and_the_active_one_wraps() -> None:
    k1, k2 = os.urandom(32), os.urandom(32)
    text = f" k1:{base64.b64encode(k1).decode()} , k2:{base64.b64encode(k2).decode()} "

    kek = EnvKek.from_text(text, "k2")

    assert parse_kek_keys(text) == {"k1": k1, "k2": k2}
    assert kek.kek_id == "k2"
    assert kek.kek_ids == ["k1", "k2"]


def test_kek_from_settings_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    key = os.urandom(32)
    monkeypatch.setenv("KEK_PROVIDER", "env")
    monkeypatch.setenv("KEK_KEYS", f"2026-11:{base64.b64encode(key).decode()}")
    monkeypatch.setenv("KEK_ACTIVE_ID", "2026-11")

    kek = kek_from_settings(Settings())

    assert kek.kek_id == "2026-11"
    assert "KEK_KEYS" not in repr(Settings()) and base64.b64encode(key).decode() not in repr(Settings())


_GOOD = base64.b64encode(b"\x07" * 32).decode()
_SHORT = base64.b64encode(b"\x07" * 31).decode()
_LONG = base64.b64encode(b"\x07" * 33).decode()


@pytest.mark.parametrize(
    ("kek_keys", "active_id", "message"),
    [
        ("", "k1", "KEK_KEYS is empty"),
        (" , ", "k1", "KEK_KEYS is empty"),
        (f"k1{_GOOD}", "k1", "entry #1 has no ':'"),
        (f"k1:{_GOOD},k2:{_GOOD[:-3]}!!=", "k1", "'k2' is not valid base64"),
        (f"k1:{_GOOD[:-1]}", "k1", "'k1' is not valid base64"),
        (f"k1:{_SHORT}", "k1", "'k1' must decode to 32 bytes, got 31"),
        (f"k1:{_LONG}", "k1", "'k1' must decode to 32 bytes, got 33"),
        (f"k1:{_GOOD},k1:{_GOOD}", "k1", "lists key id 'k1' twice"),
        (f"bad id:{_GOOD}", "bad id", "entry #1: key id must match"),
        (f":{_GOOD}", "k1", "entry #1: key id must match"),
        (f"k1:{_GOOD}", "k9", "KEK_ACTIVE_ID 'k9' is not one of the ids in KEK_KEYS"),
    ],
)
def test_bad_kek_configuration_is_a_typed_error_that_never_echoes_the_key(
    kek_keys: str, active_id: str, message: str
) -> None:
    with pytest.raises(KekConfigError, match=message) as caught:
        EnvKek.from_text(kek_keys, active_id)

    # Everything a log handler would print for this error, chained exceptions included.
    text = "".join(traceback.format_exception(caught.value))
    for _, _, encoded in (entry.partition(":") for entry in kek_keys.split(",")):
        if len(encoded.strip()) >= 8:
            assert encoded.strip() not in text
            assert encoded.strip()[:12] not in text
    assert_no_leak(text, [b"\x07" * 32])


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KEK_ACTIVE_ID": "k1"}, "needs KEK_KEYS"),
        ({"KEK_KEYS": f"k1:{_GOOD}"}, "needs KEK_ACTIVE_ID"),
    ],
)
def test_env_provider_without_its_settings_says_which_is_missing(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name in ("KEK_KEYS", "KEK_ACTIVE_ID"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(KekConfigError, match=message):
        kek_from_settings(Settings())


def test_env_kek_repr_lists_ids_only() -> None:
    key = os.urandom(32)
    kek = EnvKek({"k1": key}, "k1")

    assert repr(kek) == "EnvKek(active_id='k1', ids=['k1'])"
    assert_no_leak(repr(kek) + str(kek), [key])
    assert Settings(kek_keys=SecretStr("k1:" + base64.b64encode(key).decode())).kek_keys is not None
