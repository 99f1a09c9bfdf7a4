# The README's two commands: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
HOST ?= 127.0.0.1

.PHONY: run test prod install install-dev lock migrate demo web worker worker-remote worker-gpu beat lint format clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

# requirements.txt and requirements-dev.txt are locks (every package pinned and hashed, compiled
# from requirements*.in by `make lock`), so this machine installs exactly what CI tested.
# requirements-gpu.txt pins the GPU stack directly (its CUDA/CPU builds differ per machine).
$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt requirements-gpu.txt
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q -r requirements-gpu.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(PY) manage.py migrate --noinput -v0

demo: migrate
	$(PY) manage.py load_demo

## Install, migrate, add the prompt bank, load the demo arena on a fresh database (not with
## ARENA_DEMO=0) and serve on http://$(HOST):$(PORT) (+ a worker when
## REDIS_URL is set; with nothing set, generation runs inside the web process).
run: migrate
	$(PY) manage.py load_prompts
	$(PY) manage.py load_demo --if-fresh
	$(PY) manage.py collectstatic --noinput -v0
	HOST=$(HOST) PORT=$(PORT) scripts/run.sh

## Run the whole test suite (lint, unit, integration on PostgreSQL + Redis, browser).
test: install-dev
	scripts/test.sh

## The production layout on this machine: granian web processes (HTTP + WebSockets on one
## port), Celery workers for the default and remote queues, beat; needs DATABASE_URL, REDIS_URL
## and the production environment (see scripts/prod.sh for WEB_WORKERS, ARENA_HTTP_THREADS...).
prod: install
	HOST=$(HOST) PORT=$(PORT) scripts/prod.sh

web: install
	$(VENV)/bin/daphne -b $(HOST) -p $(PORT) arena.asgi:application

worker: install
	$(VENV)/bin/celery -A arena worker -Q default,remote -c $${CONCURRENCY:-4} -l INFO

worker-remote: install
	$(VENV)/bin/celery -A arena worker -Q remote --pool threads -c $${CONCURRENCY:-32} -l INFO

worker-gpu: install  ## one process per GPU; its threads feed the batcher (MAX_BATCH)
	CUDA_VISIBLE_DEVICES=$${CUDA_VISIBLE_DEVICES:-0} $(VENV)/bin/celery -A arena worker -Q gpu --pool threads -c $${MAX_BATCH:-4} -l INFO -n gpu$${CUDA_VISIBLE_DEVICES:-0}@%h

beat: install
	$(VENV)/bin/celery -A arena beat -l INFO --schedule var/celerybeat-schedule

## After editing requirements.in or requirements-dev.in: recompile both locks (needs PyPI).
lock: install
	$(PY) -m pip install -q pip-tools==7.6.2
	CUSTOM_COMPILE_COMMAND="make lock" $(VENV)/bin/pip-compile --quiet --generate-hashes \
		--allow-unsafe --no-strip-extras --no-emit-index-url --no-emit-find-links \
		--output-file requirements.txt requirements.in
	CUSTOM_COMPILE_COMMAND="make lock" $(VENV)/bin/pip-compile --quiet --generate-hashes \
		--allow-unsafe --no-strip-extras --no-emit-index-url --no-emit-find-links \
		--output-file requirements-dev.txt requirements-dev.in

lint: install-dev
	$(VENV)/bin/ruff check .

format: install-dev
	$(VENV)/bin/ruff format .

clean:
	rm -rf var/static
