# paddleocr-fleet: `make demo` runs the product on a local sandbox host, `make test` tests it.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
BIN := $(VENV)/bin
export PADDLEOCR_FLEET_CACHE ?= $(HOME)/.cache/paddleocr-fleet
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(BIN):$(PATH)
MIRROR_PORT ?= 8900
DEMO_PORT ?= 18866

.PHONY: help bootstrap images wheelhouse mirror registry sandbox-inputs demo demo-clean lint syntax unit check molecule \
	integration unit-slow molecule-default molecule-fleet molecule-gpu-stack operator test collection bench bench-converge locks models-lock models-mirror role-docs clean

help:
	@echo "make demo   converge site.yml on a local sandbox host and print a real OCR answer"
	@echo "make test   lint, syntax, unit tests and molecule (converge, idempotence, verify)"
	@echo "make check  the fast tier: lint, syntax, unit"
	@echo "make bench  engine alone, the service and the official serving mode on the demo host (URL=... any host)"

bootstrap:
	@scripts/bootstrap.sh

images: bootstrap
	@scripts/build-sandbox-image.sh

wheelhouse: bootstrap
	@scripts/wheelhouse.sh

mirror: bootstrap
	@scripts/mirror-start.sh

registry: bootstrap
	@scripts/registry-start.sh

# Everything the sandbox host needs from the controller.
sandbox-inputs: images wheelhouse mirror

# The demo host is Debian 12 serving the default set, PP-OCRv6 small, on the onnxruntime image: the demo fetches
# nothing else (no bullseye, no Paddle or GPU wheels, no Paddle-format models).
demo: export SANDBOX_SUITES = bookworm
demo: export WHEELHOUSE_PARTS = onnxruntime
demo: export MIRROR_PADDLE_SETS = 0
demo: sandbox-inputs
	@set -e; start=$$(date +%s); \
	ansible-playbook playbooks/sandbox.yml -e sandbox_port=$(DEMO_PORT); \
	ansible-playbook site.yml; \
	echo "== site.yml converged in $$(( $$(date +%s) - start )) s; OCR answer of the sample image:"; \
	paddleocr-check 127.0.0.1:$(DEMO_PORT)

demo-clean: bootstrap
	ansible-playbook playbooks/sandbox.yml -e sandbox_state=absent

# mypy checks the files pyproject.toml's [tool.mypy] names: the package, the plugins, tests/support and the image's server.
lint: bootstrap
	yamllint --strict .
	ansible-lint --profile production
	ruff check src tests molecule bench plugins roles/paddleocr_image/files \
		roles/paddleocr_service/files/paddleocr-ready roles/paddleocr_lb/files/paddleocr-lb-server
	mypy

syntax: bootstrap
	ansible-playbook --syntax-check site.yml playbooks/*.yml

unit: bootstrap
	pytest -q -n auto tests --ignore=tests/integration -m "not slow" --durations=10

# Unit tests that run role tasks for real with ansible-playbook (progress lines, apt_repository): make test only.
unit-slow: bootstrap
	pytest -q -n auto tests --ignore=tests/integration -m slow --durations=15

# Side by side, each target's output kept together: the unit tests' last stragglers leave a core to the linters.
check: bootstrap
	$(MAKE) --no-print-directory --output-sync=target -j3 lint syntax unit

# The collection paddleocr.fleet as users get it: the tarball built from galaxy.yml, installed into
# build/collections (molecule's default scenario converges from there, not from the checkout).
COLLECTION_VERSION := $(shell sed -n 's/^version: *//p' galaxy.yml)
collection: bootstrap
	rm -rf build/collections
	ansible-galaxy collection build --force --output-path build .
	ansible-galaxy collection install --no-deps --force -p build/collections build/paddleocr-fleet-$(COLLECTION_VERSION).tar.gz

# The steps that use the caches take them as prerequisites; make test fills the caches once, then runs these
# steps side by side with INPUTS= so that none refreshes a cache another lane is reading.
INPUTS ?= sandbox-inputs registry collection

# The docker-exec scenarios as root, default from the installed collection; then the production path: the fleet scenario run by a non-root
# operator without sudo (scripts/as-operator.sh), reaching its hosts over SSH as a sudo user.
# The shared settings by path: molecule finds .config/molecule/config.yml by itself only in a git checkout, and the
# operator's copy (scripts/as-operator.sh) is none.
MOLECULE := molecule --base-config .config/molecule/config.yml
molecule: molecule-default molecule-gpu-stack molecule-fleet

