"""vnet's CNI plugin against the Debian reference plugins, in one run, on the
same host-local IPAM: median and p90 of ADD and DEL over --containers
containers (one network namespace each; the two plugins' calls taking
turns, so that a shared machine's load falls on both alike), then
--parallel ADDs at once (the wall time until the last one answers; two
bursts each, in the order reference, vnet, vnet, reference, their mean).
Each plugin is run as a runtime runs it: a fresh process per call, the
configuration on stdin.

    sudo .venv/bin/python benchmarks/cni.py [--containers 100] [--parallel 50]

Targets (issue 22): ADD <= 3x and DEL <= 1.0x the reference macvlan's
median; the parallel ADDs within 3x the reference's time for the same.
Everything runs inside a private mount and network namespace made for the
run (the machine's own network is never touched) and is removed after."""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from private import run_inside

REFERENCE = "/usr/lib/cni"

# (network, reference type, configuration without type): the same for both plugins
CASES = [
    ("macvlan", "macvlan", {"master": "eth1", "mode": "bridge"}),
    ("bridge", "bridge", {"bridge": "cnibr0", "isGateway": True}),
    ("ipvlan", "ipvlan", {"master": "eth1", "mode": "l2"}),
    ("vlan", "vlan", {"master": "eth1", "vlanId": 100}),
]


def conf(name, ptype, body, data_dir, i):
    return json.dumps({"cniVersion": "1.0.0", "name": f"{name}-{ptype}", "type": ptype, **body,
                       "ipam": {"type": "host-local", "subnet": f"10.{100 + i}.0.0/16",
                                "dataDir": data_dir}}).encode()


def call(bin_dir, ptype, command, container, stdin, ns=True):
    env = {"CNI_COMMAND": command, "CNI_CONTAINERID": container, "CNI_IFNAME": "eth0",
           "CNI_NETNS": f"/run/netns/{container}" if ns else "", "CNI_PATH": bin_dir, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    return subprocess.Popen([os.path.join(bin_dir, ptype)], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE), stdin


def timed(bin_dir, ptype, command, container, stdin):
    t = time.perf_counter()
    p, data = call(bin_dir, ptype, command, container, stdin)
    out, err = p.communicate(data)
    dt = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"{ptype} {command} {container} failed: {out.decode()} {err.decode()}")
    return dt


def serial(bin_dir, plugins, n):
    """ADD then DEL of ``n`` containers for each of ``plugins`` ((type, stdin,
    tag) each), their calls taking turns (the first plugin first on even
    containers, last on odd ones): on a shared machine both see the same
    load. {type: (ADD times, DEL times)}."""
    names = {ptype: [f"{tag}{i}" for i in range(n)] for ptype, _, tag in plugins}
    for c in sum(names.values(), []):
        subprocess.run(["ip", "netns", "add", c], check=True)
    out = {ptype: ([], []) for ptype, _, _ in plugins}
    for k, command in enumerate(("ADD", "DEL")):
        for i in range(n):
            for ptype, stdin, _ in (plugins if i % 2 == 0 else plugins[::-1]):
                out[ptype][k].append(timed(bin_dir, ptype, command, names[ptype][i], stdin))
    for c in sum(names.values(), []):
        subprocess.run(["ip", "netns", "del", c], check=True)
    return out


def parallel(bin_dir, ptype, stdin, n, tag):
    names = [f"{tag}p{i}" for i in range(n)]
    for c in names:
        subprocess.run(["ip", "netns", "add", c], check=True)
    t = time.perf_counter()
    procs = [call(bin_dir, ptype, "ADD", c, stdin) for c in names]
    outs = [p.communicate(d) for p, d in procs]
    wall = time.perf_counter() - t
    bad = [o for (p, _), o in zip(procs, outs) if p.returncode != 0]
    addrs = {json.loads(o[0])["ips"][0]["address"] for (p, _), o in zip(procs, outs) if p.returncode == 0}
    for c in names:
        p, d = call(bin_dir, ptype, "DEL", c, stdin)
        p.communicate(d)
        subprocess.run(["ip", "netns", "del", c], check=True)
    return wall, len(bad), len(addrs)


def p90(xs):
    return sorted(xs)[int(0.9 * (len(xs) - 1))]


