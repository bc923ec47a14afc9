# codeloop — build, test, demo, bench. Everything a fresh machine needs is
# installed by these targets (Rust toolchain components via rustup).

SHELL := /bin/bash
CARGO ?= cargo
CODELOOP := target/debug/codeloop
MOCK := target/debug/codeloop-mock-server
DEMO_CASSETTE := examples/demo/cassette.json

.PHONY: all build test test-codex-sdk lint fmt schema demo demo-cassette bench toolchain clean

all: build

toolchain:
	@rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
	@rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt

build:
	$(CARGO) build

lint: toolchain
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

clean:
	$(CARGO) clean
