"""What a 64 KiB TCP super-packet costs to write to a TUN device in offload
mode (a virtio_net_hdr, 52 bytes of IPv4 and TCP headers, 45 segments of
1,394 bytes), against where in a page the buffer it is written from
starts: every multiple of 16 from 0 to 4,080, each the best of --passes.
The kernel copies the payload into pages of its own from their start; its
`rep movsb` is far slower when the destination lies 1-15 bytes past the
source modulo 4 KiB (docs/benchmarks.md, the tunnel of 2026-12-05).

    sudo .venv/bin/python benchmarks/tun_write.py [--passes 8]

It runs in a network namespace of its own; the packets go to an address
nobody has and are dropped."""
import argparse
import ctypes
import mmap
import os
import struct
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def super_packet(mss=1394, segs=45):
    """virtio_net_hdr (TCPv4 GSO, checksum to fill) + IPv4 + TCP with timestamps + payload."""
    payload = mss * segs
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + 32 + payload, 1, 0x4000, 64, 6, 0,
                     bytes([10, 9, 0, 2]), bytes([10, 9, 0, 77]))
    tcp = struct.pack("!HHIIBBHHH", 5201, 40000, 1, 1, 8 << 4, 0x10, 1000, 0, 0) + bytes([1, 1, 8, 10]) + bytes(8)
    vnet_hdr = struct.pack("=BBHHHH", 1, 1, 20 + 32, mss, 20, 16)
    return vnet_hdr + ip + tcp + bytes(payload)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--passes", type=int, default=8)
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not args.inner:
        sys.exit(subprocess.call(["unshare", "--net", sys.executable, os.path.abspath(__file__), "--inner",
                                  "--passes", str(args.passes)],
                                 env={**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")}))
    from vnet import tun
    dev = tun.open("tw0", offload=True)
    subprocess.run(["ip", "link", "set", "tw0", "up", "mtu", "1446"], check=True)
    subprocess.run(["ip", "addr", "add", "10.9.0.1/24", "dev", "tw0"], check=True)
    msg = super_packet()
    m = mmap.mmap(-1, 2 * mmap.PAGESIZE + len(msg))
    base = ctypes.addressof(ctypes.c_char.from_buffer(m))
    write, fd = ctypes.CDLL(None).write, dev.fileno()

    def cost(off, reps=20):
        ctypes.memmove(base + off, msg, len(msg))
        t = time.perf_counter()
        for _ in range(reps):
            if write(fd, ctypes.c_void_p(base + off), len(msg)) != len(msg):
                sys.exit("the device refused the write")
        return (time.perf_counter() - t) / reps * 1e6

    offsets = range(0, 4096, 16)
    best = dict.fromkeys(offsets, float("inf"))
    for _ in range(args.passes):   # in turns, so that a slow second hits every offset alike
        for off in offsets:
            best[off] = min(best[off], cost(off))
    typical = sorted(best.values())[len(best) // 2]
    print(f"64 KiB TUN write: {typical:.1f} us from the median offset; more than 20% above it:",
          ", ".join(f"offset {o}: {v:.1f} us" for o, v in best.items() if v > 1.2 * typical) or "none")


if __name__ == "__main__":
    main()
