#!/usr/bin/env bash
# The README's test command: lint, then the whole pytest suite. Unit tests run on PostgreSQL
# when it is reachable (SQLite otherwise); integration tests use this machine's PostgreSQL,
# Redis and real Celery workers; in CI a missing service is a failure, not a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/services.sh
export PGHOST=${PGHOST:-127.0.0.1}
if [ -z "${DATABASE_URL:-}" ] && pg_isready -h 127.0.0.1 -q 2>/dev/null; then
  export DATABASE_URL="postgres://postgres@127.0.0.1:5432/arena"
fi
export ARENA_TEST_REDIS_URL=${ARENA_TEST_REDIS_URL:-redis://127.0.0.1:6379/14}
unset REDIS_URL CELERY_BROKER_URL
echo "== ruff (lint and format)"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== import layers (lint-imports, pyproject.toml [tool.importlinter])"
.venv/bin/lint-imports
echo "== mypy (pyproject.toml [tool.mypy])"
.venv/bin/mypy
echo "== pytest (database: ${DATABASE_URL:-sqlite})"
exec .venv/bin/python -m pytest "$@"
