"""The appliance OVA for tests and benchmarks: built by scripts/build-ova.sh (deterministic: the same
knobs give the same bytes) and served over HTTP on loopback, as an administrator publishes it."""

import os
import subprocess
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILT = ROOT / "var" / "appliance" / "vio-appliance.ova"  # `make ova`


def build_ova(path: Path, **knobs: str) -> float:
    """Build an OVA at `path` (knobs: OVA_NAME, OVA_DISK_MB, OVA_DATA_KB); the seconds it took."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    subprocess.run([str(ROOT / "scripts" / "build-ova.sh"), str(path)], check=True, capture_output=True, text=True,
                   env=dict(os.environ, **knobs))
    return time.monotonic() - started


def appliance_ova(directory: Path) -> Path:
    """var/appliance/vio-appliance.ova when `make ova` made it, else one built into `directory`."""
    if BUILT.exists():
        return BUILT
    built = Path(directory) / BUILT.name
    if not built.exists():
        build_ova(built)
    return built


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class FileServer(ThreadingHTTPServer):
    """A directory served over HTTP on 127.0.0.1, on a port of its own, in a thread."""

    def __init__(self, directory: Path):
        super().__init__(("127.0.0.1", 0), partial(_Quiet, directory=str(directory)))
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{name}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def serve(path: Path) -> tuple[str, FileServer]:
    """The file at `path` over HTTP on loopback: its URL, and the server (stop() it when done)."""
    path = Path(path)
    server = FileServer(path.parent)
    return server.url(path.name), server


def serve_ova(data_dir: Path) -> tuple[str, FileServer]:
    """The appliance OVA (appliance_ova(data_dir)) over HTTP on loopback, as serve() gives it."""
    return serve(appliance_ova(data_dir))
