"""Control-plane speed at scale: vnet against the commands a person would
write, in one run, as whole processes (interpreter start and imports
included).

    sudo .venv/bin/python benchmarks/control_plane.py [--sizes 100,1000,2000] [--big]

Two labs, for each N:
  star: N namespaces, each with a veth whose other end is a port of a
        bridge (one bridge per 1,000 ports: Linux takes at most 1,024), an
        IPv4 address in each namespace;
  flat: N veth pairs and N macvlans (bridge mode, one on each pair's first
        end) in one namespace.
Operations: cold apply, no-op plan, no-op apply, one option changed on one
interface, destroy; against (a) an `ip -batch` file of the plain commands
in the reference's notation (build; teardown one object at a time) and (b)
one `ip` process per command, as a shell script does (N <= 1000: it takes
minutes beyond) and (c) mininet's own star with a Linux bridge (`mn --switch
lxbr --topo single,N`, N <= 1000: one bridge). Every time is also given as a
ratio to (a).

Each build (vnet's, `ip`'s, mininet's, the bare loop of vnet's requests)
starts once the kernel has gone quiet after the run before (`quiet`): a
teardown of thousands of namespaces goes on in the kernel's workqueue for
seconds after it returns, and would otherwise slow whatever came next.

Everything runs in a private mount + network namespace made for the run."""
import argparse
import json
import os
import resource
import socket
import struct
import subprocess
import sys
import tempfile
import time

from private import run_inside

VNET = [sys.executable, "-m", "vnet"]


PORTS = 1000   # a Linux bridge takes at most 1024 ports (BR_MAX_PORTS): one bridge per 1,000


