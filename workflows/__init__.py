"""Temporal workflows: deterministic code only. ``workflows.messages`` is the API's contract (no temporalio worker
imports); the workflow classes live in ``workflows.session`` and ``workflows.vault_sweep``."""
