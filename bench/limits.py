"""Descriptor limits and source addresses, for runs with tens of thousands
of sockets on one machine.

Every socket is a file descriptor on both ends, so the load tool's workers
and the servers it starts get a raised RLIMIT_NOFILE (the hard limit too,
when the process may raise it), without relying on the server to raise its
own. And a loopback client connecting to one address and port has only the
ephemeral port range (~28,000 ports) per source address, so large runs bind
each connection to one of several loopback source addresses (127.0.0.2,
127.0.0.3, ...; all of 127/8 is local on Linux) before it connects.
"""

from __future__ import annotations

import math
import resource
import socket
from pathlib import Path

#: What a large run asks for: 50,000 sockets, with room to spare.
WANTED_DESCRIPTORS = 131072
#: Connections per source address, well under the ephemeral port range.
PER_SOURCE_ADDRESS = 20000
#: Linux's socket option number (not exported by the socket module).
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)


def _system_ceiling() -> int:
    try:
        return int(Path("/proc/sys/fs/nr_open").read_text())
    except (OSError, ValueError):
        return WANTED_DESCRIPTORS


def raise_open_file_limit(wanted: int = WANTED_DESCRIPTORS) -> int:
    """Raises this process's descriptor limit towards `wanted`: soft and hard
    when permitted (as root), else the soft limit up to the hard one.
    Returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(max(wanted, hard), _system_ceiling())
    if target > hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, target))
            return target
        except (ValueError, OSError):
            pass  # not privileged: the hard limit is the ceiling
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def preexec_raise_limit() -> None:
    """For `subprocess.Popen(preexec_fn=...)`: the child starts with the
    raised limit, whatever it does itself."""
    raise_open_file_limit()


def source_addresses(connections: int) -> list[str] | None:
    """Loopback source addresses enough for `connections` (None: one is
    plenty, connect as usual)."""
    if connections <= PER_SOURCE_ADDRESS:
        return None
    return loopback(math.ceil(connections / PER_SOURCE_ADDRESS))


def loopback(count: int) -> list[str] | None:
    """`count` loopback source addresses from 127.0.0.2 (None for none)."""
    return [f"127.0.0.{2 + n}" for n in range(count)] or None


def bound_socket(source: str) -> socket.socket:
    """An unconnected TCP socket bound to `source` with the port left to
    `connect` (IP_BIND_ADDRESS_NO_PORT), so ports are chosen per
    destination, as for an unbound socket, and TIME_WAIT ones are reused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
    sock.bind((source, 0))
    sock.setblocking(False)
    return sock
