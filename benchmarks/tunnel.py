"""One TCP stream (iperf3, 5 s) between two namespaces joined by a veth
underlay with MTU 1500, in the same run through: the veth directly, kernel
VXLAN, the vnet tunnel plain, and the vnet tunnel with a key. Each path is
measured --rounds times, the paths taking turns, and the median is kept (on
two shared vCPUs one stream varies by 20% or more from run to run). Prints
Gbit/s, packets/s, each tunnel's ratio to kernel VXLAN, and the CPU time
both tunnel processes spent per GB carried.

    sudo .venv/bin/python benchmarks/tunnel.py [--seconds 5] [--rounds 3]

Everything runs inside a private mount and network namespace made for the
run (the machine's own network is never touched) and is removed after."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from private import run_inside


TOPO = """name: bench
namespaces: [a, b]
interfaces:
  - {name: wan, kind: veth, netns: a, mtu: 1500, addresses: [192.168.50.1/24],
     peer: {name: wan, netns: b, mtu: 1500, addresses: [192.168.50.2/24]}}
  - {name: vx0, kind: vxlan, netns: a, vni: 50, local: 192.168.50.1, remote: 192.168.50.2, dev: wan, addresses: [10.50.1.1/24]}
  - {name: vx0, kind: vxlan, netns: b, vni: 50, local: 192.168.50.2, remote: 192.168.50.1, dev: wan, addresses: [10.50.1.2/24]}
  - {name: tp0, kind: tun, netns: a, addresses: [10.50.2.1/24]}
  - {name: tp0, kind: tun, netns: b, addresses: [10.50.2.2/24]}
  - {name: tk0, kind: tun, netns: a, addresses: [10.50.3.1/24]}
  - {name: tk0, kind: tun, netns: b, addresses: [10.50.3.2/24]}
"""


def iperf(dst, seconds):
    srv = subprocess.Popen(["ip", "netns", "exec", "b", "iperf3", "-s", "-1", "-B", dst], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    r = subprocess.run(["ip", "netns", "exec", "a", "iperf3", "-c", dst, "-t", str(seconds), "-J"],
                       capture_output=True, text=True)
    srv.wait(10)
    data = json.loads(r.stdout)
    if "error" in data:
        raise RuntimeError(f"iperf3 to {dst}: {data['error']}")
    end = data["end"]["sum_received"]
    return end["bits_per_second"] / 1e9


def packets(dev, ns, fn):
    """Packets received on ``dev`` in ``ns`` while ``fn`` runs, and its result."""
    def rx():
        out = subprocess.run(["ip", "-n", ns, "-j", "-s", "link", "show", dev], capture_output=True, text=True).stdout
        return json.loads(out)[0]["stats64"]["rx"]["packets"]
    before, t0 = rx(), time.monotonic()
    res = fn()
    return res, (rx() - before) / (time.monotonic() - t0)


def cpu_seconds(pids):
    """User and system CPU time of these processes so far."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])   # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not args.inner:
        if shutil.which("iperf3") is None:
            sys.exit("iperf3 is not installed (apt-get install iperf3; scripts/setup.sh does it)")
        run_inside(__file__, ["--seconds", str(args.seconds), "--rounds", str(args.rounds)])
    key = tempfile.NamedTemporaryFile("w", suffix=".hex", delete=False)
    key.write(os.urandom(32).hex())
    key.close()
    topo = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    topo.write(TOPO)
    topo.close()
    vnet = [sys.executable, "-m", "vnet"]
    subprocess.run(vnet + ["apply", topo.name], check=True, stdout=subprocess.DEVNULL)
    procs = {}
    for dev, port, keyed in (("tp0", 5001, False), ("tk0", 5002, True)):
        for ns, me, peer in (("a", "192.168.50.1", "192.168.50.2"), ("b", "192.168.50.2", "192.168.50.1")):
            argv = vnet + ["tunnel", "--netns", ns, "--dev", dev, "--listen", f"{me}:{port}", "--peer", f"{peer}:{port}"]
            argv += ["--key-file", key.name] if keyed else []
            argv += ["--stats", f"/run/{dev}-{ns}.stats"]
            procs.setdefault(dev, []).append(subprocess.Popen(argv, stderr=subprocess.DEVNULL))
    time.sleep(1.5)
    paths = (("veth (no tunnel)", "192.168.50.2", "wan"), ("kernel VXLAN", "10.50.1.2", "vx0"),
             ("vnet tunnel, plain", "10.50.2.2", "tp0"), ("vnet tunnel, ChaCha20-Poly1305", "10.50.3.2", "tk0"))
    runs = {label: [] for label, _d, _v in paths}   # (Gbit/s, packets/s, tunnel CPU-s per GB)
    try:
        for _ in range(args.rounds):   # the paths take turns, so that a slow minute hits them all
            for label, dst, dev in paths:
                pids = [p.pid for p in procs.get(dev, [])]
                c0 = cpu_seconds(pids)
                gbps, pps = packets(dev, "b", lambda: iperf(dst, args.seconds))
                cpu = (cpu_seconds(pids) - c0) / (gbps * args.seconds / 8) if pids else None
                runs[label].append((gbps, pps, cpu))
    finally:
        for p in (p for ps in procs.values() for p in ps):
            p.terminate()
            p.wait()
        subprocess.run(vnet + ["destroy", "bench"], stdout=subprocess.DEVNULL)
        drops = {}
        for dev in ("tp0", "tk0"):
            for ns in ("a", "b"):
                try:
                    with open(f"/run/{dev}-{ns}.stats") as f:
                        d = {k: v for k, v in json.load(f)["drops"].items() if v}
                except (OSError, ValueError):
                    d = {"stats": "missing"}
                if d:
                    drops[f"{dev} in {ns}"] = d
        os.unlink(key.name)
        os.unlink(topo.name)
    rows = []
    for label, _d, _v in paths:
        ms = sorted(runs[label])
        rows.append((label, ms[len(ms) // 2], ms[0][0], ms[-1][0]))
    vx = rows[1][1][0]
    print(f"one TCP stream, {args.seconds} s each, veth underlay MTU 1500 (iperf3), median of {args.rounds} "
          "rounds taken in turns")
    print(f"{'path':32} {'Gbit/s':>7} {'(min-max)':>13} {'packets/s':>10} {'vs VXLAN':>9} {'tunnel CPU-s/GB':>16}")
    for label, (gbps, pps, cpu), lo, hi in rows:
        print(f"{label:32} {gbps:7.3f} {f'({lo:.1f}-{hi:.1f})':>13} {pps:10.0f} {gbps / vx:9.1%} "
              f"{'' if cpu is None else f'{cpu:.2f}':>16}")
    print("tunnel drops:", drops or "none")


if __name__ == "__main__":
    main()
