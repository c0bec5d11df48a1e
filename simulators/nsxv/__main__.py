"""python -m simulators.nsxv: start the NSX-v Manager emulator and print one JSON ready line."""

import argparse
import ipaddress
import json
import os
import signal
import socket
import sys
import tempfile
import threading
from pathlib import Path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m simulators.nsxv", description=__doc__)
    parser.add_argument("--vcenter-host", required=True)
    parser.add_argument("--vcenter-port", type=int, default=443)
    parser.add_argument("--vcenter-user", required=True)
    # Secrets may also come from the environment, which keeps them out of `ps` output.
    parser.add_argument("--vcenter-password", default=os.environ.get("NSXV_VCENTER_PASSWORD"))
    parser.add_argument("--vcenter-fingerprint", required=True, help="SHA-256 of the vCenter certificate (AA:BB:…)")
    parser.add_argument("--listen", default="127.0.0.1:0", help="loopback address:port (default 127.0.0.1:0)")
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", default=os.environ.get("NSXV_PASSWORD"))
    parser.add_argument("--version", default="6.4.5", help="NSX version to report, e.g. 6.4.5 or 6.4.5.13282012")
    parser.add_argument("--edges", type=int, default=7, help="number of NSX Edges (a mix of ESGs and DLRs)")
    parser.add_argument(
        "--vcenter-refresh",
        type=float,
        default=2.0,
        help="seconds a vCenter reading is reused before a request re-reads it (0: every request)",
    )
    parser.add_argument("--cert", type=Path, help="PEM certificate: reused if it exists, else generated here")
    parser.add_argument("--key", type=Path, help="PEM private key for --cert (written 0600)")
    args = parser.parse_args(argv)
    if not args.vcenter_password or not args.password:
        parser.error("--vcenter-password and --password (or NSXV_VCENTER_PASSWORD / NSXV_PASSWORD) are required")
    if args.edges < 0:
        parser.error("--edges must be >= 0")
    if args.vcenter_refresh < 0:
        parser.error("--vcenter-refresh must be >= 0")
    return args


def _loopback_address(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    # The control endpoint has no authentication: never expose the emulator beyond this machine.
    try:
        resolved = ipaddress.ip_address(host)
    except ValueError:
        resolved = ipaddress.ip_address(socket.gethostbyname(host))
    if not resolved.is_loopback:
        raise SystemExit(f"--listen {listen}: the emulator listens on loopback addresses only (127.0.0.0/8).")
    return host, int(port or 0)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    address = _loopback_address(args.listen)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vio_manager.settings")

    from simulators.nsxv.auth import Authenticator
    from simulators.nsxv.certificate import load_or_create
    from simulators.nsxv.model import NsxModel, Version
    from simulators.nsxv.server import NsxServer
    from simulators.nsxv.vcenter import VcenterSource

    try:
        version = Version.parse(args.version)
    except ValueError as exc:
        print(f"nsxv: --version: {exc}", file=sys.stderr)
        return 2
    source = VcenterSource(
        args.vcenter_host,
        args.vcenter_port,
        args.vcenter_user,
        args.vcenter_password,
        args.vcenter_fingerprint,
        max_age=args.vcenter_refresh,
    )
    try:
        inventory = source.start()
    except Exception as exc:  # any failure to read vCenter ends the start with its message
        print(f"nsxv: cannot read vCenter {args.vcenter_host}:{args.vcenter_port}: {exc}", file=sys.stderr)
        return 1

    with tempfile.TemporaryDirectory(prefix="vio-nsxv-") as scratch:
        certificate = load_or_create(args.cert or Path(scratch, "nsxv.crt"), args.key or Path(scratch, "nsxv.key"))
        model = NsxModel(source, version, args.edges)
        server = NsxServer(address, model, Authenticator(args.username, args.password), certificate)
        host, port = server.server_address[:2]

        def stop(signum, frame):
            # shutdown() waits for serve_forever() to return, so it must run outside this (main) thread.
            threading.Thread(target=server.shutdown, daemon=True).start()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        ready = {
            "url": f"https://{host}:{port}",
            "host": host,
            "port": port,
            "username": args.username,
            "fingerprint_sha256": certificate.sha256,
            "control_url": f"https://{host}:{port}/emulator/faults",
            "version": str(version),
            "edges": args.edges,
            "datacenter": inventory.datacenter.moid,
        }
        print(json.dumps(ready), flush=True)
        try:
            server.serve_forever(poll_interval=0.2)
        finally:
            server.server_close()
            source.close()
    print("nsxv: stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
