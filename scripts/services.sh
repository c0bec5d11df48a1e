#!/usr/bin/env bash
# start: make sure PostgreSQL and Redis answer on 127.0.0.1, starting them if needed, and create
#        the test role. stop: stop only what `start` started (recorded under var/run/).
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=var/run
mkdir -p "$RUN"
STARTED="$RUN/services-started"

as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }

wait_for() {  # wait_for DESCRIPTION COMMAND...
  local what=$1; shift
  for _ in $(seq 1 60); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  echo "$what did not come up" >&2; return 1
}

start() {
  : > "$STARTED"
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    version=$(ls /etc/postgresql | sort -V | tail -1)
    echo "Starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
    echo "postgresql $version" >> "$STARTED"
    wait_for PostgreSQL pg_isready -h 127.0.0.1 -p 5432
  fi
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    echo "Starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --pidfile "$PWD/$RUN/redis.pid" --dir "$PWD/$RUN" --logfile "$PWD/$RUN/redis.log"
    echo "redis" >> "$STARTED"
    wait_for Redis redis-cli -h 127.0.0.1 -p 6379 ping
  fi
  # The role the tests connect as; pytest-django creates and drops its own test database.
  as_postgres psql -q -v ON_ERROR_STOP=1 -d postgres <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'vio') THEN
    CREATE ROLE vio LOGIN PASSWORD 'vio' CREATEDB;
  END IF;
END $$;
SELECT 'CREATE DATABASE vio OWNER vio' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'vio')\gexec
SQL
}

stop() {
  [ -f "$STARTED" ] || return 0
  while read -r name version; do
    case "$name" in
      postgresql) pg_ctlcluster --skip-systemctl-redirect "$version" main stop || true ;;
      redis) [ -f "$RUN/redis.pid" ] && kill "$(cat "$RUN/redis.pid")" 2>/dev/null || true ;;
    esac
  done < "$STARTED"
  rm -f "$STARTED"
}

"$@"