molecule-default: $(INPUTS)
	$(MOLECULE) test -s default

molecule-fleet: $(INPUTS)
	scripts/as-operator.sh $(MOLECULE) test -s fleet

# The fleet's operator (user, checkout copy and venv), made ahead so make test fills it beside the other caches.
operator: bootstrap
	scripts/as-operator.sh true

molecule-gpu-stack: $(if $(INPUTS),images)
	$(MOLECULE) test -s gpu_stack

# Real sandbox fleets driven by ansible-playbook (model distribution to three hosts, the GPU image).
integration: $(if $(INPUTS),sandbox-inputs)
	pytest -q -s tests/integration --durations=15

# Every step, none skipped; independent steps side by side; a table of each step's time at the end.
test:
	@scripts/test.sh

# Rewrite the variables section of every roles/*/README.md from its meta/argument_specs.yml (tests/test_role_docs.py
# fails while one is out of date).
role-docs: bootstrap
	paddleocr-role-docs roles

# Pin the CUDA libraries of every Paddle GPU flavour in roles/gpu_matrix into roles/paddleocr_image/files/cuda-<flavour>.lock.
locks: bootstrap
	scripts/cuda-locks.sh

# Demo host (run `make demo` first): the engine alone, the service and the official serving mode (`hub serving
# start`, its image built once from PyPI) in alternating rounds, medians and spreads of the ratios.
# SETS=ppocrv4-mobile,ppocrv6-small,...: each set converged in turn, then all side by side in alternating rounds;
# ratios to the first; the run ends on the default set.
# set@cpu, set@openvino: an onnxruntime set on that CPU provider (ppocrv6-small@cpu).
# URL=...: any host's service alone; INSTANCES=1,2,4 LIMIT=host [INVENTORY=...]: 1..N instances per GPU in turn.
# BENCH_ARGS: more options of bench/run.py (--levels 1,4,16 --requests 60 --rounds 5 --insecure ...).
SETS ?=
URL ?=
INSTANCES ?=
INVENTORY ?= inventories/production
LIMIT ?=
BENCH_ARGS ?=
bench: bootstrap
	@if [ -n "$(URL)" ]; then \
	  python bench/run.py --service-only --url "$(URL)" $(if $(INSTANCES),--instances $(INSTANCES) --inventory $(INVENTORY) --limit "$(LIMIT)") $(BENCH_ARGS); \
	elif [ -n "$(INSTANCES)" ]; then \
	  echo "INSTANCES needs URL (the host's proxy) and LIMIT (the host)" >&2; exit 2; \
	else \
	  python bench/run.py --url http://127.0.0.1:$(DEMO_PORT)/predict/ocr_system --sets "$(SETS)" $(BENCH_ARGS); \
	fi

# The first converge of site.yml on a fresh demo host against its idempotent re-run, with the re-run's slowest tasks.
bench-converge: sandbox-inputs
	python bench/converge.py --port $(DEMO_PORT)

# Record sha256/size of archives not yet in roles/paddleocr_models/files/models.lock.yml, from the official origin
# (or SOURCE_URLS="ppocr=http://mirror/ppocr/ ..."); SETS=all or a comma-separated list.
SETS ?= all
models-lock: bootstrap
	paddleocr-mirror lock --lock roles/paddleocr_models/files/models.lock.yml --sets $(SETS) \
		$(foreach u,$(SOURCE_URLS),--source-url $(u))

# Air-gapped mirror: ARCHIVES=dir of downloaded official *.tar -> MIRROR_DIR (served by paddleocr-mirror serve).
MIRROR_DIR ?= $(PADDLEOCR_FLEET_CACHE)/airgap-mirror
models-mirror: bootstrap
	paddleocr-mirror assemble $(ARCHIVES) --out $(MIRROR_DIR)

clean: demo-clean
	-$(MOLECULE) destroy --all
	-scripts/as-operator.sh $(MOLECULE) destroy -s fleet
	-docker volume rm paddleocr-molecule-docker paddleocr-fleet-1-docker paddleocr-fleet-2-docker paddleocr-fleet-3-docker
	-docker volume rm paddleocr-gpu-stack-docker paddleocr-gpu-stack-apt
	rm -rf $(VENV)
