# pqc.edge — one entry point for people and CI.
#   make demo   provision the local demo host pqc-edge-demo and show what clients negotiate
#   make test   every test: lint, sanity, argument specs, unit tests, molecule
SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -euo pipefail -c

VENV       ?= .venv
PYTHON     ?= python3
IMAGE      ?= pqc-edge/debian:13
SUITE      ?= trixie
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PQC_EDGE_IMAGE := $(IMAGE)

STAMP := $(VENV)/.installed
COLLECTION_LINK := .cache/collections/ansible_collections/pqc/edge

.PHONY: help venv collection-link docker image demo demo-clean test lint sanity argspecs unit molecule clean build

help:
	@sed -n 's/^#   //p' Makefile

$(STAMP): requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	touch $@

venv: $(STAMP)

collection-link:
	mkdir -p $(dir $(COLLECTION_LINK))
	ln -sfn $(CURDIR) $(COLLECTION_LINK)

docker:
	scripts/ensure-docker.sh

image: docker
	scripts/build-image.sh $(SUITE) $(IMAGE)

demo: venv collection-link image
	scripts/demo.sh

demo-clean: docker
	docker rm -f pqc-edge-demo >/dev/null 2>&1 || true
	echo "pqc-edge-demo removed"

lint: venv collection-link
	ansible-lint --offline

argspecs: venv
	python tests/check_argument_specs.py roles

unit: venv collection-link
	python -m pytest -q tests/unit

sanity: venv
	scripts/sanity.sh

molecule: venv collection-link image
	molecule test --all

test: lint argspecs unit sanity molecule

build: venv
	ansible-galaxy collection build --force

clean:
	rm -rf .cache pqc-edge-*.tar.gz
