"""Temporal's workflow sandbox, without its per-payload round trips into the sandbox.

The Python SDK (temporalio 1.35) runs every activation it decodes and every completion it encodes through three
payload passes (codec, external storage, storage references), and for each payload sequence it asks the workflow
instance which serialization context applies (`get_serialization_context`, and `get_external_store_context` on the
storage pass). For a sandboxed workflow each question is answered by `exec`-ing a snippet inside the sandbox under
its import hooks: measured at ~15 % of the worker's busy time (docs/benchmarks.md) — a cost paid even when, as here,
there is no payload codec and no external storage, so that the answer selects nothing: the passes hand every payload
back unchanged whatever the context.

`ContextFreeSandboxedRunner` wraps the SDK's `SandboxedWorkflowRunner`: workflow code still runs inside the sandbox
(the same instance, the same restrictions, the same determinism guard); only those two questions are answered from
outside, with the workflow's own context. It refuses a data converter with a codec or external storage, where the
per-command context is what the codec keys on.
"""

from __future__ import annotations

from collections.abc import Sequence

import temporalio.converter
from temporalio.bridge.proto.workflow_activation import WorkflowActivation
from temporalio.bridge.proto.workflow_completion import WorkflowActivationCompletion
from temporalio.converter import StorageDriverStoreContext
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.workflow import Info, _Definition

# With no external storage configured the store context is never read (DataConverter._with_store_context).
_NO_STORE_CONTEXT = StorageDriverStoreContext(target=None)


class ContextFreeSandboxedRunner(WorkflowRunner):
    def __init__(self, data_converter: temporalio.converter.DataConverter,
                 sandboxed: SandboxedWorkflowRunner | None = None) -> None:
        if data_converter.payload_codec is not None or data_converter.external_storage is not None:
            raise ValueError("ContextFreeSandboxedRunner needs a data converter without a payload codec or external "
                             "storage: with them the serialization context selects how payloads are encoded")
        self._sandboxed = sandboxed or SandboxedWorkflowRunner()

    def prepare_workflow(self, defn: _Definition) -> None:
        self._sandboxed.prepare_workflow(defn)

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _ContextFreeInstance(self._sandboxed.create_instance(det))

    def set_worker_level_failure_exception_types(self, types: Sequence[type[BaseException]]) -> None:
        self._sandboxed.set_worker_level_failure_exception_types(types)


class _ContextFreeInstance(WorkflowInstance):
    def __init__(self, sandboxed: WorkflowInstance) -> None:
        self._sandboxed = sandboxed
        info = sandboxed.get_info()
        # What the sandboxed instance answers for payloads not tied to a command (its default).
        self._context = temporalio.converter.WorkflowSerializationContext(
            namespace=info.namespace, workflow_id=info.workflow_id
        )

    def activate(self, act: WorkflowActivation) -> WorkflowActivationCompletion:
        return self._sandboxed.activate(act)

    def get_serialization_context(self, command_info: object) -> temporalio.converter.SerializationContext | None:
        return self._context

    def get_external_store_context(self, command_info: object) -> StorageDriverStoreContext:
        return _NO_STORE_CONTEXT

    def get_info(self) -> Info:
        return self._sandboxed.get_info()

    def get_thread_id(self) -> int | None:
        return self._sandboxed.get_thread_id()
