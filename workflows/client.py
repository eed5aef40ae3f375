"""Client-side helpers for starting a session the way the design says: update-with-start, with the static summary
operators see in the Temporal UI and the search attributes set from the first event.

The API may call `create_session` directly, or build the same `WithStartWorkflowOperation` with
`session_start_operation` and send `CREATE_UPDATE` itself.
"""

from __future__ import annotations

from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.service import RPCError, RPCStatusCode

from workflows.messages import (
    CREATE_UPDATE,
    SA_PARENT_WALLET,
    SA_SESSION_STATUS,
    SA_VAULT_PDA,
    SESSION_WORKFLOW_NAME,
    CreateSessionRequest,
    CreateSessionResult,
    SessionState,
    SessionWorkflowInput,
    workflow_id_for,
)


def static_summary(req: CreateSessionRequest) -> str:
    sol = req.max_deposit_lamports / 1_000_000_000
    return (
        f"Session {req.session_id[:8]} · parent {req.parent_wallet[:8]}… · "
        f"{req.session_duration_seconds}s · ≤{sol:g} SOL"
    )


def static_details(req: CreateSessionRequest) -> str:
    return (
        f"### Ephemeral Vault session\n"
        f"- session id: `{req.session_id}`\n"
        f"- parent wallet: `{req.parent_wallet}`\n"
        f"- duration: {req.session_duration_seconds} s, max deposit: {req.max_deposit_lamports} lamports, "
        f"initial deposit: {req.initial_deposit_lamports} lamports\n"
        f"- lifecycle: CREATED → ACTIVE → (REVOKED | EXPIRED) → CLEANED, or ABANDONED if never approved\n"
        f"- live state: the `status` query; filter with SessionStatus / ParentWallet / VaultPda\n"
    )


def session_start_kwargs(req: CreateSessionRequest, task_queue: str) -> dict[str, Any]:
    return {
        "id": workflow_id_for(req.session_id),
        "task_queue": task_queue,
        # A retried create (same session id) lands on the same workflow and gets the same answer...
        "id_conflict_policy": WorkflowIDConflictPolicy.USE_EXISTING,
        # ...but a session that ended is never restarted under the same id.
        "id_reuse_policy": WorkflowIDReusePolicy.REJECT_DUPLICATE,
        "search_attributes": TypedSearchAttributes(
            [
                SearchAttributePair(SearchAttributeKey.for_keyword(SA_SESSION_STATUS), SessionState.CREATED.value),
                SearchAttributePair(SearchAttributeKey.for_keyword(SA_PARENT_WALLET), req.parent_wallet),
            ]
        ),
        "static_summary": static_summary(req),
        "static_details": static_details(req),
    }


def session_start_operation(req: CreateSessionRequest, task_queue: str) -> WithStartWorkflowOperation:
    return WithStartWorkflowOperation(
        SESSION_WORKFLOW_NAME, SessionWorkflowInput(request=req), **session_start_kwargs(req, task_queue)
    )


async def create_session(
    client: Client, req: CreateSessionRequest, task_queue: str, *, update_with_start: bool = True
) -> CreateSessionResult:
    """Start (or join) the session's workflow and return once its key is provisioned.

    `update_with_start=False` sends the start and the update as two calls — the same workflow code path, for
    servers without ExecuteMultiOperation (the time-skipping test server).
    """
    if update_with_start:
        return await client.execute_update_with_start_workflow(
            CREATE_UPDATE,
            start_workflow_operation=session_start_operation(req, task_queue),
            result_type=CreateSessionResult,
        )
    kwargs = session_start_kwargs(req, task_queue)
    handle = await client.start_workflow(SESSION_WORKFLOW_NAME, SessionWorkflowInput(request=req), **kwargs)
    return await handle.execute_update(CREATE_UPDATE, result_type=CreateSessionResult)


SEARCH_ATTRIBUTES = (SA_SESSION_STATUS, SA_PARENT_WALLET, SA_VAULT_PDA)


async def register_search_attributes(client: Client) -> list[str]:
    """Register the Keyword search attributes operators filter sessions by; returns the names it added.

    Idempotent, so every worker calls it at start: the dev server of `make run` gets them from flags already, but a
    self-hosted cluster (docker-compose's auto-setup image) starts without them, and a workflow that upserts an
    unregistered attribute fails its task. Temporal Cloud manages attributes through its own console; there the call
    is refused and the caller logs it.
    """
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
        missing = [name for name in SEARCH_ATTRIBUTES if name not in listed.custom_attributes]
    except RPCError as exc:
        # The time-skipping test server implements AddSearchAttributes but not ListSearchAttributes.
        if exc.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        missing = list(SEARCH_ATTRIBUTES)
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=client.namespace,
                search_attributes={name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for name in missing},
            )
        )
    return missing