def star(n):
    lines = ["name: star", "namespaces: [" + ", ".join(f"s{i}" for i in range(n)) + "]", "interfaces:"]
    lines += [f"  - {{name: br{b}, kind: bridge, stp: false}}" for b in range(-(-n // PORTS))]
    for i in range(n):
        lines.append(f"  - {{name: v{i}, kind: veth, master: br{i // PORTS}, peer: {{name: eth0, netns: s{i}, "
                     f"addresses: [{_addr(i)}/8]}}}}")
    return "\n".join(lines) + "\n"


def flat(n):
    lines = ["name: flat", "interfaces:"]
    for i in range(n):
        lines.append(f"  - {{name: a{i}, kind: veth, peer: {{name: b{i}}}}}")
        lines.append(f"  - {{name: m{i}, kind: macvlan, link: a{i}, mode: bridge}}")
    return "\n".join(lines) + "\n"


def _addr(i):
    """10.0.0.1, 10.0.0.2, ...: one address per namespace in 10.0.0.0/8."""
    return f"10.{(i + 1) // 65536 % 256}.{(i + 1) // 256 % 256}.{(i + 1) % 256}"


def ip_star(n):
    """(build, teardown): lists of (namespace, [ip command lines]). `ip -batch`
    takes no namespace per line: what happens inside a namespace is one
    `ip -n NS -batch` of its own."""
    host = []
    for b in range(-(-n // PORTS)):
        host += [f"link add br{b} type bridge stp_state 0", f"link set br{b} up"]
    for i in range(n):
        host += [f"netns add s{i}", f"link add v{i} type veth peer name eth0 netns s{i}",
                 f"link set v{i} master br{i // PORTS}", f"link set v{i} up"]
    build = [(None, host)] + [(f"s{i}", [f"addr add {_addr(i)}/8 dev eth0", "link set eth0 up"]) for i in range(n)]
    teardown = [(None, [f"link del v{i}" for i in range(n)] + [f"netns del s{i}" for i in range(n)]
                 + [f"link del br{b}" for b in range(-(-n // PORTS))])]
    return build, teardown


def ip_flat(n):
    build = []
    for i in range(n):
        build += [f"link add a{i} type veth peer name b{i}", f"link set a{i} up", f"link set b{i} up",
                  f"link add m{i} link a{i} type macvlan mode bridge", f"link set m{i} up"]
    teardown = [f"link del m{i}" for i in range(n)] + [f"link del a{i}" for i in range(n)]
    return [(None, build)], [(None, teardown)]


def flat_floor(n, group=0x5eed):
    """The requests vnet sends for the flat lab, and in its order, from a
    bare loop over one socket, no planning, journal or verification: each
    veth created up (its peer tagged, down), the macvlan on it created up,
    then every peer brought up (vnet holds that to the end of the run of
    creations: a carrier coming up mid-run slows every creation after it).
    Seconds; what is left once vnet's own work is taken away."""
    from vnet.kernel import netlink as nl, rtnl
    from vnet.kinds.macvlan import IFLA_MACVLAN_MODE, MODES
    from vnet.kinds.veth import VETH_INFO_PEER
    s = nl.Socket()
    try:
        t = time.monotonic()
        for i in range(n):
            peer = rtnl.ifinfo() + rtnl.link_attrs(name=f"b{i}", group=group)
            a = rtnl.new_link(s, up=True, echo=True, attrs=rtnl.link_attrs(name=f"a{i}", group=group)
                              + rtnl.linkinfo("veth", nl.attr(VETH_INFO_PEER, peer)))
            rtnl.new_link(s, up=True, echo=True, attrs=rtnl.link_attrs(name=f"m{i}", group=group, link=a.ifindex)
                          + rtnl.linkinfo("macvlan", nl.u32(IFLA_MACVLAN_MODE, MODES["bridge"])))
        for i in range(n):
            rtnl.set_link_by_name(s, f"b{i}", up=True, attrs=nl.u32(rtnl.IFLA_GROUP, group))
        took = time.monotonic() - t
        rtnl.del_group(s, group)
        return took
    finally:
        s.close()


def dumps_floor():
    """The dumps a no-op plan needs, from a bare loop in this process: each
    namespace's link and address dump (the sockets made first, not timed),
    nothing decoded. Seconds; what the kernel takes to answer them."""
    from vnet.kernel import netlink as nl, rtnl
    from vnet.kernel.session import Kernel
    with Kernel() as k:
        nss = [None] + sorted(os.listdir("/run/netns"))
        k.open_socks(nss)
        socks = [k.sock(ns) for ns in nss]
        links = rtnl.ifinfo() + nl.u32(rtnl.IFLA_EXT_MASK, rtnl.RTEXT_FILTER_SKIP_STATS)   # as vnet asks
        addrs = rtnl._IFA.pack(0, 0, 0, 0, 0)
        t = time.monotonic()
        for s in socks:
            s.dump(rtnl.RTM_GETLINK, links)
            s.dump(rtnl.RTM_GETADDR, addrs)
        return time.monotonic() - t


def timed(argv, **kw):
    t = time.monotonic()
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])}... exited {r.returncode}: {r.stderr[-500:]}")
    return time.monotonic() - t, r


def ip_batch(groups):
    """One `ip -batch` process per namespace group, from one shell script."""
    files, script = [], ["set -e"]
    for ns, lines in groups:
        with tempfile.NamedTemporaryFile("w", suffix=".ip", delete=False) as f:
            f.write("\n".join(lines) + "\n")
        files.append(f.name)
        script.append(f"ip {'-n ' + ns + ' ' if ns else ''}-batch {f.name}")
    try:
        return _script(script)
    finally:
        for fn in files:
            os.unlink(fn)


def ip_each(groups):
    """One `ip` process per command, as a shell script does."""
    return _script(["set -e"] + [f"ip {'-n ' + ns + ' ' if ns else ''}{ln}" for ns, lines in groups for ln in lines])


def _script(lines):
    with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as f:
        f.write("\n".join(lines) + "\n")
    try:
        return timed(["sh", f.name])[0]
    finally:
        os.unlink(f.name)


MININET = r"""
import sys, time
t0 = time.monotonic()
from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.nodelib import LinuxBridge
from mininet.topo import SingleSwitchTopo
setLogLevel("error")
net = Mininet(topo=SingleSwitchTopo(int(sys.argv[1])), switch=LinuxBridge, controller=None)
net.start()
t1 = time.monotonic()
net.stop()
print(t1 - t0, time.monotonic() - t1)
"""


def mininet_star(n):
    """(build, teardown) seconds of mininet's own star: N hosts, each in a
    namespace with one veth to a Linux bridge (`mn --switch lxbr --topo
    single,N`; its hosts get 10.0.0.x/8 as this lab's do), through its Python
    API so that the build and the teardown are timed apart; the build
    includes the interpreter's start, as vnet's does. None when mininet is
    not installed (scripts/setup.sh installs it) or the lab does not fit
    one bridge."""
    import shutil
    if n > PORTS or shutil.which("mn") is None or shutil.which("brctl") is None:
        return None
    t = time.monotonic()
    r = subprocess.run(["/usr/bin/python3", "-c", MININET, str(n)], capture_output=True, text=True)
    if r.returncode != 0:
        subprocess.run(["mn", "-c"], capture_output=True)
        raise RuntimeError(f"mininet exited {r.returncode}: {r.stderr[-500:]}")
    build, teardown = (float(x) for x in r.stdout.split()[-2:])
    return time.monotonic() - t - teardown, teardown


class Monitor:
    """Link and address changes announced in vnet's own namespace: the
    netlink monitor that tells whether a no-op changed anything. The kernel
    goes on announcing its own work for a while after a build (carrier, IPv6
    address configuration), so it is counted only once that has settled."""

    def __init__(self):
        self.s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        self.s.bind((0, 0x1 | 0x10 | 0x100))   # RTMGRP_LINK, IPV4_IFADDR, IPV6_IFADDR
        self.s.setblocking(False)

    def close(self):
        self.s.close()

    def count(self):
        n = 0
        while True:
            try:
                data = self.s.recv(1 << 20)
            except BlockingIOError:
                return n
            except OSError:   # ENOBUFS: more announcements than the buffer held
                n += 1
                continue
            off = 0
            while off + 16 <= len(data):
                ln, _t, _f, _seq, pid = struct.unpack_from("=IHHII", data, off)
                n += 1
                off += (ln + 3) & ~3

    def settle(self, quiet=1.0, limit=60.0):
        """Wait until the kernel has announced nothing for ``quiet`` seconds
        and the CPUs are idle again (a new lab's IPv6 start-up, flooded by
        the bridge to every port, and namespace clean-up run for seconds
        after the announcements stop): the no-op is vnet's cost, not the
        tail of the build's."""
        end = time.monotonic() + limit
        while time.monotonic() < end:
            time.sleep(quiet)
            if self.count() == 0 and cpu_idle(quiet) >= 0.9:
                return True
        return False   # gave up: the "settled" figures are not quite that


def cpu_idle(seconds):
    """The share of CPU time idle over the next ``seconds``."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return v[3] + v[4], sum(v)
    i0, t0 = sample()
    time.sleep(seconds)
    i1, t1 = sample()
    return (i1 - i0) / max(1, t1 - t0)


def operational(t0, limit=60.0):
    """Seconds from ``t0`` until every link of this namespace that is up is
    operational (IFLA_OPERSTATE UP or UNKNOWN), polled every 5 ms: a build
    is done when its devices work, not when its command returns (an order
    of requests can return sooner by leaving the kernel's link watch work
    for later: docs/benchmarks.md). Infinite if not within ``limit``."""
    from vnet.kernel import netlink as nl, rtnl
    s = nl.Socket()
    try:
        while True:
            if all(not ln.up or ln.operstate in ("UP", "UNKNOWN") for ln in rtnl.dump_links(s)):
                return time.monotonic() - t0
            if time.monotonic() - t0 > limit:
                return float("inf")
            time.sleep(0.005)
    finally:
        s.close()


def quiet():
    """Wait until the kernel has finished the work of the run before (a
    teardown's namespaces are cleaned up by the kernel's workqueue for
    seconds after it returns, a new lab's IPv6 start-up runs on): every
    build, vnet's and iproute2's, starts on an idle machine."""
    m = Monitor()
    try:
        return m.settle()
    finally:
        m.close()


def measure(lab, n, topo_text, change, ip_cmds, each):
    path = os.path.join(tempfile.gettempdir(), f"{lab}.yaml")
    with open(path, "w") as f:
        f.write(topo_text)
    row = {}
    quiet()
    t0 = time.monotonic()
    row["apply"] = timed(VNET + ["apply", path])[0]
    if lab == "flat":   # one namespace: cheap to poll (it delays the plan right after, a target of the star's only)
        row["apply, operational"] = operational(t0)
    mon = Monitor()
    # at once, while the kernel still works on the new lab (IPv6 start-up...)
    row["plan (no-op), right after"], r = timed(VNET + ["plan", "--json", path])
    assert json.loads(r.stdout)["changes"] == [], "the no-op plan right after the apply has changes"
    row["dumps alone, right after"] = dumps_floor()
    settled = mon.settle()
    row["plan (no-op)"], r = timed(VNET + ["plan", "--json", path])
    row["dumps alone, settled"] = dumps_floor()
    assert json.loads(r.stdout)["changes"] == [], "the no-op plan has changes"
    row["apply (no-op)"], r = timed(VNET + ["apply", "--json", path])
    sent = json.loads(r.stdout)["requests"]
    announced = mon.count()
    with open(path, "w") as f:
        f.write(change(topo_text))
    row["one change"], r = timed(VNET + ["apply", "--json", path])
    touched = len(json.loads(r.stdout)["applied"])
    changed = mon.count()   # the monitor does see a real change
    row["destroy"] = timed(VNET + ["destroy", lab])[0]
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    build, teardown = ip_cmds(n)
    quiet()
    t0 = time.monotonic()
    row["ip -batch build"] = ip_batch(build)
    if lab == "flat":
        row["ip -batch build, operational"] = operational(t0)
    row["ip -batch teardown"] = ip_batch(teardown)
    if each:
        quiet()
        row["ip each build"] = ip_each(build)
        row["ip each teardown"] = ip_each(teardown)
    if lab == "flat":
        quiet()
        row["requests alone (bare loop)"] = flat_floor(n)
    if lab == "star":
        quiet()
        mn = mininet_star(n)
        if mn:
            row["mininet build"], row["mininet teardown"] = mn
    os.unlink(path)
    return row, {"settled before the no-op plan (kernel quiet and CPUs idle for 1 s, waited at most 60 s)":
                 "yes" if settled else "NO (gave up)", "no-op requests (vnet's count)": sent, "no-op changes announced (monitor)": announced,
                 "objects touched by one change": touched, "changes announced by it (monitor)": changed, "peak RSS of vnet so far, MB": round(rss)}


# (lab, N, operation, limit, "s" seconds or "x" ratio to ip -batch)
TARGETS = [("flat", 1000, "apply", 0.7, "x"), ("flat", 2000, "apply", 0.7, "x"), ("star", 1000, "apply", 0.5, "x"),
           ("star", 1000, "destroy", 0.05, "x"), ("flat", 1000, "destroy", 0.05, "x"),
           ("star", 1000, "plan (no-op), right after", 0.3, "s"), ("star", 1000, "plan (no-op)", 0.3, "s"),
           ("star", 1000, "one change", 0.3, "s")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100,1000,2000")
    ap.add_argument("--big", action="store_true", help="also N = 4000")
    ap.add_argument("--labs", default="star,flat", help="which labs (default: star,flat)")
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not args.inner:
        run_inside(__file__, ["--sizes", args.sizes, "--labs", args.labs] + (["--big"] if args.big else []))
    sizes = [int(x) for x in args.sizes.split(",")] + ([4000] if args.big else [])
    results = {}
    for lab, gen, change, cmds in (
            ("star", star, lambda t: t.replace("{name: v7, kind: veth, master: br0,",
                                               "{name: v7, kind: veth, master: br0, mtu: 1400,"), ip_star),
            ("flat", flat, lambda t: t.replace("{name: m7, kind: macvlan, link: a7, mode: bridge}",
                                               "{name: m7, kind: macvlan, link: a7, mode: private}"), ip_flat)):
        if lab not in args.labs.split(","):
            continue
        for n in sizes:
            row, facts = measure(lab, n, gen(n), change, cmds, each=n <= 1000)
            results[(lab, n)] = (row, facts)
            print(f"{lab} N={n}: " + ", ".join(f"{k} {v:.2f}s" for k, v in row.items()), file=sys.stderr, flush=True)
    print(f"control plane, {time.strftime('%Y-%m-%d')}, kernel {os.uname().release}, {os.cpu_count()} CPUs; "
          "seconds (ratio to the ip -batch build or teardown)")
    ops = ["apply", "plan (no-op), right after", "plan (no-op)", "apply (no-op)", "one change", "destroy"]
    for (lab, n), (row, facts) in results.items():
        base_b, base_t = row["ip -batch build"], row["ip -batch teardown"]
        print(f"\n{lab} lab, N = {n}")
        for op in ops:
            base = base_t if op == "destroy" else base_b
            print(f"  vnet {op:26} {row[op]:8.2f} s  ({row[op] / base:5.2f}x ip -batch)")
        print(f"  the dumps of a plan alone, bare loop: right after {row['dumps alone, right after']:.2f} s, "
              f"settled {row['dumps alone, settled']:.2f} s (the kernel's pace)")
        if "requests alone (bare loop)" in row:
            print(f"  vnet's requests alone, from a bare loop {row['requests alone (bare loop)']:6.2f} s  "
                  f"({row['requests alone (bare loop)'] / base_b:5.2f}x): the least an apply can take")
        print(f"  ip -batch build      {base_b:8.2f} s")
        if "apply, operational" in row:
            print(f"  every device operational after: vnet apply {row['apply, operational']:.2f} s "
                  f"({row['apply, operational'] / row['ip -batch build, operational']:.2f}x), "
                  f"ip -batch {row['ip -batch build, operational']:.2f} s (from the command's start)")
        print(f"  ip -batch teardown   {base_t:8.2f} s  (one object at a time)")
        if "ip each build" in row:
            print(f"  ip per command build {row['ip each build']:8.2f} s  ({row['ip each build'] / base_b:5.2f}x)")
            print(f"  ip per command teardown {row['ip each teardown']:5.2f} s  ({row['ip each teardown'] / base_t:5.2f}x)")
        if "mininet build" in row:
            print(f"  mininet build        {row['mininet build']:8.2f} s  ({row['mininet build'] / base_b:5.2f}x)")
            print(f"  mininet teardown     {row['mininet teardown']:8.2f} s  ({row['mininet teardown'] / base_t:5.2f}x)")
        for k, v in facts.items():
            print(f"  {k}: {v}")
    print("\ntargets (issue 23), where this run measured them:")
    for lab, n, op, limit, unit in TARGETS:
        if (lab, n) in results:
            row = results[(lab, n)][0]
            v = row[op] if unit == "s" else row[op] / row["ip -batch teardown" if op == "destroy" else "ip -batch build"]
            print(f"  {lab} N={n} {op}: {v:.2f}{unit} (target <= {limit}{unit}): {'met' if v <= limit else 'NOT MET'}")
    for lab in ("star", "flat"):
        ns = [n for (l, n) in results if l == lab]
        for lo, hi in ((1000, 2000), (2000, 4000)):
            if lo in ns and hi in ns:
                a, b = results[(lab, lo)][0], results[(lab, hi)][0]
                print(f"\n{lab} growth, N={hi} / N={lo}: " + ", ".join(f"{op} {b[op] / a[op]:.2f}x" for op in ops))
                if hi == 4000:   # the linearity target: <= 2.2x, or no worse than ip -batch's own growth
                    for op, base in (("apply", "ip -batch build"), ("destroy", "ip -batch teardown")):
                        g, gi = b[op] / a[op], b[base] / a[base]
                        print(f"  {lab} {op} growth {g:.2f}x, {base} {gi:.2f}x (target <= 2.2x or <= {base}'s): "
                              f"{'met' if g <= max(2.2, gi) else 'NOT MET'}")


if __name__ == "__main__":
    main()
