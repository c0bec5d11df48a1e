#!/usr/bin/env bash
# Run the test suite against PostgreSQL and Redis on 127.0.0.1 (started by scripts/services.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

scripts/services.sh start
trap 'scripts/services.sh stop' EXIT

export DATABASE_URL=postgres://vio:vio@127.0.0.1:5432/vio
# A Redis database of the tests' own: messages a test sends without a worker to take them (a run
# launched in a browser test) never reach a developer's worker on database 0.
export CELERY_BROKER_URL=redis://127.0.0.1:6379/15
export VIO_DATA_DIR="$PWD/var/test"
export VIO_TEST_DATABASE=${VIO_TEST_DATABASE:-test_vio_$$}
export VIO_HTTPS=0
export VIO_SIMULATED_HOSTS=1   # the tests' vCenter and NSX are the bundled simulators
# The tests serve appliance OVAs on loopback (and their workers fetch them): an administrator's allowance.
export VIO_OVA_ALLOWED_NETWORKS=127.0.0.0/8
export DJANGO_DEBUG=0
# Keys for this run only: nothing a test encrypts outlives it.
export DJANGO_SECRET_KEY=$($PY -c 'import secrets; print(secrets.token_urlsafe(50))')
export VIO_FIELD_ENCRYPTION_KEYS=$($PY -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')

$PY manage.py collectstatic --noinput -v 0
$PY manage.py makemigrations --check --dry-run -v 0 || { echo "Models changed without a migration: run manage.py makemigrations" >&2; exit 1; }
$PY -m pytest "$@"
