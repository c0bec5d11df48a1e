#!/usr/bin/env bash
# make run: the production processes (gunicorn, Celery worker, Celery beat, the inventory watcher) in the foreground,
# against the PostgreSQL and Redis named by DATABASE_URL and CELERY_BROKER_URL.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
: "${DATABASE_URL:?set DATABASE_URL=postgres://user:password@host:5432/vio}"
: "${CELERY_BROKER_URL:?set CELERY_BROKER_URL=redis://host:6379/0}"
BIND=${VIO_BIND:-127.0.0.1:8000}

pids=()
stop_all() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap 'stop_all; exit 0' INT TERM
trap stop_all EXIT

$PY manage.py migrate --noinput
$PY manage.py collectstatic --noinput -v 0
$PY -m gunicorn vio_manager.wsgi --bind "$BIND" --workers "${WEB_CONCURRENCY:-2}" --access-logfile - &
pids+=($!)
$PY -m celery -A vio_manager worker --concurrency "${CELERY_CONCURRENCY:-2}" --loglevel INFO &
pids+=($!)
$PY -m celery -A vio_manager beat --loglevel INFO &
pids+=($!)
# The live inventory (one watcher per vCenter across every machine: leases in the database).
$PY manage.py watch_inventory &
pids+=($!)
wait -n "${pids[@]}"
