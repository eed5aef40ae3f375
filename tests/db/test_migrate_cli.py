"""`python -m ephemeral_vault.db.migrate` with a DATABASE_URL that cannot be used: one clear line, a non-zero exit, no
traceback, and never the URL itself (it may carry a password)."""

from __future__ import annotations

import os

import pytest

from tests.db.test_migrate import run_cli

PASSWORD = "s3cret-pw-do-not-print"


@pytest.mark.parametrize(("url", "reason"), [
    (f"postgresql://ev:{PASSWORD}@127.0.0.1:abc/ev", "invalid literal for int() with base 10: 'abc'"),
    (f"postgresql://ev:{PASSWORD}@127.0.0.1:5432/ev?sslmode=bogus", "`sslmode` parameter must be one of"),
    (f"postgresql://ev:{PASSWORD}@127.0.0.1:99999/ev", "port must be 0-65535"),
    (f"postgresql://ev:{PASSWORD}@[::1/ev", "Invalid IPv6 URL"),
    (f"mysql://ev:{PASSWORD}@127.0.0.1/ev", 'scheme is expected to be either "postgresql" or "postgres"'),
    (f"postgresql://127.0.0.1:abc/ev?password={PASSWORD}", "invalid literal for int()"),
])
async def test_cli_rejects_an_unusable_database_url_without_echoing_it(url: str, reason: str) -> None:
    rc, out, err = await run_cli({**os.environ, "DATABASE_URL": url})
    assert rc == 1, (out, err)
    assert err.startswith("migrate: DATABASE_URL is not a usable PostgreSQL URL: "), err
    assert reason in err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert PASSWORD not in err + out
    assert url not in err + out
