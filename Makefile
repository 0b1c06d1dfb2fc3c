# ClaO developer commands. Everything runs from the repository's own .venv (made by bin/setup).
#   make run    demo server on http://127.0.0.1:8000 (DEBUG, development IdP at /dev-idp/);
#               another port: make run PORT=8111 (the IdP and the login follow it)
#   make test   ruff + the whole pytest suite on PostgreSQL
#   make lint   ruff check + ruff format --check
#   make bench  ClaO against a bare Django view under wrk; writes docs/benchmarks.md
#   make format ruff format + ruff check --fix
#   make lock   regenerate requirements.lock and requirements-dev.lock from pyproject.toml

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
RUFF := $(VENV)/bin/ruff
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: help setup run test lint format lock bench
BENCH_ARGS ?=

help:
	@sed -n 's/^#   //p' Makefile

setup:
	@bin/setup

# DATABASE_URL is passed through untouched: unset means the settings' SQLite demo database
# (var/demo.sqlite3); a local postgres:// URL gets its server started and database created.
run: setup
	@mkdir -p var
	@case "$${DATABASE_URL:-}" in postgres://*|postgresql://*) bin/ensure-postgres ;; esac
	@export DEBUG=1 CLAO_DEV_IDP=1; \
	export SITE_ROOT="$${SITE_ROOT:-http://$(HOST):$(PORT)}"; \
	set -e; \
	$(PY) manage.py migrate --no-input; \
	$(PY) manage.py loaddemo; \
	echo "ClaO: $$SITE_ROOT/  (log in through the development IdP, served under $$SITE_ROOT/dev-idp/)"; \
	exec $(PY) manage.py runserver $(HOST):$(PORT)

# pytest settings (DATABASE_URL default postgres://postgres@127.0.0.1:5432/clao, DEBUG, ...)
# come from [tool.pytest.ini_options] in pyproject.toml; an exported DATABASE_URL wins.
test: setup
	@bin/setup-browser
	@bin/ensure-postgres
	$(RUFF) check .
	$(RUFF) format --check .
	@rc=0; $(VENV)/bin/pytest $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "WARNING: pytest collected no tests"; rc=0; fi; \
	exit $$rc

# Its own database (BENCH_DATABASE_URL, default clao_bench), gunicorn.conf.py, wrk from Debian.
bench: setup
	@bin/ensure-postgres
	$(PY) bench/web.py $(BENCH_ARGS)

lint: setup
	$(RUFF) check .
	$(RUFF) format --check .

format: setup
	$(RUFF) format .
	$(RUFF) check --fix .

# Installs pyproject.toml's dependencies into throw-away venvs and freezes them, so that both
# lock files pin every package, transitive ones included, with ==.
lock:
	@set -euo pipefail; \
	py=$$(bin/find-python); \
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	deps() { "$$py" -c 'import sys, tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print("\n".join(p["dependencies"] + (p["optional-dependencies"]["dev"] if sys.argv[1] == "dev" else [])))' "$$1"; }; \
	for kind in runtime dev; do \
		out=$$([ $$kind = dev ] && echo requirements-dev.lock || echo requirements.lock); \
		"$$py" -m venv "$$tmp/$$kind"; \
		"$$tmp/$$kind/bin/pip" install -q --disable-pip-version-check --upgrade pip; \
		deps $$kind > "$$tmp/$$kind.in"; \
		"$$tmp/$$kind/bin/pip" install -q --disable-pip-version-check --only-binary lxml,xmlsec -r "$$tmp/$$kind.in"; \
		{ \
			echo "# ClaO $$kind dependencies, every package pinned (transitive ones included)."; \
			echo "# Generated from pyproject.toml by 'make lock' with Python $$("$$py" -c 'import platform; print(platform.python_version())'); do not edit by hand."; \
			echo "# Regenerate: make lock   Install: pip install --only-binary lxml,xmlsec -r $$out"; \
			"$$tmp/$$kind/bin/pip" freeze --all --exclude pip --exclude setuptools --exclude wheel; \
		} > "$$out"; \
		echo "lock: wrote $$out ($$(grep -c '==' "$$out") packages)"; \
	done
