"""Shared domain code of Ephemeral Vault: settings, key custody, persistence, deposit sizing, chain client."""
