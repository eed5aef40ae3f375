pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.localnet",
    "tests.fixtures.temporal",
    "tests.fixtures.redact_keys",
]
