"""A free loopback port, for the Redis the sidecar starts and for the children the load tester starts.

Standard library only, so that the load tester (installed without the sidecar's packages) uses this
one copy too: the sidecar imports nothing of the load tester, the load tester may import this.
"""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A port free on ``host`` now (the kernel's pick), for a child to listen on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
