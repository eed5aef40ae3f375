from ephemeral_vault.settings import Settings


def test_settings_read_the_environment(monkeypatch):
    monkeypatch.setenv("SOLANA_RPC_URL", "http://rpc.example:8899")
    monkeypatch.setenv("TEMPORAL_TASK_QUEUE", "q1")
    s = Settings()
    assert s.solana_rpc_url == "http://rpc.example:8899"
    assert s.temporal_task_queue == "q1"
    assert s.database_url is None
