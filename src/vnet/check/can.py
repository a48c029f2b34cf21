"""CAN frames between sockets, in Python's own AF_CAN (no can-utils needed):
a raw CAN socket opened inside a namespace stays bound to it."""
import select
import socket
import struct

_FRAME = struct.Struct("=IB3x8s")   # struct can_frame: id, length, pad, 8 data bytes


def open_socket(ns, dev):
    from ..kernel.session import Kernel
    with Kernel() as k, k.entered(ns):
        s = socket.socket(socket.AF_CAN, socket.SOCK_RAW, socket.CAN_RAW)
    s.bind((dev,))
    return s


def send(sock, can_id, data):
    sock.send(_FRAME.pack(can_id, len(data), bytes(data).ljust(8, b"\0")))


def receive(sock, timeout=1.0):
    """The next (can_id, data) on ``sock``, or None after ``timeout`` seconds."""
    if not select.select([sock], [], [], timeout)[0]:
        return None
    can_id, n, data = _FRAME.unpack(sock.recv(_FRAME.size))
    return can_id, data[:n]


def frame_passes(src, dst, can_id=0x123, data=b"vnet", timeout=1.0):
    """True when a frame sent on ``src`` (ns, dev) is received on ``dst`` (ns, dev)."""
    rx = open_socket(*dst)
    tx = rx if tuple(src) == tuple(dst) else open_socket(*src)
    try:
        if tx is rx:   # a socket does not see its own frames: a second one sends
            tx = open_socket(*src)
        send(tx, can_id, data)
        got = receive(rx, timeout)
        return got == (can_id, bytes(data))
    finally:
        rx.close()
        tx.close()
