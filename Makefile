# pqc.edge — one entry point for people and CI.
#   make demo   provision the local demo host pqc-edge-demo and show what clients negotiate
#   make test   every test: lint, argument specs, unit, sanity, integration, molecule
#   make checks  the tests that start no container: lint, argument specs, unit, sanity
#   make test-oqs  the Debian 12 liboqs + oqs-provider scenario alone (SKIPPED without its archives)
#   make test-aws-lc  the nginx-on-AWS-LC scenario alone (SKIPPED without its archive)
#   make test-aws-lc-bookworm  nginx on AWS-LC on Debian 12, not in make test (SKIPPED without its archive)
#   make demo-clean  remove the demo container
#   make bench  provision a fresh bench host and measure it (writes docs/performance.md and docs/handshakes.png)
#   make bench-probe time tls_probe enumerating the demo host
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
# Source archives for tests on machines without upstream access (make source-cache fills it).
export PQC_EDGE_SOURCE_CACHE ?= $(HOME)/.cache/pqc-edge/sources
# Source builds that molecule scenarios share between their hosts; emptied before each molecule run.
export PQC_EDGE_BUILD_CACHE ?= $(CURDIR)/.cache/builds
# liboqs and oqs-provider archives for the oqs scenario. Beside the checkout, ../shared/sources holds snapshots of
# their release tags (git archive, so not GitHub's tarballs: their own digests, pinned here as an operator pins the
# archives they verified); elsewhere the operator's archives in PQC_EDGE_SOURCE_CACHE with their digests.
SHARED_SOURCES := $(abspath $(CURDIR)/../shared/sources)
ifneq ($(wildcard $(SHARED_SOURCES)/liboqs-0.15.0.tar.gz),)
export PQC_EDGE_OQS_SOURCES ?= $(SHARED_SOURCES)
export PQC_EDGE_LIBOQS_SHA256 ?= ee4c6f25506454f0b8a8ba6d4353354ecab6eaf84842e3f0c49543a2defbd1fa
export PQC_EDGE_OQS_PROVIDER_SHA256 ?= a73fda14937f8833d4a4bc8252e884b86f638f7f525c9d1ac52e1938198abf6f
endif
export PQC_EDGE_OQS_SOURCES ?= $(PQC_EDGE_SOURCE_CACHE)
# The AWS-LC archive for the aws-lc scenario: ../shared/sources holds a snapshot of 5.1.0 (not GitHub's tarball, so
# pinned by its own digest); elsewhere the operator's archive in PQC_EDGE_AWS_LC_ARCHIVE with PQC_EDGE_AWS_LC_SHA256.
ifneq ($(wildcard $(SHARED_SOURCES)/aws-lc-5.1.0.tar.gz),)
export PQC_EDGE_AWS_LC_ARCHIVE ?= $(SHARED_SOURCES)/aws-lc-5.1.0.tar.gz
export PQC_EDGE_AWS_LC_SHA256 ?= 69b5d2d5d141cb25418fd863aa35fe357f95d5871935bab9de53bd33059dd2d5
endif

STAMP := $(VENV)/.installed
COLLECTION_LINK := .cache/collections/ansible_collections/pqc/edge


.PHONY: checks test-aws-lc test-aws-lc-bookworm readmes bench bench-probe help venv collection-link docker image image-bookworm demo demo-clean test lint sanity argspecs unit integration molecule test-oqs source-cache clean build

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

integration: venv collection-link image source-cache
	python -m pytest -q tests/integration

sanity: venv
	scripts/sanity.sh

source-cache: image
	scripts/fetch-debian-source.sh nginx nginx $(PQC_EDGE_SOURCE_CACHE)
	scripts/fetch-debian-source.sh openssl openssl $(PQC_EDGE_SOURCE_CACHE) 3.5.7

# Debian 12 (OpenSSL 3.0), for the scenarios that bring post-quantum TLS to an older OpenSSL.
image-bookworm: docker
	scripts/build-image.sh bookworm pqc-edge/debian:12

