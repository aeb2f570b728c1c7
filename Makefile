# Entry points for people and CI. Every target installs what it needs first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install services services-down tools test unit demo clean help

help:
	@echo "make install   create $(VENV) and install qianliyan with its test dependencies"
	@echo "make services  install (first time) and start Kafka and InfluxDB on 127.0.0.1"
	@echo "make test      install, start the services, run every test (unit and integration)"
	@echo "make unit      run the tests that need no services"
	@echo "make demo      install, start the services, run 'qianliyan demo'"
	@echo "make tools     install Alertmanager and Chromium (Debian packages, needs root) for the tests"
	@echo "make services-down  stop Kafka and InfluxDB"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

services:
	bash scripts/services.sh up

# Alertmanager for the alert tests and Chromium for the report screenshot test: Debian's
# packages, so this needs root (CI runs as root).
tools:
	command -v prometheus-alertmanager >/dev/null && command -v chromium >/dev/null || \
	  { apt-get update -qq && apt-get install -y -qq prometheus-alertmanager chromium chromium-driver; }

services-down:
	bash scripts/services.sh down

# pytest exits with 5 when it collected no test; that is a failure here too.
test: install services tools
	$(BIN)/python -m pytest -ra tests; status=$$?; \
	if [ $$status -eq 5 ]; then echo "error: pytest collected no tests" >&2; fi; \
	exit $$status

unit: install
	$(BIN)/python -m pytest -ra -m "not integration" tests

demo: install services
	$(BIN)/qianliyan demo

clean:
	rm -rf $(VENV) build *.egg-info
