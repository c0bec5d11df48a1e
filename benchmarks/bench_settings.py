"""The product's settings with the benchmark's URLs (benchmarks/bench_urls.py). benchmarks/api.py
selects it through DJANGO_SETTINGS_MODULE for the gunicorn it starts, and nothing else does."""

import os

from vio_manager.settings import *  # noqa: F401,F403
from vio_manager.settings import DATABASES

ROOT_URLCONF = "benchmarks.bench_urls"

# benchmarks/api.py --no-health-checks: what the SELECT 1 Django sends before each request's
# first query on a kept connection (CONN_HEALTH_CHECKS) costs the poll.
if os.environ.get("VIO_BENCH_HEALTH_CHECKS") == "0":
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
