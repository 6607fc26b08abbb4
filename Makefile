# rankstream: `make run` and `make test` do all their own set-up. `make help` lists targets.
SHELL := bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# $(DEPS): the venv with the dependencies, the dev tools and the pinned build tools
# (pyproject.toml's lists), made again only when pyproject.toml changes. $(STAMP): rankstream
# installed editable with its engine core (rust/ -> streams.engine._core) built from the
# current sources: a change in rust/ reruns only that step, and cargo rebuilds what changed.
STAMP := $(VENV)/.installed
DEPS := $(VENV)/.deps
CORE_SRC := rust-toolchain.toml rust/Cargo.toml rust/Cargo.lock $(shell find rust/src -name '*.rs')
# One interpreter path for every core build: pyo3's build script, and so the whole core, is
# rebuilt (~10 s) whenever PYO3_PYTHON differs from the last build's.
CORE_ENV := PYO3_PYTHON=$(CURDIR)/$(BIN)/python3
RUST_CHANNEL := $(shell sed -n 's/^channel *= *"\(.*\)"$$/\1/p' rust-toolchain.toml)

.PHONY: help install run replay-example test test-unit test-integration test-e2e lint fmt \
        schemas schemas-check docs docs-check browser bench bench-engine bench-e2e bench-state \
        bench-query bench-bridge bench-report redis-up redis-down clean \
        docker-up image compose-images test-image wheel rust-toolchain test-rust

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "} {printf "  %-16s %s\n", $$1, $$2}'

# The build tools live in the venv, so the project installs without build isolation and a
# core rebuild downloads nothing; a core that fails to compile leaves the dependencies in place.
$(DEPS): pyproject.toml | rust-toolchain
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/python -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb")); \
	  print(*p["build-system"]["requires"], *p["project"]["dependencies"], \
	        *p["project"]["optional-dependencies"]["dev"], sep="\n")' > $(VENV)/requirements.txt
	$(BIN)/pip install --quiet -r $(VENV)/requirements.txt
	touch $@

# setuptools-rust runs cargo (release, --locked) and puts streams/engine/_core*.so beside the
# Python sources, which the editable install serves.
$(STAMP): $(DEPS) $(CORE_SRC) | rust-toolchain
	$(CORE_ENV) $(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

install: $(STAMP) ## create .venv, install rankstream with its dev tools, build the Rust core

# rust-toolchain.toml pins the channel; RUSTUP_AUTO_INSTALL=0 and the lack of a network keep
# rustup from downloading it. When rustup lacks that toolchain but its stable one is that
# release, the pinned name is pointed at it (rustup refuses `toolchain link` for an official
# name, so a symlink). Any other mismatch is left to rustup, which says what is missing.
rust-toolchain:
	@command -v rustup >/dev/null || exit 0; \
	rustup toolchain list | grep -q '^$(RUST_CHANNEL)-' && exit 0; \
	sysroot="$$(rustup run stable rustc --print sysroot 2>/dev/null)" || exit 0; \
	[[ "$$(rustup run stable rustc --version)" == "rustc $(RUST_CHANNEL) "* ]] || exit 0; \
	host="$$(rustup run stable rustc -vV | sed -n 's/^host: //p')"; \
	echo "rustup: $(RUST_CHANNEL)-$$host -> $$sysroot (the installed stable is $(RUST_CHANNEL))"; \
	ln -sfn "$$sysroot" "$$(rustup show home)/toolchains/$(RUST_CHANNEL)-$$host"

# SOURCE_DATE_EPOCH: fixed dates in the zip, so unchanged sources give the same bytes and the
# image build keeps its cached layers. build/ goes before and after: setuptools packs what's in it.
wheel: $(STAMP) ## build the installable wheel (compiled engine inside) into dist/; prints its path
	rm -rf build dist/rankstream-*.whl
	SOURCE_DATE_EPOCH=315532800 $(CORE_ENV) \
	  $(BIN)/pip wheel --quiet --no-deps --no-build-isolation --wheel-dir dist .
	rm -rf build
	@ls dist/rankstream-*.whl

run: $(STAMP) ## the stream job on local Kafka with a demo feed; live boards until Ctrl-C
	@bash deploy/run-local.sh

replay-example: $(STAMP) ## replay examples/events.jsonl and print the resulting boards
	@mkdir -p var
	$(BIN)/rankstream replay --boards examples/boards.toml --now 2026-11-30T00:00:00Z \
	  --dlq var/replay-dead-letters.jsonl < examples/events.jsonl > var/replay-changes.jsonl
	@$(BIN)/python -m streams.show var/replay-changes.jsonl
	@echo "records: var/replay-changes.jsonl   dead letters: var/replay-dead-letters.jsonl"

test: $(STAMP) lint schemas-check docs-check test-rust kafka-up rabbitmq-up browser test-image ## everything CI runs (starts Kafka, RabbitMQ and Docker)
	$(BIN)/pytest tests --ignore=tests/image

docker-up: ## install (once, apt: docker.io, debootstrap, docker-compose) and start Docker
	@bash deploy/container/docker-up.sh

image: docker-up wheel ## build the rankstream image from the wheel (rankstream:dev; debootstrap base)
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

test-rust: | rust-toolchain ## the engine core's own Rust unit tests (no Python, no services)
	cd rust && cargo test --locked --quiet

lint: $(STAMP) ## ruff, ruff format --check, mypy; cargo fmt --check and clippy; changes nothing
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	cd rust && cargo fmt --check
	cd rust && $(CORE_ENV) cargo clippy --locked --quiet --all-targets --all-features -- -D warnings

fmt: $(STAMP) ## apply ruff's fixes and formatting, and cargo fmt
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	cd rust && cargo fmt

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

clean: ## remove the venv, caches, local data (var/) and build output (rust/target, dist/)
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist rust/target \
	  streams/engine/_core*.so

include deploy/services.mk
