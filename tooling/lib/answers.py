"""Exits 0 when a database on 127.0.0.1 answers its own protocol's greeting.

    python3 tooling/lib/answers.py cql PORT     Cassandra: OPTIONS -> SUPPORTED
    python3 tooling/lib/answers.py bolt PORT    Neo4j: Bolt handshake -> a version
"""
import socket
import sys

CQL_OPTIONS = bytes([0x04, 0, 0, 0, 0x05, 0, 0, 0, 0])  # v4 request, stream 0, OPTIONS, no body
BOLT_HANDSHAKE = bytes.fromhex("6060B017") + bytes.fromhex("00000404") + bytes(12)  # Bolt 4.4


def cql(sock):
    reply = sock.recv(9)
    return len(reply) >= 5 and reply[0] == 0x84 and reply[4] == 0x06  # v4 response, SUPPORTED


def bolt(sock):
    reply = sock.recv(4)
    return len(reply) == 4 and reply != bytes(4)


def main(protocol, port):
    greeting, check = {"cql": (CQL_OPTIONS, cql), "bolt": (BOLT_HANDSHAKE, bolt)}[protocol]
    try:
        with socket.create_connection(("127.0.0.1", int(port)), timeout=2) as sock:
            sock.sendall(greeting)
            return 0 if check(sock) else 1
    except OSError:
        return 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
