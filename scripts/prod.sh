#!/usr/bin/env bash
# The production layout on one machine (make prod):
#   web    granian, WEB_WORKERS processes (default: one per core) serving arena.ops.asgi on one
#          port: HTTP runs Django's WSGI handler in ARENA_HTTP_THREADS threads per process (no
#          per-request async hops), WebSockets go through Channels on the same port;
#          static files by WhiteNoise (hashed names, gzip, immutable caching);
#   celery a prefork worker on queue `default` (CPU work: demo renders, leaderboards),
#          REMOTE_WORKERS (default: one per core) thread-pool workers of REMOTE_CONCURRENCY (16)
#          threads on queue `remote` (I/O-bound providers), beat once (the sweeper);
#          GPU workers run on the GPU machine: `CUDA_VISIBLE_DEVICES=0 make worker-gpu`.
# Each web process keeps a psycopg pool of at most DB_POOL_MAX connections (default: its HTTP
# threads + 4 for WebSocket consumers), so the database sees at most
# WEB_WORKERS x DB_POOL_MAX connections from the web; a Celery process uses one per task it
# runs at once, at most WORKER_DB_POOL_MAX (12; a remote thread holds one only while it claims
# and finishes a side, not while the provider works).
# Stops everything on SIGINT/SIGTERM, and when any part exits (a supervisor restarts the set).
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "make prod: $*" >&2; exit 2; }
[ -n "${DATABASE_URL:-}" ] || die "DATABASE_URL is not set: the production layout needs \
PostgreSQL (e.g. DATABASE_URL=postgres://arena@127.0.0.1:5432/arena)."
case "$DATABASE_URL" in postgres://*|postgresql://*) ;; *)
  die "DATABASE_URL must point to PostgreSQL (several processes write at once)." ;; esac
[ -n "${REDIS_URL:-}" ] || die "REDIS_URL is not set: the production layout needs Redis for \
the Celery broker, the WebSocket layer and the cache (e.g. REDIS_URL=redis://127.0.0.1:6379/0)."

BIN=${VENV_BIN:-.venv/bin}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
CORES=$(nproc 2>/dev/null || echo 2)
WEB_WORKERS=${WEB_WORKERS:-$CORES}
export DEBUG=${DEBUG:-0}
export ARENA_STATIC_MANIFEST=${ARENA_STATIC_MANIFEST:-1}
export ARENA_HTTP_THREADS=${ARENA_HTTP_THREADS:-4}
export DB_POOL_MAX=${DB_POOL_MAX:-$((ARENA_HTTP_THREADS + 4))}
# Celery processes size their own pool (a remote worker's 16 threads each hold a connection
# while they claim or finish a side), independent of the web's threads.
WORKER_DB_POOL_MAX=${WORKER_DB_POOL_MAX:-12}
export DB_POOL_MIN=${DB_POOL_MIN:-2}
export ARENA_VAR_DIR=${ARENA_VAR_DIR:-$PWD/var}
# Every process writes its metrics here; /metrics on any web process sums them. Emptied at start:
# values of processes from an earlier run must not be summed in.
export PROMETHEUS_MULTIPROC_DIR=${PROMETHEUS_MULTIPROC_DIR:-$ARENA_VAR_DIR/prometheus}
mkdir -p "$ARENA_VAR_DIR"
rm -rf "$PROMETHEUS_MULTIPROC_DIR"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"

"$BIN/python" manage.py migrate --noinput -v0
"$BIN/python" manage.py collectstatic --noinput -v0

pids=()
stop() {
  trap - EXIT INT TERM
  for pid in "${pids[@]:-}"; do [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 "${STOP_TIMEOUT_S:-20}"0); do
    alive=0
    for pid in "${pids[@]:-}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && return 0
    sleep 0.1
  done
  for pid in "${pids[@]:-}"; do kill -KILL "$pid" 2>/dev/null || true; done
}
trap stop EXIT
trap 'exit 0' INT TERM

HOSTNAME_TAG=${CELERY_HOSTNAME:-%h}
DB_POOL_MAX=$WORKER_DB_POOL_MAX "$BIN/celery" -A arena worker -Q default -c "${WORKER_CONCURRENCY:-$CORES}" -l "${LOG_LEVEL:-INFO}" \
  -n "default-$$@$HOSTNAME_TAG" --without-gossip --without-mingle &
pids+=($!)
# Several thread-pool processes for `remote`: a side's decoding, normalising and SQL hold the
# GIL, so one process would do all of them on one core (issue 10: two processes on 2 cores cut
# a remote battle's overhead at concurrency 1 by ~7 ms).
for i in $(seq 1 "${REMOTE_WORKERS:-$CORES}"); do
  DB_POOL_MAX=$WORKER_DB_POOL_MAX "$BIN/celery" -A arena worker -Q remote --pool threads -c "${REMOTE_CONCURRENCY:-16}" \
    -l "${LOG_LEVEL:-INFO}" -n "remote$i-$$@$HOSTNAME_TAG" --without-gossip --without-mingle &
  pids+=($!)
done
if [ "${BEAT:-1}" = 1 ]; then
  "$BIN/celery" -A arena beat -l "${LOG_LEVEL:-INFO}" \
    --schedule "$ARENA_VAR_DIR/celerybeat-schedule" &
  pids+=($!)
fi
"$BIN/granian" --interface asgi --host "$HOST" --port "$PORT" --workers "$WEB_WORKERS" \
  --respawn-failed-workers --log-level "$(echo "${LOG_LEVEL:-info}" | tr '[:upper:]' '[:lower:]')" \
  arena.ops.asgi:application &
pids+=($!)

echo "Arena (production layout) on http://$HOST:$PORT/: $WEB_WORKERS web processes x \
$ARENA_HTTP_THREADS threads (pool <= $DB_POOL_MAX connections each), workers on queues \
default and remote, beat; health at /healthz, metrics at /metrics."
set +e
wait -n "${pids[@]}"
status=$?
echo "make prod: a process exited (status $status); stopping the others." >&2
exit "$status"
