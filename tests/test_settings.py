import os
import subprocess
import sys

import pytest

from ephemeral_vault.settings import REPO_ROOT, Settings


def test_settings_read_the_environment(monkeypatch):
    monkeypatch.setenv("SOLANA_RPC_URL", "http://rpc.example:8899")
    monkeypatch.setenv("TEMPORAL_TASK_QUEUE", "q1")
    s = Settings()
    assert s.solana_rpc_url == "http://rpc.example:8899"
    assert s.temporal_task_queue == "q1"
    assert s.database_url is None


@pytest.mark.parametrize("program", [
    ["worker.py"], ["-m", "api"], ["-m", "localnet"], ["-m", "demo"], ["-m", "ephemeral_vault.db.migrate"],
    ["-m", "ephemeral_vault.custody.rotate"], ["-m", "ephemeral_vault.custody.keygen", "pkcs11"],
], ids=" ".join)
def test_a_malformed_environment_stops_each_program_with_the_variables_named_not_a_traceback(program):
    env = {**os.environ, "API_PORT": "not-a-port", "WORKER_METRICS_ADDRESS": "localhost:9464",
           "WORKER_STICKY_SCHEDULE_TO_START_SECONDS": "0"}
    done = subprocess.run([sys.executable, *program], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert lines[0] == "invalid configuration:"
    assert any(line.startswith("  API_PORT: Input should be a valid integer") for line in lines)
    assert any(line.startswith("  WORKER_METRICS_ADDRESS: Value error, 'localhost:9464' is not IP:port")
               for line in lines)
    assert any(line.startswith("  WORKER_STICKY_SCHEDULE_TO_START_SECONDS: Input should be greater than or equal")
               for line in lines)
    assert "not-a-port" not in done.stderr  # values are not echoed: some variables hold secrets
