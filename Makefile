# rankstream: `make run` and `make test` do all their own set-up. `make help` lists targets.
SHELL := bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help install run replay-example test test-unit test-integration test-e2e lint fmt \
        schemas schemas-check docs docs-check browser bench bench-engine bench-e2e bench-state \
        bench-query bench-bridge bench-report redis-up redis-down clean \
        docker-up image compose-images test-image

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | \
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

test: $(STAMP) lint schemas-check docs-check kafka-up rabbitmq-up browser test-image ## everything CI runs (starts Kafka, RabbitMQ and Docker)
	$(BIN)/pytest tests --ignore=tests/image

docker-up: ## install (once, apt: docker.io, debootstrap, docker-compose) and start Docker
	@bash deploy/container/docker-up.sh

image: docker-up ## build the rankstream image (rankstream:dev; base image made by debootstrap)
	@bash deploy/container/build.sh rankstream

compose-images: docker-up kafka-up ## build the compose file's Kafka and RabbitMQ images
	@bash deploy/container/build.sh kafka rabbitmq

test-image: $(STAMP) kafka-up image ## build the image, run a worker container against Kafka, check compose
	$(BIN)/pytest tests/image

test-e2e: $(STAMP) kafka-up browser ## the browser test of the live page (headless Chromium)
	$(BIN)/pytest tests/e2e

browser: ## install headless Chromium + chromedriver for the browser test (apt, once)
	@bash deploy/browser/install.sh

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

docs: $(STAMP) ## regenerate docs/settings.md from the Settings class
	$(BIN)/python -m streams.apps.settings_doc

docs-check: $(STAMP) ## fail when docs/settings.md drifted from the Settings class
	$(BIN)/python -m streams.apps.settings_doc --check

BENCH_GUARANTEE ?= exactly_once
REDIS_PORT ?= 6390

bench-engine: $(STAMP) ## legs 1 + 4: replay vs json.loads floor at 10k/100k/1M users, and Redis
	$(BIN)/python -m bench.engine_bench --sweep --repeat 2 --redis-port $(REDIS_PORT) \
	  --redis-repeat 1

bench-e2e: $(STAMP) kafka-up ## legs 2 + 3: worker vs raw passthrough and Redis, latency; hot board
	$(BIN)/python -m bench.e2e_bench --guarantee $(BENCH_GUARANTEE) --redis-port $(REDIS_PORT)
	$(BIN)/python -m bench.e2e_bench --guarantee $(BENCH_GUARANTEE) --event-boards 1 \
	  --loads 0.5 --json-out bench/results/e2e-hot.json

bench-state: $(STAMP) kafka-up ## legs 5 + 6: cold/warm restart, RSS per user, flat over rollovers
	$(BIN)/python -m bench.state_bench --guarantee $(BENCH_GUARANTEE)

bench-query: $(STAMP) ## leg 7: top-N and exact-rank latency on a 1,000,000-user window
	$(BIN)/python -m bench.query_bench --users 1000000 --out bench/results/query.json

bench-bridge: $(STAMP) kafka-up rabbitmq-up ## bridge messages/s in each direction (one run)
	$(BIN)/python -m bench.bridge_bench --json-out bench/results/bridge.json

bench-report: $(STAMP) ## the table, bench/results/summary.json and bench/results/bench.png
	$(BIN)/python -m bench.report

bench: $(STAMP) kafka-up ## all legs (~20 min; not part of `make test`); BENCH_GUARANTEE=at_least_once to compare
	@# A leg that fails must show as "not run", not as an older run's figures.
	rm -f $(addprefix bench/results/,engine.json e2e.json e2e-hot.json state.json query.json bridge.json)
	-$(MAKE) --no-print-directory bench-engine
	-$(MAKE) --no-print-directory bench-e2e
	-$(MAKE) --no-print-directory bench-state
	-$(MAKE) --no-print-directory bench-query
	-$(MAKE) --no-print-directory bench-bridge
	$(MAKE) --no-print-directory bench-report

redis-up: ## install (once, apt) and start the benchmark's private Redis on $(REDIS_PORT)
	@REDIS_PORT=$(REDIS_PORT) bash deploy/redis/up.sh

redis-down: ## stop the benchmark's private Redis
	@REDIS_PORT=$(REDIS_PORT) bash deploy/redis/down.sh

clean: ## remove the venv, caches and local data (var/)
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis

include deploy/services.mk
