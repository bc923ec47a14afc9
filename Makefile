# codeloop — build, test, demo, bench. Everything a fresh machine needs is
# installed by these targets (Rust toolchain components via rustup).

SHELL := /bin/bash
CARGO ?= cargo
CODELOOP := target/debug/codeloop
MOCK := target/debug/codeloop-mock-server
DEMO_CASSETTE := examples/demo/cassette.json

# The Python SDK is built and tested in a virtualenv this Makefile creates,
# with pinned tools (bump them here).
VENV := .venv
VENV_BIN := $(VENV)/bin
PY_TOOLS := maturin==1.16.0 pytest==9.2.0 ruff==0.17.5 mypy==2.4.1
PY_WHEEL_DIR := target/python-wheel
PY_SOURCES := python examples/python bench/python

.PHONY: all build test test-codex-sdk lint lint-python fmt schema demo demo-cassette bench \
	bench-python bench-sandbox toolchain clean python python-venv test-python pytest-python

all: build

toolchain:
	@rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
	@rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt

build:
	$(CARGO) build

lint: toolchain lint-python
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

# Regenerate the committed protocol schema after changing protocol types.
schema:
	CODELOOP_UPDATE_SCHEMA=1 $(CARGO) test -p codeloop-core --lib schema

test: lint
	$(CARGO) build
	$(CARGO) test --no-fail-fast
	$(MAKE) test-codex-sdk
	$(MAKE) pytest-python

# The real @openai/codex-sdk drives the codeloop binary (its codexPathOverride).
test-codex-sdk:
	cd tests/codex-sdk && npm ci --omit=optional --no-audit --no-fund --loglevel=error
	cd tests/codex-sdk && node --test

# The main job: an agent fixes the failing test in examples/sample-repo.
# Without OPENAI_API_KEY it replays a committed cassette (no key, no network);
# with it (or PROVIDER=ollama) the same run goes to a real model.
demo: build
	@bash examples/demo/run.sh

# Re-record the demo cassette from the scripted model in examples/demo/model-script.json.
demo-cassette: build
	@bash examples/demo/record.sh

bench:
	$(CARGO) build --release -p codeloop-cli -p codeloop-bench
	target/release/codeloop-bench

# Starting /bin/true unconfined vs sandboxed (and vs bwrap when installed).
bench-sandbox:
	$(CARGO) build --release -p codeloop-bench --bin codeloop-bench-sandbox
	target/release/codeloop-bench-sandbox

# ------------------------------------------------------------- Python SDK

$(VENV)/.tools: Makefile
	python3 -m venv $(VENV)
	$(VENV_BIN)/pip install --quiet --disable-pip-version-check $(PY_TOOLS)
	touch $@

python-venv: $(VENV)/.tools

# Build the real wheel (abi3, debug profile: it shares cargo's build cache)
# and install it into the virtualenv.
python: $(VENV)/.tools
	rm -rf $(PY_WHEEL_DIR)
	$(VENV_BIN)/maturin build --quiet --profile dev --out $(PY_WHEEL_DIR)
	$(VENV_BIN)/pip install --quiet --disable-pip-version-check --force-reinstall --no-deps \
		$(PY_WHEEL_DIR)/codeloop-*.whl

lint-python: $(VENV)/.tools
	$(VENV_BIN)/ruff check $(PY_SOURCES)
	$(VENV_BIN)/ruff format --check $(PY_SOURCES)
	$(VENV_BIN)/mypy --strict python/codeloop

# pytest over the installed wheel and the mock model server; stubtest checks
# python/codeloop/_native.pyi against the built extension.
pytest-python: python
	$(CARGO) build -p codeloop-mock-server
	$(VENV_BIN)/python -m mypy.stubtest codeloop._native
	$(VENV_BIN)/pytest python/tests

test-python: lint-python pytest-python

# Python SDK benchmarks against a release wheel (not part of `make test`).
bench-python: $(VENV)/.tools
	rm -rf target/python-wheel-release
	$(VENV_BIN)/maturin build --quiet --release --out target/python-wheel-release
	$(VENV_BIN)/pip install --quiet --disable-pip-version-check --force-reinstall --no-deps \
		target/python-wheel-release/codeloop-*.whl
	$(CARGO) build --release -p codeloop-mock-server
	$(VENV_BIN)/python bench/python/bench.py --mock target/release/codeloop-mock-server

clean:
	$(CARGO) clean
