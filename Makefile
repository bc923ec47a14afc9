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
# What python/tests import besides codeloop (the structured-output tests'
# pydantic models; the SDK itself never needs pydantic).
PY_TEST_DEPS := pydantic==2.14.3
PY_WHEEL_DIR := target/python-wheel
PY_SOURCES := python examples/python bench/python

.PHONY: all build test test-codex-sdk lint lint-python fmt schema demo demo-cassette bench \
	bench-python bench-sandbox bench-mcp toolchain clean python python-venv test-python pytest-python \
	ffi header go test-c test-go test-go-examples bench-go lint-go \
	node test-node lint-node bench-node bench-codex-compare mcp-deps test-mcp-server

all: build

toolchain:
	@rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
	@rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt

build:
	$(CARGO) build

lint: toolchain lint-python lint-go lint-node
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

# Regenerate the committed protocol schema after changing protocol types.
schema:
	CODELOOP_UPDATE_SCHEMA=1 $(CARGO) test -p codeloop-core --lib schema

# The workspace `cargo test` builds codeloop-core with its `otel` feature
# (the CLI and SDK crates enable it), so core's tests/otel.rs runs there too.
test: lint mcp-deps
	$(CARGO) build
	$(CARGO) test --no-fail-fast
	$(MAKE) test-mcp-server
	$(MAKE) test-codex-sdk
	$(MAKE) pytest-python
	$(MAKE) test-c
	$(MAKE) test-go
	$(MAKE) test-node

# The real MCP servers the core's MCP tests run against (core/tests/suite/mcp.rs):
# server-everything and server-filesystem from npm, FastMCP (and the `mcp`
# client) from PyPI into the virtualenv.
MCP_STAMP := tests/mcp/node_modules/.installed
mcp-deps: $(MCP_STAMP)

# Installed once per lock-file change (npm ci wipes node_modules, stamp included).
$(MCP_STAMP): tests/mcp/package-lock.json tests/mcp/requirements.txt $(VENV)/.tools
	cd tests/mcp && npm ci --no-audit --no-fund --loglevel=error
	$(VENV_BIN)/pip install --quiet --disable-pip-version-check -r tests/mcp/requirements.txt
	touch $@

# `codeloop mcp-server` driven by the official `mcp` Python client, on the mock model.
test-mcp-server: mcp-deps
	$(CARGO) build -p codeloop-cli -p codeloop-mock-server
	$(VENV_BIN)/pytest tests/mcp

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

# The Codex CLI and codeloop driven by the same @openai/codex-sdk against the
# same mock model: wall time and peak RSS per turn (installs the ~400 MB
# Codex CLI package; not part of `make test`).
bench-codex-compare:
	$(CARGO) build --release -p codeloop-cli -p codeloop-mock-server
	cd bench/codex-compare && npm ci --no-audit --no-fund --loglevel=error
	cd bench/codex-compare && node bench.mjs

# What an MCP server costs: start + tools/list, and one call vs one shell call.
bench-mcp: mcp-deps
	$(CARGO) build --release -p codeloop-bench --bin codeloop-bench-mcp
	target/release/codeloop-bench-mcp

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
# python/codeloop/_native.pyi against the built extension. mcp-deps brings the
# MCP server (server-everything) the tests run.
pytest-python: python mcp-deps
	$(VENV_BIN)/pip install --quiet --disable-pip-version-check $(PY_TEST_DEPS)
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

# ------------------------------------------------------------ C ABI and Go SDK

# Go never downloads a toolchain; the module has no third-party dependencies.
GO ?= go
GO_ENV := GOTOOLCHAIN=local GOFLAGS=-mod=mod
# The Go tests whose callbacks cross the C boundary, rerun with the GC
# collecting at every allocation step.
GO_GC_STRESS := 'Tool|CanUse|Panic|Hook|Cancel|Streamed|Close|Compact|Steer|Budgets|Structured|Fork|MCP'

# The C ABI: target/debug/libcodeloop_ffi.{a,so}; header bindings/ffi/include/codeloop.h.
ffi:
	$(CARGO) build -p codeloop-ffi

# Regenerate the committed C header after changing bindings/ffi/src.
header:
	CODELOOP_UPDATE_HEADER=1 $(CARGO) test -p codeloop-ffi header

# Everything the Go module links and tests against.
go: ffi
	$(CARGO) build -p codeloop-mock-server

test-c: go
	bash tests/c/run.sh

test-go: go mcp-deps
	cd go && $(GO_ENV) $(GO) test -race -count=1 ./...
	cd go && $(GO_ENV) GOGC=1 $(GO) test -count=1 -run $(GO_GC_STRESS) ./...
	$(MAKE) test-go-examples

# The Go examples run offline (replayed cassettes) and keep working.
test-go-examples: go
	cd examples/go && $(GO_ENV) $(GO) run ./quickstart | grep '^the tests now: OK' >/dev/null
	cd examples/go && $(GO_ENV) $(GO) run ./customtool | grep '^called lookup_ticket(.*) -> completed' >/dev/null
	cd examples/go && $(GO_ENV) $(GO) run ./workerpool 5 | grep -c '^agent .*ran 1 command' | grep -qx 5

# Go SDK benchmarks over a release library and mock (not part of `make test`).
bench-go:
	$(CARGO) build --release -p codeloop-ffi -p codeloop-mock-server
	cd go && CGO_LDFLAGS="$(CURDIR)/target/release/libcodeloop_ffi.a -lpthread -ldl -lm" \
		CODELOOP_MOCK_BIN=$(CURDIR)/target/release/codeloop-mock-server \
		$(GO_ENV) $(GO) test -tags codeloop_custom_link -run '^$$' -bench . -benchtime 20x ./...

lint-go:
	@cd go && unformatted="$$(gofmt -l .)" && { [ -z "$$unformatted" ] || { echo "gofmt: $$unformatted"; exit 1; }; }
	cd go && $(GO_ENV) $(GO) vet ./...
	@cd examples/go && unformatted="$$(gofmt -l .)" && { [ -z "$$unformatted" ] || { echo "gofmt: $$unformatted"; exit 1; }; }
	cd examples/go && $(GO_ENV) $(GO) vet ./...

# ------------------------------------------------------------ Node SDK

# The addon crate is a workspace member but not a default member (a plain
# `cargo build` stays fast), so it is linted by name.
lint-node: toolchain
	$(CARGO) clippy -p codeloop-node --all-targets -- -D warnings

# The npm package from a clean clone: dev dependencies from the lockfile,
# then the debug addon (it shares cargo's build cache) and its typings.
node:
	npm ci --no-audit --no-fund --loglevel=error
	npm run build

# node:test over the real addon and the mock model server, then tsc over
# the typings, a typed usage file and the examples.
test-node: node mcp-deps
	$(CARGO) build -p codeloop-mock-server
	node --test node/test/*.test.mjs
	npx tsc -p node/tsconfig.json

# Node SDK benchmarks against a release addon (not part of `make test`).
bench-node:
	npm ci --no-audit --no-fund --loglevel=error
	npm run build:release
	$(CARGO) build --release -p codeloop-mock-server
	node bench/node/bench.mjs --mock target/release/codeloop-mock-server
