"""The payload converter the services connect with decodes exactly as the SDK's default one, for every dataclass that
crosses Temporal (workflow and activity inputs and outputs), writes the same bytes, and resolves each class's type
hints once. Pure logic: payloads are built and read in memory, from values Hypothesis draws from the type hints."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from temporalio.converter import DataConverter

import activities.models
import workflows.messages
from api.temporal import TemporalGateway
from ephemeral_vault.payload_converter import DATA_CONVERTER, dataclass_hints
from ephemeral_vault.settings import Settings
from tests.fixtures.temporal import DevServer
from worker import connect_temporal
from workflows.messages import SessionState, SessionStatus

DEFAULT = DataConverter.default.payload_converter
OURS = DATA_CONVERTER.payload_converter


def crossing_dataclasses(*modules: ModuleType) -> list[type]:
    return sorted(
        (cls for module in modules for _, cls in inspect.getmembers(module, inspect.isclass)
         if dataclasses.is_dataclass(cls) and cls.__module__ == module.__name__),
        key=lambda cls: cls.__qualname__,
    )


MESSAGE_TYPES = crossing_dataclasses(workflows.messages, activities.models)


def test_every_module_that_crosses_temporal_is_covered() -> None:
    assert len(MESSAGE_TYPES) >= 30
    assert {workflows.messages.SessionWorkflowInput, activities.models.TradeInput} <= set(MESSAGE_TYPES)


@pytest.mark.parametrize("cls", MESSAGE_TYPES, ids=lambda cls: cls.__qualname__)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_decodes_as_the_sdk_does_and_writes_the_same_bytes(cls: type, data: st.DataObject) -> None:
    value = data.draw(st.from_type(cls))
    written = OURS.to_payloads([value])
    assert written == DEFAULT.to_payloads([value])
    ours, = OURS.from_payloads(written, [cls])
    sdks, = DEFAULT.from_payloads(written, [cls])
    # By repr: it names every nested class and enum member (a field left a dict or a str would show), and a NaN float,
    # never equal to itself, compares as text.
    assert type(ours) is cls and repr(ours) == repr(sdks)
    assert OURS.to_payloads([ours]) == written


@pytest.mark.parametrize("payload", [
    {"session_id": "s"},  # required fields missing
    {**{f.name: None for f in dataclasses.fields(SessionStatus)}, "status": "NOT_A_STATE"},  # a bad enum value
    ["not", "an", "object"],
])
def test_refuses_what_the_sdk_refuses_with_the_same_error_type(payload: object) -> None:
    written = DEFAULT.to_payloads([payload])
    with pytest.raises(Exception) as sdk:
        DEFAULT.from_payloads(written, [SessionStatus])
    with pytest.raises(type(sdk.value)):
        OURS.from_payloads(written, [SessionStatus])


def test_type_hints_are_resolved_once_per_class() -> None:
    hints = dataclass_hints(SessionStatus)
    assert hints == typing.get_type_hints(SessionStatus)
    assert dataclass_hints(SessionStatus) is hints  # the same dict: not resolved again
    status = SessionStatus(session_id="s", status=SessionState.ACTIVE, parent_wallet="p", ephemeral_pubkey=None,
                           vault_pda=None, delegation_pda=None, session_expiry=None, max_deposit=1)
    assert OURS.from_payloads(OURS.to_payloads([status]), [SessionStatus]) == [status]
    assert dataclass_hints(SessionStatus) is hints


async def test_the_worker_and_the_api_connect_with_it(temporal_dev_server: DevServer) -> None:
    settings = Settings(temporal_address=temporal_dev_server.address, temporal_namespace=temporal_dev_server.namespace)
    worker_client = await connect_temporal(settings)
    api_client = await TemporalGateway(settings).client()
    assert worker_client.data_converter is DATA_CONVERTER
    assert api_client.data_converter is DATA_CONVERTER
