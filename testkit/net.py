"""Ports on 127.0.0.1 for the servers tests and benchmarks start."""

import socket


def free_port() -> int:
    """A port nothing listens on right now (the kernel's pick): bind to it soon, or connect to it
    to meet a closed port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
