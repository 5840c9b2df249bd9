"""Writes a record batch to the test broker byte for byte, to put in the log what no
client would produce: a batch whose compressed payload cannot be decompressed. The Kafka
wire format is public (Produce v3, RecordBatch v2); stdlib only."""

import socket
import struct

GZIP = 1


def _crc32c(data):
    """CRC-32C (Castagnoli), which RecordBatch v2 uses."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def record_batch(payload, record_count, attributes=GZIP):
    """A v2 record batch whose (nominally compressed) records section is `payload`."""
    after_crc = struct.pack(">hiqqqhii", attributes, record_count - 1, 0, 0, -1, -1, -1, record_count) + payload
    body = struct.pack(">ib", -1, 2) + struct.pack(">I", _crc32c(after_crc)) + after_crc
    return struct.pack(">qi", 0, len(body)) + body


def _string(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def produce_batch(bootstrap, topic, partition, batch, timeout=30):
    """Send one Produce (v3, acks=1) with `batch`; return the partition's error code."""
    body = struct.pack(">hhi", -1, 1, int(timeout * 1000))
    body += struct.pack(">i", 1) + _string(topic) + struct.pack(">i", 1)
    body += struct.pack(">ii", partition, len(batch)) + batch
    request = struct.pack(">hhi", 0, 3, 1) + _string("raw-test") + body
    host, port = bootstrap.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(struct.pack(">i", len(request)) + request)
        size = struct.unpack(">i", _read(sock, 4))[0]
        reply = _read(sock, size)
    # correlation id, topics: [name, partitions: [index, error_code, ...]]
    pos = 4 + 4
    name_len = struct.unpack_from(">h", reply, pos)[0]
    pos += 2 + name_len + 4
    _, error_code = struct.unpack_from(">ih", reply, pos)
    return error_code


def _read(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        data += chunk
    return data
