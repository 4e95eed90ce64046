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

.PHONY: help bootstrap images wheelhouse mirror demo demo-clean lint syntax unit check molecule test clean

help:
	@echo "make demo   converge site.yml on a local sandbox host and print a real OCR answer"
	@echo "make test   lint, syntax, unit tests and molecule (converge, idempotence, verify)"
	@echo "make check  the fast tier: lint, syntax, unit"

bootstrap:
	@scripts/bootstrap.sh

images: bootstrap
	@scripts/build-sandbox-image.sh

wheelhouse: bootstrap
	@scripts/wheelhouse.sh

mirror: bootstrap
	@scripts/mirror-start.sh

# Everything the sandbox host needs from the controller.
sandbox-inputs: images wheelhouse mirror

demo: sandbox-inputs
	@set -e; start=$$(date +%s); \
	ansible-playbook playbooks/sandbox.yml -e sandbox_port=$(DEMO_PORT); \
	ansible-playbook site.yml; \
	echo "== site.yml converged in $$(( $$(date +%s) - start )) s; OCR answer of the sample image:"; \
	paddleocr-check 127.0.0.1:$(DEMO_PORT)

demo-clean: bootstrap
	ansible-playbook playbooks/sandbox.yml -e sandbox_state=absent

lint: bootstrap
	yamllint --strict .
	ansible-lint --profile production
	ruff check src tests molecule bench roles/paddleocr_image/files

syntax: bootstrap
	ansible-playbook --syntax-check site.yml playbooks/*.yml

unit: bootstrap
	pytest -q tests

check: lint syntax unit

molecule: sandbox-inputs
	molecule test

test: check molecule

clean: demo-clean
	-molecule destroy
	-docker volume rm paddleocr-molecule-docker
	rm -rf $(VENV)
