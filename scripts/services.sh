#!/usr/bin/env bash
# Start PostgreSQL and Redis when they are installed but down; install them if missing and
# we are root (Debian). Used by .ci/run and the test script. Never fails the caller by itself.
set -u
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else return 1; fi; }
apt_updated=0
apt_install() {
  [ $apt_updated = 1 ] || { as_root apt-get update -qq >/dev/null 2>&1; apt_updated=1; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1
}

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "services: installing PostgreSQL"; apt_install postgresql || true
fi
if ! pg_isready -h 127.0.0.1 -q 2>/dev/null; then
  echo "services: starting PostgreSQL"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -q && break; sleep 1; done
fi

if ! command -v redis-server >/dev/null 2>&1; then
  echo "services: installing Redis"; apt_install redis-server || true
fi
if ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  echo "services: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 0.5; done
fi

if [ ! -x /usr/bin/chromium ]; then
  echo "services: installing Debian's chromium for the browser test"; apt_install chromium || true
fi

pg_isready -h 127.0.0.1 -q && echo "services: PostgreSQL up" || echo "services: PostgreSQL DOWN"
redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && echo "services: Redis up" || echo "services: Redis DOWN"
exit 0
