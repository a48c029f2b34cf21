"""The tunnel of several trees side by side: each tree's `vnet tunnel`
(plain, or sealed with --key) runs on a TUN pair of its own over one veth
underlay, and one TCP stream (iperf3) goes through each in turn, --rounds
times, the order rotating. Prints each round, then each tree's CPU time per
GB (both tunnel processes) and its difference from the first tree's, round
by round: two trees measured in the same minutes differ by less than the
noise between runs of benchmarks/tunnel.py (docs/benchmarks.md).

    sudo .venv/bin/python benchmarks/tunnel_pairs.py [--seconds 5] [--rounds 12] [--key] TREE [TREE...]

A tree is a checkout or an export (`git archive`) of vnet; its tunnel runs
with PYTHONPATH=TREE/src. The namespaces are made with this tree's vnet,
inside a private mount and network namespace that is removed after."""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tunnel import ROOT, cpu_seconds, iperf  # noqa: E402  (benchmarks/tunnel.py: one stream, the CPU it took)


def topology(n):
    tuns = "".join(f"  - {{name: tq{i}, kind: tun, netns: a, addresses: [10.60.{i}.1/24]}}\n"
                   f"  - {{name: tq{i}, kind: tun, netns: b, addresses: [10.60.{i}.2/24]}}\n" for i in range(n))
    return ("name: pairs\nnamespaces: [a, b]\ninterfaces:\n"
            "  - {name: wan, kind: veth, netns: a, mtu: 1500, addresses: [192.168.50.1/24],\n"
            "     peer: {name: wan, netns: b, mtu: 1500, addresses: [192.168.50.2/24]}}\n" + tuns)


def start_tunnels(trees, key_file):
    procs = []
    for i, tree in enumerate(trees):
        env = {**os.environ, "PYTHONPATH": os.path.join(os.path.abspath(tree), "src")}
        ends = []
        for ns, me, peer in (("a", "192.168.50.1", "192.168.50.2"), ("b", "192.168.50.2", "192.168.50.1")):
            argv = [sys.executable, "-m", "vnet", "tunnel", "--netns", ns, "--dev", f"tq{i}",
                    "--listen", f"{me}:{6000 + i}", "--peer", f"{peer}:{6000 + i}"]
            argv += ["--key-file", key_file] if key_file else []
            ends.append(subprocess.Popen(argv, env=env, cwd="/", stderr=subprocess.DEVNULL))
        procs.append(ends)
    return procs


def measure(trees, procs, args):
    runs = [[] for _ in trees]   # per tree: (Gbit/s, CPU-s/GB) a round
    for r in range(args.rounds):
        order = list(range(len(trees)))
        order = order[r % len(order):] + order[:r % len(order)]
        for i in (order if (r // len(order)) % 2 == 0 else order[::-1]):
            pids = [p.pid for p in procs[i]]
            c0 = cpu_seconds(pids)
            gbps = iperf(f"10.60.{i}.2", args.seconds)
            runs[i].append((gbps, (cpu_seconds(pids) - c0) / (gbps * args.seconds / 8)))
        print(f"round {r + 1}: " + ", ".join(f"{t} {runs[i][-1][0]:.2f} Gbit/s {runs[i][-1][1]:.3f} CPU-s/GB"
                                             for i, t in enumerate(trees)), flush=True)
    return runs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("trees", nargs="+")
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--key", action="store_true", help="the tunnels sealed (ChaCha20-Poly1305)")
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not args.inner:
        cmd = ("mount -t tmpfs tmpfs /run && mkdir -p /run/netns && ip link set lo up && exec \"$@\"")
        inner = [sys.executable, os.path.abspath(__file__), "--inner", "--seconds", str(args.seconds),
                 "--rounds", str(args.rounds)] + (["--key"] if args.key else [])
        inner += [os.path.abspath(t) for t in args.trees]
        sys.exit(subprocess.call(["unshare", "--mount", "--net", "sh", "-c", cmd, "sh"] + inner,
                                 env={**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")}))
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as topo, tempfile.NamedTemporaryFile("w") as key:
        topo.write(topology(len(args.trees)))
        key.write(os.urandom(32).hex())
        topo.flush()
        key.flush()
        subprocess.run([sys.executable, "-m", "vnet", "apply", topo.name], check=True, stdout=subprocess.DEVNULL)
        procs = start_tunnels(args.trees, key.name if args.key else None)
        try:
            time.sleep(1.5)
            runs = measure(args.trees, procs, args)
        finally:
            for p in (p for ends in procs for p in ends):
                p.terminate()
                p.wait()
            subprocess.run([sys.executable, "-m", "vnet", "destroy", "pairs"], stdout=subprocess.DEVNULL)
    first = [c for _g, c in runs[0]]
    for t, rs in zip(args.trees, runs):
        cpu = [c for _g, c in rs]
        diff = [c - f for c, f in zip(cpu, first)]
        print(f"{t}: Gbit/s median {statistics.median(g for g, _c in rs):.2f}; "
              f"CPU-s/GB mean {statistics.mean(cpu):.3f}, median {statistics.median(cpu):.3f}; "
              f"against the first, round by round: mean {statistics.mean(diff):+.3f}, "
              f"higher in {sum(d > 0 for d in diff)} of {len(diff)}")


if __name__ == "__main__":
    main()
