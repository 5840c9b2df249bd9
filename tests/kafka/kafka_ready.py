#!/usr/bin/env python3
"""Wait until a Kafka-protocol broker answers an ApiVersions request.

Usage: kafka_ready.py HOST:PORT [TIMEOUT_S] [--pid PID]

Exits 0 once the broker answers with error code 0 and at least one API,
1 on timeout or when the process PID (if given) has exited. Standard
library only, so it runs before any Kafka client is installed.
"""

import os
import socket
import struct
import sys
import time

API_VERSIONS_KEY = 18
CORRELATION_ID = 7


def _recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        data += chunk
    return data


def answers_api_versions(host, port):
    """True when the broker returns a successful ApiVersions v0 response."""
    client_id = b"bytewax-ready"
    # Request header v1: api key, api version, correlation id, client id.
    body = struct.pack(">hhih", API_VERSIONS_KEY, 0, CORRELATION_ID, len(client_id))
    body += client_id
    with socket.create_connection((host, port), timeout=2) as sock:
        sock.sendall(struct.pack(">i", len(body)) + body)
        (size,) = struct.unpack(">i", _recv_exact(sock, 4))
        reply = _recv_exact(sock, size)
    correlation, error_code, api_count = struct.unpack(">ihi", reply[:10])
    return correlation == CORRELATION_ID and error_code == 0 and api_count > 0


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A dead child of our parent shell lingers as a zombie until reaped,
    # and kill(0) still succeeds on it.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def main(argv):
    args = list(argv)
    pid = None
    if "--pid" in args:
        at = args.index("--pid")
        pid = int(args[at + 1])
        del args[at : at + 2]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    host, port = args[0].rsplit(":", 1)
    timeout = float(args[1]) if len(args) > 1 else 30.0
    deadline = time.monotonic() + timeout
    while True:
        try:
            answered = answers_api_versions(host, int(port))
        except (OSError, struct.error):
            answered = False
        alive = pid is None or _alive(pid)
        if answered and alive:
            return 0
        # An answer while our process is dead comes from someone else on the port.
        if not alive:
            print(f"broker process {pid} exited before {args[0]} was ready", file=sys.stderr)
            return 1
        if time.monotonic() > deadline:
            print(f"broker at {args[0]} not ready after {timeout:g} s", file=sys.stderr)
            return 1
        time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
