"""TCP servers that answer a ClientHello the way a hostile or broken TLS server might, for tls_probe's tests.

Standard library only, so that it runs on the controller and inside a test container alike:
    python3 hostile_servers.py PORT:BEHAVIOUR [PORT:BEHAVIOUR ...]
Each connection reads the client's first bytes, then behaves as named in BEHAVIOURS, and never closes first.
"""

import socket
import sys
import threading
import time

# A record header and a ServerHello header announcing 0x76 bytes of ServerHello, which never all come.
SERVER_HELLO_START = bytes.fromhex("160303007a02000076")


def drip(conn):
    """A valid record and handshake header, then one byte every 2 s for as long as the client waits."""
    conn.sendall(SERVER_HELLO_START)
    while True:
        time.sleep(2)
        conn.sendall(b"\x00")


def stream(conn):
    """A ServerHello that claims 16 MB, sent as endless full records."""
    conn.sendall(bytes.fromhex("1603034000") + b"\x02\xff\xff\xff" + bytes(16380))
    record = bytes.fromhex("1603034000") + bytes(16384)
    while True:
        conn.sendall(record)


def garbage(conn):
    """A valid handshake record header followed by bytes that are no handshake message."""
    conn.sendall(bytes.fromhex("1603030040") + b"\xee" * 64)
    hold(conn)


def truncated(conn):
    """A complete handshake message of type ServerHello whose 6 bytes are far too few for one."""
    conn.sendall(bytes.fromhex("160303000a02000006") + b"\x03\x03" + b"\x00" * 4)
    hold(conn)


def hold(conn):
    while conn.recv(4096):
        pass


BEHAVIOURS = {"drip": drip, "stream": stream, "garbage": garbage, "truncated": truncated}


def handle(conn, behaviour):
    try:
        conn.settimeout(120)
        conn.recv(65536)
        behaviour(conn)
    except OSError:
        pass
    finally:
        conn.close()


def serve(listener, behaviour):
    while True:
        conn, dummy = listener.accept()
        threading.Thread(target=handle, args=(conn, behaviour), daemon=True).start()


def start(behaviour, port=0, host="127.0.0.1"):
    """Listen and serve in a daemon thread; returns the port."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(16)
    threading.Thread(target=serve, args=(listener, BEHAVIOURS[behaviour]), daemon=True).start()
    return listener.getsockname()[1]


if __name__ == "__main__":
    for spec in sys.argv[1:]:
        port, name = spec.split(":")
        start(name, int(port))
    while True:
        time.sleep(3600)
