# dtma-deploy: the common paths, chained.
#   make demo    sandbox droplet up -> deploy the agent -> smoke suite (all on this machine)
#   make test    the project's tests (unit + end to end against a real Docker engine)
#   make test-loaded   the same with one core kept busy, as on a shared machine
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
HOST    ?= sandbox
FLEET_SIZES ?= 4,8
# The sandbox publishes the agent on loopback; elsewhere the agent answers on HOST itself.
AGENT   ?= $(if $(filter sandbox,$(HOST)),127.0.0.1:30000,$(lastword $(subst @, ,$(HOST))))
ENV_FILE ?= $(if $(and $(filter sandbox,$(HOST)),$(wildcard .sandbox/sandbox/demo.env)),.sandbox/sandbox/demo.env,.env)
# `fab sandbox.up` writes ssh_config entries; use them when HOST names a sandbox.
SSH_CONFIG := $(if $(shell grep -sqx 'Host $(HOST)' .sandbox/ssh_config && echo y),-S .sandbox/ssh_config)

.PHONY: help install engine registry test test-loaded unit lint format demo deploy smoke bench bench-fleet bench-releases bench-start faults sandbox-up sandbox-down clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

$(BIN)/.installed: pyproject.toml dtma/requirements.txt requirements-dev.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[agent,dev]'
	touch $@

install: $(BIN)/.installed  ## venv with the tooling, the agent and the dev tools

engine:  ## make sure a Docker engine answers (installs and starts Debian's docker.io if needed)
	@bash scripts/ensure-docker.sh

registry:  ## make sure docker-registry is installed (the publish tests serve a real registry)
	@bash scripts/ensure-registry.sh

# The deploy's end-to-end modules run a second time against droplets whose engine uses the
# containerd image store (Docker 29's default); the first run's droplets are Docker 20.10's.
E2E_BOTH_ENGINES := tests/deploy/e2e/test_deploy.py tests/deploy/e2e/test_handover.py \
	tests/deploy/e2e/test_fleet.py tests/deploy/e2e/test_via_registry.py \
	tests/deploy/e2e/test_adopt.py tests/deploy/e2e/test_publish.py tests/faults

test: install engine registry  ## all tests: unit and end to end (real Docker, real sshd), e2e on both engine kinds
	$(BIN)/pytest
	DTMA_TEST_ENGINE=containerd $(BIN)/pytest $(E2E_BOTH_ENGINES)

test-loaded: install engine registry  ## all tests while a CPU hog keeps one core busy (a shared CI machine)
	bash scripts/with-busy-core.sh $(BIN)/pytest
	DTMA_TEST_ENGINE=containerd bash scripts/with-busy-core.sh $(BIN)/pytest $(E2E_BOTH_ENGINES)

unit: install  ## only the tests that need no Docker engine
	$(BIN)/pytest -m 'not e2e'

lint: install  ## ruff check + format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

demo: install engine  ## sandbox up -> deploy -> smoke, all on this machine
	$(BIN)/fab demo

deploy: install  ## deploy to HOST (make deploy HOST=root@droplet ENV_FILE=.env)
	$(BIN)/fab $(SSH_CONFIG) -H $(HOST) deploy --env-file $(ENV_FILE)

smoke: install  ## smoke suite against HOST's agent (make smoke HOST=root@droplet ENV_FILE=.env)
	PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 $(BIN)/pytest -p no:cacheprovider smoke_tests --host $(AGENT) --env-file $(ENV_FILE)

# `make bench` keeps to ~20 minutes on 2 cores; the fleet (another ~10) is `make bench-fleet`.
bench: install engine  ## agent start, redeploy vs plain (loopback, 50 Mbit/s, 50 Mbit/s + 30 ms, containerd store), releases under load
	$(BIN)/python -m bench.agent_start
	$(BIN)/python -m bench.redeploy
	$(BIN)/python -m bench.redeploy --engine containerd --links loopback --cases code,nochange
	$(BIN)/python -m bench.releases
	$(BIN)/python -m bench.summary

bench-releases: install engine  ## each release kind under fresh-connection load, loopback and 50 Mbit/s
	$(BIN)/python -m bench.releases

bench-fleet: install engine registry  ## one host vs a fleet (code change); 8 fresh droplets' first deploy, straight vs --registry, 50 Mbit/s uplink
	$(BIN)/python -m bench.fleet --hosts $(FLEET_SIZES)
	$(BIN)/python -m bench.first_deploy --hosts 8
	$(BIN)/python -m bench.docs_page

bench-start: install  ## agent start -> first /health 200, idle and with one core busy
	$(BIN)/python -m bench.agent_start

faults: install engine  ## fault matrix against sandbox droplets
	$(BIN)/python -m bench.faults

sandbox-up: install engine
	$(BIN)/fab sandbox.up

sandbox-down: install
	$(BIN)/fab sandbox.down

clean:  ## remove the venv and local state (not the Docker images)
	rm -rf $(VENV) .pytest_cache .ruff_cache reports
