#!/usr/bin/env bash
# Serve the site; when a broker is configured, also start a Celery worker (with beat for the
# sweeper) as a separate process, stopped together with the web server.
set -euo pipefail
cd "$(dirname "$0")/.."
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
pids=()
cleanup() { for pid in "${pids[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

if [ -n "${REDIS_URL:-}${CELERY_BROKER_URL:-}" ]; then
  echo "Broker configured: starting a Celery worker (queues default, remote) with beat."
  mkdir -p var
  .venv/bin/celery -A arena worker -B -Q default,remote -c "${WORKER_CONCURRENCY:-4}" -l INFO \
    --schedule var/celerybeat-schedule &
  pids+=($!)
else
  echo "Embedded mode: SQLite, no Redis; generation runs inside the web process."
fi
echo "Arena on http://${HOST}:${PORT}/  (admin: http://${HOST}:${PORT}/admin/)"
.venv/bin/daphne -b "$HOST" -p "$PORT" arena.asgi:application &
pids+=($!)
wait -n "${pids[@]}"
