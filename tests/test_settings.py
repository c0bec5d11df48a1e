"""Settings come from the environment: embedded defaults, production services, deploy checks."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_DUMP = (
    "import json, django; from django.conf import settings; django.setup();"
    "from django.db import connection; connection.ensure_connection();"
    "print(json.dumps({'engine': settings.DATABASES['default']['ENGINE'], 'name': str(settings.DATABASES['default']['NAME']),"
    "'broker': settings.CELERY_BROKER_URL, 'vendor': connection.vendor, 'debug': settings.DEBUG}))"
)
# Variables that would leak the test run's own configuration into the child process.
CONFIG_VARIABLES = ("DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SECRET_KEY", "VIO_FIELD_ENCRYPTION_KEYS",
                    "DJANGO_DEBUG", "VIO_HTTPS", "DJANGO_ALLOWED_HOSTS", "VIO_DATA_DIR", "CELERY_TASK_DEFAULT_QUEUE",
                    "DJANGO_ALLOW_ASYNC_UNSAFE", "VIO_OVA_ALLOWED_NETWORKS")


def run_python(code_or_args, env_extra: dict, tmp_path: Path, **options) -> subprocess.CompletedProcess:
    """options: for subprocess.run (cwd, umask)."""
    env = {k: v for k, v in os.environ.items() if k not in CONFIG_VARIABLES}
    env.update(DJANGO_SETTINGS_MODULE="vio_manager.settings", VIO_DATA_DIR=str(tmp_path / "data"), PYTHONPATH=str(ROOT),
               **env_extra)
    args = ["-c", code_or_args] if isinstance(code_or_args, str) else code_or_args
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=120,
                          **{"cwd": ROOT, **options})


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def production(**extra) -> dict:
    from cryptography.fernet import Fernet

    return {"DATABASE_URL": "postgres://vio:secret@db.example.com:5432/vio", "DJANGO_SECRET_KEY": "k" * 60,
            "VIO_FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(), **extra}


def test_nothing_set_gives_sqlite_and_a_serverless_broker(tmp_path):
    result = run_python(SETTINGS_DUMP, {}, tmp_path)
    assert result.returncode == 0, result.stderr
    dumped = json.loads(result.stdout.strip().splitlines()[-1])
    assert dumped["vendor"] == "sqlite" and dumped["name"] == str(tmp_path / "data" / "vio_manager.sqlite3")
    assert dumped["broker"].startswith("filesystem://") and dumped["debug"] is False
    # The generated keys are private to the owner.
    for name in ("secret_key", "field_encryption_key"):
        mode = stat.S_IMODE((tmp_path / "data" / name).stat().st_mode)
        assert mode == 0o600, f"{name} has mode {oct(mode)}"


@pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="needs DATABASE_URL (PostgreSQL): run `make test`")
def test_database_url_and_broker_url_switch_to_postgresql_and_redis(tmp_path):
    result = run_python(
        SETTINGS_DUMP,
        {"DATABASE_URL": os.environ["DATABASE_URL"], "CELERY_BROKER_URL": os.environ["CELERY_BROKER_URL"],
         "DJANGO_SECRET_KEY": "x" * 60, "VIO_FIELD_ENCRYPTION_KEYS": os.environ["VIO_FIELD_ENCRYPTION_KEYS"]},
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    dumped = json.loads(result.stdout.strip().splitlines()[-1])
    assert dumped["vendor"] == "postgresql" and dumped["broker"].startswith("redis://")
    assert not (tmp_path / "data" / "secret_key").exists()  # production keys are given, never generated


def test_production_without_keys_says_what_to_set(tmp_path):
    result = run_python(SETTINGS_DUMP, {"DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"}, tmp_path)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_check_deploy_is_clean_with_production_variables(tmp_path):
    from cryptography.fernet import Fernet

    result = run_python(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        {
            "DATABASE_URL": "postgres://vio:secret@db.example.com:5432/vio",
            "CELERY_BROKER_URL": "redis://redis.example.com:6379/0",
            "DJANGO_SECRET_KEY": Fernet.generate_key().decode() + Fernet.generate_key().decode(),
            "VIO_FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "DJANGO_ALLOWED_HOSTS": "vio.example.com",
        },
        tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_flags_a_debug_install(tmp_path):
    """The check above can fail: the same command on a DEBUG install reports warnings."""
    result = run_python(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], {"DJANGO_DEBUG": "1"}, tmp_path)
    assert result.returncode != 0
    assert "security.W018" in result.stdout + result.stderr


def test_production_refuses_debug(tmp_path):
    refused = run_python("import django; django.setup()", production(DJANGO_DEBUG="1"), tmp_path)
    assert refused.returncode != 0
    assert "DJANGO_DEBUG is on while DATABASE_URL is set" in refused.stderr
    assert run_python("import django; django.setup()", production(DJANGO_DEBUG="0"), tmp_path).returncode == 0


# The embedded database, WAL included, as SQLite makes it (read while the connection is open: SQLite
# removes its -wal and -shm files when the last one closes). The umask lets everything through, so only
# the modes the code asks for at creation keep the files private.
SQLITE_MODES = ("import django, json, os, stat; django.setup(); from django.conf import settings;"
                "from django.db import connection; cursor = connection.cursor();"
                "cursor.execute('create table if not exists probe (x integer)');"
                "cursor.execute('insert into probe values (1)');"
                "print(json.dumps({p.name: stat.S_IMODE(p.stat().st_mode)"
                "                  for p in settings.DATA_DIR.iterdir() if p.is_file()}))")


def test_the_embedded_data_directory_and_database_are_private_whatever_the_umask(tmp_path):
    result = run_python(SQLITE_MODES, {}, tmp_path, umask=0)
    assert result.returncode == 0, result.stderr
    assert mode(tmp_path / "data") == 0o700
    files = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"vio_manager.sqlite3", "vio_manager.sqlite3-wal", "vio_manager.sqlite3-shm", "secret_key",
            "field_encryption_key"} <= set(files)
    assert files == dict.fromkeys(files, 0o600), {name: oct(value) for name, value in files.items()}


def test_an_older_install_left_open_is_made_private(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    for name in ("vio_manager.sqlite3", "vio_manager.sqlite3-wal"):
        (data / name).touch()
        os.chmod(data / name, 0o644)
    result = run_python("import django; django.setup()", {}, tmp_path)
    assert result.returncode == 0, result.stderr
    modes = (mode(data), mode(data / "vio_manager.sqlite3"), mode(data / "vio_manager.sqlite3-wal"))
    assert modes == (0o700, 0o600, 0o600)


def test_the_file_broker_keeps_its_folders_in_the_data_directory(tmp_path):
    """kombu's filesystem transport keeps its exchange tables in ./control unless told otherwise: a
    process started at the repository's top once left control/ there."""
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    code = ("import django; django.setup(); from vio_manager.celery import app;"
            "app.control.broadcast('ping', reply=False);"
            "app.send_task('vio_manager.heartbeat')")
    result = run_python(code, {}, tmp_path, cwd=workdir)
    assert result.returncode == 0, result.stderr
    control = tmp_path / "data" / "broker" / "control"
    assert "vio.exchange" in [p.name for p in control.iterdir()]
    assert list(workdir.iterdir()) == []
    assert not (ROOT / "control").exists()


def test_a_wrong_allowed_network_is_named(tmp_path):
    result = run_python("import django; django.setup()", {"VIO_OVA_ALLOWED_NETWORKS": "127.0.0.1/32,10.0.0.1/8"},
                        tmp_path)
    assert result.returncode != 0
    assert "VIO_OVA_ALLOWED_NETWORKS: '10.0.0.1/8' is not a network" in result.stderr
