# Ephemeral Vault — every entry point. `make run` and `make test` set up what is missing first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: help venv toolchain node-deps program idl test lint run demo bench bench-program bench-localnet bench-rpc-transport bench-orchestration bench-api migrate clean

help:
	@echo "make run      start the whole stack locally (embedded PostgreSQL, Temporal dev server, local chain, worker, API)"
	@echo "make test     set everything up and run the full test suite"
	@echo "make program  build programs/ephemeral_vault/target/deploy/ephemeral_vault.so with clang-19 + our SBF linker"
	@echo "make demo     play a frontend against the running stack (DEMO_ARGS=--expire to let the session expire)"
	@echo "make bench    print benchmark figures"

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.lock
	touch $(STAMP)

venv: $(STAMP)

# Debian packages: clang-19 builds the program, softhsm2 is the PKCS#11 token of the custody tests; zstd, curl,
# Node.js and npm are used by tests (compressed account reads, the curl examples, the official JS client).
toolchain:
	@scripts/ensure-apt.sh clang-19=clang-19 softhsm2-util=softhsm2 zstd=zstd curl=curl node=nodejs npm=npm

# npm packages the tests use (the Compose schema; the official Solana JS client). Each folder pins its own lockfile.
NODE_DIRS := $(patsubst %/package.json,%,$(shell find tests -name package.json -not -path '*/node_modules/*'))
node-deps:
	@for d in $(NODE_DIRS); do \
	  [ "$$d/node_modules/.package-lock.json" -nt "$$d/package-lock.json" ] || npm ci --prefix "$$d" --no-audit --no-fund --silent; \
	done

lint: venv
	$(VENV)/bin/ruff check .

test: venv toolchain node-deps
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

# Compute units per instruction (LiteSVM, real loader) beside Anchor's published figures, and the .so size.
bench-program: venv toolchain
	$(PY) -m tests.program.bench_program

# Confirmed sendTransaction+confirmation throughput of the local chain (tx/s) with 1 and 8 concurrent clients.
bench-localnet: venv
	$(PY) -m localnet.bench

# Session lifecycles/s beside the raw Temporal ceiling, and POST /session/create latency beside a bare FastAPI +
# Temporal start, on a stack of their own (free ports). BENCH_SCALE=small for a quick run; docs/benchmarks.md.
bench-orchestration: venv toolchain
	$(PY) -m bench orchestration $(BENCH_ARGS)

bench-api: venv toolchain
	$(PY) -m bench api $(BENCH_ARGS)

# CPU per JSON-RPC request of the chain client's HTTP transport (aiohttp) beside solana-py's own (httpx).
bench-rpc-transport: venv
	$(PY) -m bench.rpc_transport

bench: bench-program bench-localnet bench-rpc-transport bench-orchestration bench-api

# The IDL (both formats) and src/discriminators.h, generated from programs/ephemeral_vault/idl.py.
idl: venv
	$(PY) -m programs.ephemeral_vault.idl

# clang-19 compiles each programs/ephemeral_vault/src/*.c to a BPF object; programs/sbflink links the SBPF v0 .so.
program: venv toolchain
	$(PY) -m programs.build

# The whole stack on embedded defaults: PostgreSQL, Temporal dev server (UI :8233), local chain, worker, API (:8000).
run: venv toolchain
	$(PY) -m devstack

# Plays a frontend against the stack `make run` started: open, deposit, trade, revoke (DEMO_ARGS=--expire: expire).
demo: venv
	$(PY) -m demo $(DEMO_ARGS)

# Applies migrations/ to DATABASE_URL, or to the embedded server under EMBEDDED_PG_DIR (started and left running).
migrate: venv
	$(PY) -m ephemeral_vault.db.migrate

clean:
	rm -rf .pytest_cache .ruff_cache .hypothesis
