"""Ephemeral Vault HTTP API: FastAPI REST + WebSocket in front of the session workflows (docs/api.md)."""