# liboqs and oqs-provider are in no registry these machines reach: the oqs scenario runs only with their archives in
# PQC_EDGE_OQS_SOURCES (../shared/sources, or PQC_EDGE_SOURCE_CACHE) and the oqs-provider digest in
# PQC_EDGE_OQS_PROVIDER_SHA256 (PQC_EDGE_LIBOQS_SHA256 for a liboqs archive that is not the GitHub release tarball).
OQS_ARCHIVES := $(PQC_EDGE_OQS_SOURCES)/liboqs-0.15.0.tar.gz $(PQC_EDGE_OQS_SOURCES)/oqs-provider-0.11.0.tar.gz
OQS_MISSING := $(strip $(foreach f,$(OQS_ARCHIVES),$(if $(wildcard $(f)),,$(f))) $(if $(PQC_EDGE_OQS_PROVIDER_SHA256),,PQC_EDGE_OQS_PROVIDER_SHA256))
OQS_SKIPPED := SKIPPED molecule oqs (Debian 12, liboqs + oqs-provider): missing $(OQS_MISSING); upstream downloads are not reachable here

# AWS-LC is in no registry these machines reach either: the aws-lc scenario runs only with its archive.
AWS_LC_MISSING := $(if $(wildcard $(PQC_EDGE_AWS_LC_ARCHIVE)),,$(or $(PQC_EDGE_AWS_LC_ARCHIVE),PQC_EDGE_AWS_LC_ARCHIVE))
AWS_LC_SKIPPED := SKIPPED molecule aws-lc (nginx on AWS-LC): missing $(AWS_LC_MISSING); upstream downloads are not reachable here

# Two lanes side by side, each about half of the molecule time (one compiles heavily, the other waits more on
# Ansible); scripts/molecule-lanes.sh prints each scenario's output whole when it ends.
# The scenarios that need the source cache and build cache run plain (plain:), without the variables exported here,
# as `molecule test -s <scenario>` in the checkout: their molecule.yml must find everything by itself.
# oqs ends the second lane when its archives are here, so that its compile overlaps options (which waits on Ansible)
# instead of running after both lanes.
LANE_1 = plain:static-openssl existing $(LANE_1_INTEGRATION) options$(if $(AWS_LC_MISSING),, plain:aws-lc)
LANE_2 := plain:fleet default ca$(if $(OQS_MISSING),, oqs)
MOLECULE_LANES ?= "$(LANE_1)" "$(LANE_2)"
molecule: venv collection-link image image-bookworm source-cache
	rm -rf $(PQC_EDGE_BUILD_CACHE)
	$(if $(OQS_MISSING),echo "$(OQS_SKIPPED)")
	$(if $(AWS_LC_MISSING),echo "$(AWS_LC_SKIPPED)")
	scripts/molecule-lanes.sh $(MOLECULE_LANES)

# The aws-lc scenario alone.
test-aws-lc: venv collection-link image source-cache
	$(if $(AWS_LC_MISSING),echo "$(AWS_LC_SKIPPED)"; exit 0)
	rm -rf $(PQC_EDGE_BUILD_CACHE)/aws-lc
	molecule test -s aws-lc

# nginx on AWS-LC on Debian 12 (with the pinned OpenSSL's command line beside it): compiles both libraries, so it is
# kept out of make test's time budget.
test-aws-lc-bookworm: venv collection-link image-bookworm source-cache
	$(if $(AWS_LC_MISSING),echo "$(AWS_LC_SKIPPED)"; exit 0)
	rm -rf $(PQC_EDGE_BUILD_CACHE)/aws-lc-bookworm
	molecule test -s aws-lc-bookworm

# The oqs scenario alone.
test-oqs: venv collection-link image-bookworm
	$(if $(OQS_MISSING),echo "$(OQS_SKIPPED)"; exit 0)
	rm -rf $(PQC_EDGE_BUILD_CACHE)/oqs
	molecule test -s oqs

# make test runs the integration tests (which start containers too) in the first lane after existing, rather than
# before both lanes: the second lane (with ca's root rollover) is the longer one.
test: LANE_1_INTEGRATION = pytest:tests/integration
test: checks molecule

# The checks that start no container, two at a time: each keeps one core busy, and one after another they left the
# other core idle for minutes before the lanes. Each one's output is printed whole when it ends.
checks: venv collection-link
	$(MAKE) --no-print-directory -j2 --output-sync=target lint argspecs unit sanity

build: venv
	ansible-galaxy collection build --force

# Each role's README.md from its argument spec (make unit checks they are up to date).
readmes: venv
	python scripts/role_readmes.py

bench-probe: venv collection-link
	python scripts/bench-probe.py 127.0.0.1 8443 30

clean:
	rm -rf .cache pqc-edge-*.tar.gz

bench: venv collection-link image
	python scripts/bench.py
