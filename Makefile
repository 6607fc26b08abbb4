# rankstream: `make run` and `make test` do all their own set-up. `make help` lists targets.
SHELL := bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help install run replay-example test test-unit test-integration test-known-bugs lint fmt schemas schemas-check \
        bench bench-engine bench-worker bench-bridge clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "} {printf "  %-16s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(STAMP) ## create .venv and install rankstream with its dev tools

run: $(STAMP) ## the stream job on local Kafka with a demo feed; live boards until Ctrl-C
	@bash deploy/run-local.sh

replay-example: $(STAMP) ## replay examples/events.jsonl and print the resulting boards
	@mkdir -p var
	$(BIN)/rankstream replay --boards examples/boards.toml --now 2026-11-30T00:00:00Z \
	  --dlq var/replay-dead-letters.jsonl < examples/events.jsonl > var/replay-changes.jsonl
	@$(BIN)/python -m streams.show var/replay-changes.jsonl
	@echo "records: var/replay-changes.jsonl   dead letters: var/replay-dead-letters.jsonl"

test: $(STAMP) lint schemas-check kafka-up rabbitmq-up ## everything CI runs (starts the local Kafka and RabbitMQ)
	$(BIN)/pytest tests

test-known-bugs: $(STAMP) kafka-up rabbitmq-up ## reproductions of open bugs (expected to fail now and then)
	$(BIN)/pytest -m known_bug tests

test-integration: $(STAMP) kafka-up rabbitmq-up ## integration tests only (real Kafka and RabbitMQ)
	$(BIN)/pytest tests/integration

test-unit: $(STAMP) ## unit tests only (no services)
	$(BIN)/pytest tests/unit

lint: $(STAMP) ## ruff, ruff format --check and mypy; changes nothing
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: $(STAMP) ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

schemas: $(STAMP) ## regenerate schemas/*.schema.json from the pydantic models
	$(BIN)/python -m schemas.export

schemas-check: $(STAMP) ## fail when schemas/*.schema.json drifted from the models
	$(BIN)/python -m schemas.export --check

bench-engine: $(STAMP) ## replay throughput vs the json.loads floor (200k events)
	$(BIN)/python -m bench.engine_bench

bench-worker: $(STAMP) kafka-up ## one worker end to end on the local Kafka (20k events)
	$(BIN)/python -m bench.worker_bench

bench-bridge: $(STAMP) kafka-up rabbitmq-up ## bridge messages/s in each direction (one run)
	$(BIN)/python -m bench.bridge_bench

bench: bench-engine bench-worker bench-bridge ## all benchmarks (not part of `make test`)

clean: ## remove the venv, caches and local data (var/)
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis

include deploy/services.mk
