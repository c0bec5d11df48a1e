# VIO Manager. `make demo` runs the product on the bundled simulators; `make test` runs the suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
GO_ENV := GO111MODULE=off GOPATH=/usr/share/gocode
TEST_PACKAGES := postgresql redis-server golang-go golang-github-vmware-govmomi-dev chromium qemu-utils openssl apache2-utils
SIM_PACKAGES := golang-go golang-github-vmware-govmomi-dev

.PHONY: help install demo test fuzz run vcsim conformance ova system-deps openapi clean

help:
	@echo "make demo   run VIO Manager on the bundled simulators (http://127.0.0.1:8000)"
	@echo "make test   install what is missing, start PostgreSQL and Redis, run the test suite"
	@echo "make fuzz   the fuzz tests (HTML forms, API), randomized and with many more examples than make test"
	@echo "make run    gunicorn, worker and beat against DATABASE_URL and CELERY_BROKER_URL"
	@echo "make vcsim  build the vCenter simulator (var/bin/vcsim)"
	@echo "make conformance  build the simulator's independent conformance client (var/bin/vio-conformance)"
	@echo "make ova    build the test appliance OVA (var/appliance/vio-appliance.ova)"
	@echo "make openapi  regenerate the committed API schema (vio_manager/api/openapi.yaml)"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Reinstall when the declared dependencies change.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

var/bin/vcsim: $(wildcard simulators/vcsim/*.go)
	@command -v go >/dev/null && [ -d /usr/share/gocode/src/github.com/vmware/govmomi ] || scripts/system-deps.sh $(SIM_PACKAGES)
	mkdir -p var/bin
	cd simulators/vcsim && $(GO_ENV) go build -o ../../var/bin/vcsim .

vcsim: var/bin/vcsim

# Our own client on govmomi's client library (Debian ships no govc): it drives the simulator in
# tests/test_conformance_client.py.
var/bin/vio-conformance: $(wildcard simulators/conformance/*.go)
	@command -v go >/dev/null && [ -d /usr/share/gocode/src/github.com/vmware/govmomi ] || scripts/system-deps.sh $(SIM_PACKAGES)
	mkdir -p var/bin
	cd simulators/conformance && $(GO_ENV) go build -o ../../var/bin/vio-conformance .

conformance: var/bin/vio-conformance

# The appliance OVA for tests and the demo: made here, never committed.
var/appliance/vio-appliance.ova: scripts/build-ova.sh
	scripts/build-ova.sh $@

ova: var/appliance/vio-appliance.ova

system-deps:
	scripts/system-deps.sh $(TEST_PACKAGES)

demo: install vcsim
	scripts/demo.sh

test: system-deps install vcsim conformance
	scripts/test.sh $(ARGS)

# The fuzz tests randomized (a new seed each run, printed: VIO_FUZZ_SEED=<seed> replays it) and with
# FUZZ_EXAMPLES examples per form and per API operation; make test runs them derandomized and bounded.
# Turn every case a run finds into an explicit regression test.
FUZZ_EXAMPLES ?= 100
fuzz: system-deps install vcsim
	VIO_FUZZ_RANDOM=1 VIO_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) scripts/test.sh tests/test_fuzz_forms.py tests/test_fuzz_api.py $(ARGS)

run: install
	scripts/run.sh

# The committed OpenAPI schema; tests/test_openapi.py fails when it differs from what the code generates.
# Integer bounds come from the database backend: generate as PostgreSQL (nothing connects to it).
openapi: install
	DATABASE_URL=postgres://127.0.0.1/schema-only DJANGO_SECRET_KEY=schema-only \
	VIO_FIELD_ENCRYPTION_KEYS=$$($(PY) -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())') \
	$(PY) manage.py spectacular --validate --fail-on-warn --file vio_manager/api/openapi.yaml

clean:
	rm -rf var/bin var/test var/static $(VENV)