def kernel_has(kind):
    r = subprocess.run(["ip", "link", "add", "probe0", "link", "eth1", "type", kind]
                       + (["id", "5"] if kind == "vlan" else []), capture_output=True)
    subprocess.run(["ip", "link", "del", "probe0"], capture_output=True)
    return r.returncode == 0


def setup(tmp):
    subprocess.run("ip link add eth1 type veth peer name eth1p && ip link set eth1 up && ip link set eth1p up",
                   shell=True, check=True)
    bin_dir = os.path.join(tmp, "bin")
    os.makedirs(bin_dir)
    for p in ("host-local", "macvlan", "bridge", "ipvlan", "vlan"):
        os.symlink(os.path.join(REFERENCE, p), os.path.join(bin_dir, p))
    subprocess.run([sys.executable, "-m", "vnet", "cni", "install", "--dir", bin_dir], check=True,
                   stdout=subprocess.DEVNULL)
    return bin_dir


def row(label, adds, dels, wall, failed, distinct, base):
    ma, md = statistics.median(adds) * 1e3, statistics.median(dels) * 1e3
    r = (f"{label:<22} {ma:7.1f} {p90(adds) * 1e3:7.1f} {md:7.1f} {p90(dels) * 1e3:7.1f} "
         f"{wall * 1e3:9.0f} {failed:4d} {distinct:5d}")
    if base:
        r += f"   {ma / base[0]:5.2f}x {md / base[1]:5.2f}x {wall * 1e3 / base[2]:5.2f}x"
    return r, (ma, md, wall * 1e3)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--containers", type=int, default=100)
    ap.add_argument("--parallel", type=int, default=50)
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not args.inner:
        run_inside(__file__, ["--containers", str(args.containers), "--parallel", str(args.parallel)])
    tmp = tempfile.mkdtemp(prefix="vnet-cni-bench-")
    try:
        bin_dir = setup(tmp)
        print(f"CNI plugins, {time.strftime('%Y-%m-%d')}, kernel {os.uname().release}, {os.cpu_count()} CPUs; "
              f"ms; {args.containers} containers one after another (the plugins taking turns), then "
              f"{args.parallel} ADDs at once (twice each, the mean)")
        print(f"{'plugin':<22} {'ADD med':>7} {'p90':>7} {'DEL med':>7} {'p90':>7} {'parallel':>9} {'fail':>4} "
              f"{'addrs':>5}   ratios to the reference (ADD, DEL, parallel)")
        for i, (name, ptype, body) in enumerate(CASES):
            if name in ("ipvlan", "vlan") and not kernel_has(name):
                print(f"{name:<22} (this kernel has no {name}: not measured)")
                continue
            plugins = [(plugin, conf(name, plugin, body, os.path.join(tmp, "ipam", plugin), i), f"{tag}{i}c")
                       for plugin, tag in ((ptype, "r"), ("vnet", "v"))]
            times = serial(bin_dir, plugins, args.containers)
            # the bursts in the order reference, vnet, vnet, reference: their mean each
            bursts = {plugin: [] for plugin, _, _ in plugins}
            for k, (plugin, data, tag) in enumerate(plugins + plugins[::-1]):
                bursts[plugin].append(parallel(bin_dir, plugin, data, args.parallel, f"{tag}{k}"))
            base = None
            for plugin, _, _ in plugins:
                b = bursts[plugin]
                wall = statistics.mean(w for w, _, _ in b)
                failed, distinct = sum(f for _, f, _ in b), min(d for _, _, d in b)
                line, figures = row(f"{name} ({'vnet' if plugin == 'vnet' else 'reference'})", *times[plugin], wall,
                                    failed, distinct, base)
                print(line, flush=True)
                base = base or figures
            if name == "macvlan":
                ok = figures[0] <= 3 * base[0] and figures[1] <= base[1] and figures[2] <= 3 * base[2]
                print(f"{'':<22} targets (ADD <= 3x, DEL <= 1.0x, parallel <= 3x): {'met' if ok else 'NOT met'}")
    finally:
        stop_servers()
        shutil.rmtree(tmp, ignore_errors=True)


def stop_servers():
    """The warm vnets the run started (their sockets are in the run's own
    /run): asked to leave, not left to idle out in a namespace that is gone."""
    import glob
    import signal
    import socket
    import struct
    for path in glob.glob("/run/vnet/cni-*.sock"):
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(path)
            pid = struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
        finally:
            s.close()


if __name__ == "__main__":
    main()
