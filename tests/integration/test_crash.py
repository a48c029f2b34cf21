"""Crash safety: `vnet apply` killed with SIGKILL after each of its changing
requests in turn (fault injection: VNET_KILL_AT_REQUEST=k), on a topology
with every kind this machine's kernel has. After each kill, `vnet apply`
converges to the file and `vnet destroy` leaves nothing: no interface,
namespace, process or record."""
import errno
import json
import os
import time

import pytest

TOPO = """name: crash
namespaces: [c1, c2, c3]
interfaces:
  - {name: br0, kind: bridge, stp: false, addresses: [10.60.0.254/24]}
  - {name: v1, kind: veth, master: br0, peer: {name: eth0, netns: c1, addresses: [10.60.0.1/24]}}
  - {name: v2, kind: veth, master: br0, hairpin: true, peer: {name: eth0, netns: c2, mac: "02:00:00:00:60:02"}}
  - {name: mv0, kind: macvlan, netns: c2, link: eth0, mode: bridge, addresses: [10.60.0.2/24]}
  - {name: mvt0, kind: macvtap, netns: c1, link: eth0, mode: vepa}
  - {name: vx0, kind: vxlan, vni: 60, dev: br0, local: 10.60.0.254, fdb: [{dst: 10.60.0.1}]}
  - {name: tap0, kind: tap, master: br0}
  - {name: tun0, kind: tun, netns: c1, addresses: ["fd60::1/64"]}
  - {name: v3, kind: veth, master: br0, peer: {name: eth0, netns: c3, addresses: [10.60.0.3/24, "fd60::3/64"]}}
  - {name: br1, kind: bridge, netns: c3, addresses: [10.62.0.1/24]}
  - {name: p1, kind: veth, netns: c3, master: br1, peer: {name: p1b, netns: c3, master: br1}}
routes:
  - {netns: c1, to: 10.61.0.0/24, via: 10.60.0.254}
  - {netns: c3, to: 10.63.0.0/24, via: 10.62.0.2}
sysctls:
  - {netns: c1, key: net.ipv4.ip_forward, value: 1}
"""


@pytest.mark.needs("bridge", "veth", "macvlan", "macvtap", "vxlan")
def test_sigkill_after_every_request_then_apply_converges_and_destroy_cleans(sandbox):
    f = sandbox.write("crash.yaml", TOPO)
    before = sandbox.dump_all()
    first = json.loads(sandbox.vnet("apply", "--json", f).stdout)
    total = first["requests"]
    sandbox.vnet("destroy", f)
    assert sandbox.dump_all() == before
    assert total >= 25, f"only {total} requests: not enough kill points"
    survived = 0
    for k in range(1, total + 1):
        r = sandbox.vnet_killed_at(k, "apply", f)
        assert r.returncode == -9, f"kill point {k}: apply was not killed (rc {r.returncode})\n{r.stderr}"
        r = sandbox.vnet("apply", "--json", f, check=False)
        assert r.returncode == 0, f"after a kill at request {k}, apply did not converge:\n{r.stdout}{r.stderr}"
        plan = json.loads(sandbox.vnet("plan", "--json", f).stdout)["changes"]
        assert plan == [], f"after a kill at request {k}: still to do {plan}"
        sandbox.vnet("destroy", f)
        assert sandbox.dump_all() == before, f"after a kill at request {k}, destroy left something"
        assert not os.path.exists("/run/vnet/crash.json"), f"a record is left after a kill at request {k}"
        survived += 1
    assert survived == total


@pytest.mark.needs("bridge", "veth")
def test_two_applies_and_a_destroy_raced_end_in_a_valid_state(sandbox):
    """Two `vnet apply` of one topology and a `vnet destroy`, started
    together, many times: each waits for the lock or ends cleanly, and the
    end state is always whole (applied: the plan is empty) or gone
    (destroyed: nothing left), never a mix."""
    import subprocess
    import sys
    f = sandbox.write("race.yaml", """name: race
namespaces: [r1, r2]
interfaces:
  - {name: br0, kind: bridge}
  - {name: v1, kind: veth, master: br0, peer: {name: eth0, netns: r1, addresses: [10.70.0.1/24]}}
  - {name: v2, kind: veth, master: br0, peer: {name: eth0, netns: r2, addresses: [10.70.0.2/24]}}
""")
    before = sandbox.dump_all()
    env = {**os.environ, "PYTHONPATH": os.path.join(os.path.dirname(__file__), "..", "..", "src")}
    ends = {"applied": 0, "destroyed": 0}
    for _round in range(12):
        procs = [subprocess.Popen([sys.executable, "-m", "vnet", *args], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
                 for args in (("apply", f), ("destroy", "race"), ("apply", f))]
        for p, what in zip(procs, ("apply", "destroy", "apply")):
            out, err = p.communicate(timeout=120)
            # destroy of a topology not (yet) applied says so with exit 1; nothing else may fail
            assert p.returncode == 0 or (what == "destroy" and p.returncode == 1 and "no record" in err), \
                f"{what} exited {p.returncode}: {out}{err}"
        plan = json.loads(sandbox.vnet("plan", "--json", f).stdout)["changes"]
        if os.path.exists("/run/vnet/race.json"):
            assert plan == [], f"a record exists but the kernel is not whole: {plan}"
            ends["applied"] += 1
        else:
            assert sandbox.dump_all() == before, "no record, yet something is left"
            ends["destroyed"] += 1
        if os.path.exists("/run/vnet/race.json"):
            sandbox.vnet("destroy", "race")
    assert sandbox.dump_all() == before


@pytest.mark.needs("bridge", "veth")
def test_a_name_taken_by_a_third_party_between_plan_and_apply_is_undone(sandbox):
    """Between vnet's plan and its apply, someone else creates a device with
    a name the plan is about to use: the kernel refuses, everything vnet did
    is undone, the error names the step, and the stranger is untouched."""
    import vnet
    from vnet.applier import execute
    from vnet.errors import KernelError
    from vnet.kernel.session import Kernel
    f = sandbox.write("taken.yaml", """name: taken
namespaces: [t1]
interfaces:
  - {name: br0, kind: bridge}
  - {name: v1, kind: veth, master: br0, peer: {name: eth0, netns: t1}}
""")
    before = sandbox.dump_all()
    topo = vnet.load(f)
    with Kernel() as k:
        p = vnet.plan(topo, k)
        sandbox.sh("ip link add v1 type bridge")        # the third party
        with pytest.raises(KernelError) as e:
            execute(k, p)
    assert "create link v1" in str(e.value) and "File exists" in str(e.value)
    sandbox.sh("ip link del v1")
    assert sandbox.dump_all() == before
    assert not os.path.exists("/run/vnet/taken.json")


@pytest.mark.needs("bridge", "veth")
def test_a_namespace_removed_under_our_feet_is_reported_and_undone(sandbox):
    import vnet
    from vnet.applier import execute
    from vnet.errors import KernelError
    from vnet.kernel.session import Kernel
    base = """name: gone
namespaces: [g1]
interfaces:
  - {name: br0, kind: bridge}
"""
    f = sandbox.write("gone.yaml", base)
    sandbox.vnet("apply", f)
    applied = sandbox.dump_all()
    f = sandbox.write("gone.yaml", base + "  - {name: v1, kind: veth, master: br0, peer: {name: eth0, netns: g1}}\n")
    topo = vnet.load(f)
    with Kernel() as k:
        p = vnet.plan(topo, k)
        k.forget("g1")
        sandbox.sh("ip netns del g1")                     # removed by someone else
        with pytest.raises(KernelError) as e:
            execute(k, p)
    assert "create link v1" in str(e.value), str(e.value)
    after = sandbox.dump_all()
    assert "v1" not in after[None], "the half-made pair was not undone"
    r = sandbox.vnet("apply", f, check=False)   # and a new apply makes it whole again
    assert r.returncode == 0, r.stderr
    assert json.loads(sandbox.vnet("plan", "--json", f).stdout)["changes"] == []
    sandbox.vnet("destroy", f)


# ---- a stop at any instant: half-made namespaces, races, kills by time --------

def _half_made(name):
    """A /run/netns entry as a maker stopped between creating the file and
    mounting the namespace on it leaves it: an empty file, not a namespace."""
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0)
    os.close(fd)


def _record(name, namespaces):
    """A record as `vnet apply` writes it before making anything (its intent)."""
    from vnet.ownership import Record
    rec = Record(name)
    rec.namespaces = list(namespaces)
    rec.save()


HALF = """name: half
namespaces: [h1, h2]
interfaces:
  - {name: br0, kind: bridge}
  - {name: v1, kind: veth, master: br0, peer: {name: eth0, netns: h1, addresses: [10.64.0.1/24]}}
"""


@pytest.mark.needs("bridge", "veth")
def test_a_half_made_namespace_vnet_was_making_is_finished_by_apply(sandbox):
    f = sandbox.write("half.yaml", HALF)
    before = sandbox.dump_all()
    _half_made("h1")
    _record("half", ["h1", "h2"])
    plan = json.loads(sandbox.vnet("plan", "--json", f).stdout)["changes"]
    assert {"action": "create", "object": "netns h1", "reason": "half made (an apply was stopped making it)"} in plan
    r = sandbox.vnet("apply", f, check=False)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert json.loads(sandbox.vnet("plan", "--json", f).stdout)["changes"] == []
    assert sandbox.sh("ip -n h1 -br addr show eth0").split()[2] == "10.64.0.1/24"
    assert "UP" in sandbox.sh("ip -n h1 link show lo"), "lo of the finished namespace is down"
    sandbox.vnet("destroy", "half")
    assert sandbox.dump_all() == before and os.listdir("/run/netns") == []


@pytest.mark.needs("bridge", "veth")
def test_a_half_made_namespace_in_the_record_is_removed_by_destroy_or_by_an_apply_without_it(sandbox):
    f = sandbox.write("half.yaml", HALF)
    _half_made("h3")                       # a destroy stopped between unmounting and unlinking it
    _record("half", ["h3"])
    r = sandbox.vnet("destroy", "half", check=False)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert os.listdir("/run/netns") == [] and not os.path.exists("/run/vnet/half.json")
    _half_made("h3")                       # an apply of a file that no longer declares it
    _record("half", ["h3"])
    plan = json.loads(sandbox.vnet("plan", "--json", f).stdout)["changes"]
    assert {"action": "delete", "object": "netns h3", "reason": "no longer declared"} in plan
    sandbox.vnet("apply", f)
    assert sorted(os.listdir("/run/netns")) == ["h1", "h2"]
    sandbox.vnet("destroy", "half")
    assert os.listdir("/run/netns") == []


@pytest.mark.needs("bridge", "veth")
def test_a_half_made_namespace_not_ours_is_a_conflict_and_never_touched(sandbox):
    f = sandbox.write("half.yaml", HALF)
    _half_made("h1")          # someone else's `ip netns add h1`, stopped (or still running)
    ino = os.stat("/run/netns/h1").st_ino
    for args in (("apply", f), ("plan", f)):
        r = sandbox.vnet(*args, check=False)
        assert r.returncode == 6, f"vnet {args[0]}: exit {r.returncode}\n{r.stdout}{r.stderr}"
        assert "/run/netns/h1 is not a network namespace" in r.stderr and "Traceback" not in r.stderr, r.stderr
    for args in (("show",), ("show", f), ("export",)):
        r = sandbox.vnet(*args, check=False)
        assert "Traceback" not in r.stderr and "setns" not in r.stderr, f"vnet {args}: {r.stderr}"
    assert os.stat("/run/netns/h1").st_ino == ino and os.path.getsize("/run/netns/h1") == 0
    assert os.listdir("/run/netns") == ["h1"] and not os.path.exists("/run/vnet/half.json")
    # a namespace the lab only takes over: its lo down does not make it ours either
    os.unlink("/run/netns/h1")
    sandbox.vnet("apply", f)
    sandbox.sh("ip -n h2 link set lo down")   # as an apply stopped before lo went up leaves it
    plan = json.loads(sandbox.vnet("plan", "--json", f).stdout)["changes"]
    assert plan == [{"action": "modify", "object": "netns h2", "reason": "its lo is down"}], plan
    sandbox.vnet("apply", f)
    assert "UP" in sandbox.sh("ip -n h2 link show lo")
    assert json.loads(sandbox.vnet("plan", "--json", f).stdout)["changes"] == []
    sandbox.vnet("destroy", "half")


@pytest.mark.needs("bridge", "veth")
def test_two_topologies_declaring_one_namespace_raced_never_crash(sandbox):
    """Two topologies that both declare namespace `shared`, applied at once,
    50 times: one wins, the other is refused (exit 6, or 3 when it lost the
    race to make the namespace) with a message and no traceback; the
    winner is whole and its destroy leaves nothing."""
    import subprocess
    import sys
    files = [sandbox.write(f"{t}.yaml", f"""name: {t}
namespaces: [shared, {t}-own]
interfaces:
  - {{name: {t}-br, kind: bridge}}
  - {{name: {t}-v, kind: veth, master: {t}-br, peer: {{name: {t}-e, netns: shared}}}}
""") for t in ("ta", "tb")]
    before = sandbox.dump_all()
    env = {**os.environ, "PYTHONPATH": os.path.join(os.path.dirname(__file__), "..", "..", "src")}
    wins = {"ta": 0, "tb": 0}
    for rnd in range(50):
        procs = [subprocess.Popen([sys.executable, "-m", "vnet", "apply", f], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for f in (files if rnd % 2 else files[::-1])]
        results = {}
        for p in procs:
            out, err = p.communicate(timeout=120)
            t = "ta" if p.args[-1] == files[0] else "tb"
            results[t] = p.returncode
            assert "Traceback" not in err and p.returncode in (0, 3, 6), f"round {rnd}: {t} exited {p.returncode}\n{out}{err}"
            assert p.returncode == 0 or "shared" in err, f"round {rnd}: {t}'s refusal does not name it: {err}"
        winners = [t for t, rc in results.items() if rc == 0]
        assert len(winners) == 1, f"round {rnd}: {results}"
        wins[winners[0]] += 1
        w = files[0] if winners[0] == "ta" else files[1]
        assert json.loads(sandbox.vnet("plan", "--json", w).stdout)["changes"] == []
        sandbox.vnet("destroy", winners[0])
        assert not os.listdir("/run/vnet") or not [n for n in os.listdir("/run/vnet") if n.endswith(".json")]
        assert sandbox.dump_all() == before, f"round {rnd}: something is left"


def _star(n):
    """A bridge in the sandbox's own namespace and ``n`` namespaces, each
    with a veth into it and an address, plus a sysctl of the sandbox's own."""
    lines = ["name: star", "namespaces: [" + ", ".join(f"s{i}" for i in range(n)) + "]", "interfaces:",
             "  - {name: br0, kind: bridge, stp: false, addresses: [10.90.255.254/16]}"]
    lines += [f"  - {{name: h{i}, kind: veth, master: br0, peer: {{name: eth0, netns: s{i}, "
              f"addresses: [10.90.{i // 250}.{i % 250 + 1}/16]}}}}" for i in range(n)]
    lines += ["sysctls:", "  - {key: net.ipv4.ip_forward, value: 1}", ""]
    return "\n".join(lines)


def _nothing_left(sandbox, forward, what):
    """Nothing of the lab left: no namespace, no device but lo, no record, the sysctl restored."""
    assert os.listdir("/run/netns") == [], f"{what}: namespaces left: {os.listdir('/run/netns')}"
    links = [ln.split()[0] for ln in sandbox.sh("ip -br link").splitlines()]
    assert links == ["lo"], f"{what}: devices left: {links}"
    assert not [f for f in os.listdir("/run/vnet") if f.startswith("star.json")], f"{what}: {os.listdir('/run/vnet')}"
    with open("/proc/sys/net/ipv4/ip_forward") as fh:
        assert fh.read().strip() == forward, f"{what}: net.ipv4.ip_forward not restored"


@pytest.mark.needs("bridge", "veth")
def test_sigkill_at_any_instant_of_apply_and_destroy_recovers(sandbox):
    """`vnet apply` and `vnet destroy` of a 60-namespace star killed
    (SIGKILL) at 50 instants each, spread evenly over their measured
    durations past Python's start (making a namespace, a device, an address,
    the sysctl, the record...): after each, `vnet apply` converges (the plan
    is then empty) and `vnet destroy` leaves nothing."""
    import subprocess
    import sys
    import time
    f = sandbox.write("star.yaml", _star(60))
    env = {**os.environ, "PYTHONPATH": os.path.join(os.path.dirname(__file__), "..", "..", "src")}
    with open("/proc/sys/net/ipv4/ip_forward") as fh:
        forward = fh.read().strip()

    def run(*args, kill_after=None):
        t0 = time.monotonic()
        p = subprocess.Popen([sys.executable, "-m", "vnet", *args], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        if kill_after is not None:   # a sleep, not wait(timeout), which polls in steps of up to 50 ms
            time.sleep(max(0.0, t0 + kill_after - time.monotonic()))
            p.kill()   # nothing, if it has ended already (its exit status is kept)
        out, err = p.communicate(timeout=300)
        return p.returncode, out, err, time.monotonic() - t0

    def converges_then_clean(what):
        rc, out, err, _t = run("apply", f)
        assert rc == 0 and "Traceback" not in err, f"{what}: the next apply exited {rc}\n{out}{err}"
        rc, out, err, _t = run("plan", "--json", f)
        assert rc == 0 and json.loads(out)["changes"] == [], f"{what}: the plan after it: {out}{err}"
        rc, out, err, _t = run("destroy", "star")
        assert rc == 0 and "Traceback" not in err, f"{what}: destroy exited {rc}\n{out}{err}"
        _nothing_left(sandbox, forward, what)

    # the durations of a real apply and destroy, and of their start (Python,
    # vnet's modules, the file or the record) measured by runs that change
    # nothing: killed before that, a run has done nothing yet
    durations = {}
    for _ in range(3):   # the least of a few: the machine is shared
        for what, args in (("apply", ("apply", f)), ("destroy", ("destroy", "star")),
                           ("apply start", ("validate", f)), ("destroy start", ("destroy", "nothing"))):
            rc, out, err, t = run(*args)
            assert rc == (1 if args[-1] == "nothing" else 0), err
            durations.setdefault(what, []).append(t)
    _nothing_left(sandbox, forward, "a plain apply and destroy")
    took = {w: min(durations[w]) for w in durations}
    n = 50

    def killed(what, i, args):
        """Run ``args`` killed at instant i of n, spread evenly over the
        measured duration of ``what`` after its start; a run that ends first
        (the machine was less busy than when measured) shortens the duration
        to 90% of its own and is tried again."""
        for _try in range(6):
            start = min(0.9 * took[what + " start"], 0.5 * took[what])
            at = start + (took[what] - start) * (i + 0.5) / n
            rc, out, err, t = run(*args, kill_after=at)
            assert rc in (0, -9) and "Traceback" not in err, f"{what} killed at {at:.3f} s: {rc}\n{err}"
            if rc == -9:
                return at
            # shorter than the run that just ended early by a margin: taking
            # only its duration, a machine growing less busy run after run
            # (each a little faster) saw six early ends in a row once
            took[what] = min(took[what], 0.9 * t)
            converges_then_clean(f"{what} that ended before its kill")
            if what == "destroy":
                assert run("apply", f)[0] == 0
        raise AssertionError(f"{what} could not be killed at instant {i} of {n}: it ends too soon")

    kills = 0
    left = {"apply": [], "destroy": []}   # the namespaces each kill left: where in the run it came
    for i in range(n):
        at = killed("apply", i, ("apply", f))
        kills += 1
        left["apply"].append(len(os.listdir("/run/netns")))
        converges_then_clean(f"apply killed at {at:.3f} s of {took['apply']:.3f}")
    for i in range(n):
        rc, out, err, _t = run("apply", f)
        assert rc == 0, err
        at = killed("destroy", i, ("destroy", "star"))
        kills += 1
        left["destroy"].append(len(os.listdir("/run/netns")))
        converges_then_clean(f"destroy killed at {at:.3f} s of {took['destroy']:.3f}")
    print(f"apply {took['apply']:.3f} s (its start {took['apply start']:.3f} s), destroy {took['destroy']:.3f} s "
          f"(its start {took['destroy start']:.3f} s); {kills} kills; namespaces left by each: {left}")
    assert kills == 2 * n


# ---- kills at the instants between requests: fault injection by call ------------

KILL_ON_CALL = r"""
import os, signal, sys
target, nth, phase, match = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
mod_name, _, attr = target.rpartition(".")
import importlib
mod = importlib.import_module(mod_name)
orig = getattr(mod, attr)
seen = [0]

def wrapper(*a, **kw):
    hit = not match or match in repr(a)[:400]
    if hit:
        seen[0] += 1
    if hit and seen[0] == nth and phase == "before":
        os.kill(os.getpid(), signal.SIGKILL)
    r = orig(*a, **kw)
    if hit and seen[0] == nth and phase == "after":
        os.kill(os.getpid(), signal.SIGKILL)
    return r
setattr(mod, attr, wrapper)
from vnet.cli import main
sys.exit(main(sys.argv[5:]))
"""

INSTANTS = """name: instants
namespaces: [i1, i2]
interfaces:
  - {name: br0, kind: bridge, addresses: [10.65.0.254/24]}
  - {name: v1, kind: veth, master: br0, peer: {name: eth0, netns: i1, addresses: [10.65.0.1/24]}}
  - {name: tap0, kind: tap, master: br0}
  - {name: wan, kind: veth, netns: i1, addresses: [192.168.65.1/24], peer: {name: wan, netns: i2, addresses: [192.168.65.2/24]}}
  - {name: tun0, kind: tun, netns: i1, addresses: [10.66.0.1/24], tunnel: {listen: "192.168.65.1:4789", peer: "192.168.65.2:4789", key_file: KEY}}
sysctls:
  - {key: net.ipv4.ip_forward, value: 1}
  - {netns: i1, key: net.ipv4.ip_forward, value: 1}
"""

# (what is being done, the call, which one, before or after it, a text its arguments hold)
CALLS = [
    ("making a namespace: its file made, not yet mounted", "os.close", 1, "after", ""),
    ("making a namespace: mounted, lo still down", "vnet.kernel.netns.current_fd", 3, "after", ""),
    ("making a TUN/TAP device: made, not yet persistent", "fcntl.ioctl", 1, "after", "1074025674"),
    ("making a TUN/TAP device: persistent", "fcntl.ioctl", 1, "after", "1074025675"),
    ("starting the tunnel: started, not yet ready", "subprocess.Popen", 1, "after", "tunnel"),
    ("writing a sysctl of the host: just written", "vnet.kernel.sysctl.write", 1, "after", ""),
    ("writing a sysctl of the host: about to", "vnet.kernel.sysctl.write", 1, "before", ""),
    ("writing the record: the intent, before the rename", "os.replace", 1, "before", "instants.json"),
    ("writing the record: the intent, renamed", "os.replace", 1, "after", "instants.json"),
    ("writing the record: the last, before the rename", "os.replace", 3, "before", "instants.json"),
    ("starting the tunnel: ready, not yet let go", "vnet.daemon.let_go", 1, "before", ""),
    ("starting the tunnel: let go", "vnet.daemon.let_go", 1, "after", ""),
    ("destroy: the tunnel stopped", "vnet.daemon.stop", 1, "after", ""),
    ("destroy: the host's sysctl restored", "vnet.kernel.sysctl.write", 1, "after", ""),
    ("destroy: a namespace unmounted, not yet unlinked", "os.unlink", 1, "before", "/run/netns/"),
    ("destroy: a namespace removed", "os.unlink", 1, "after", "/run/netns/"),
]


def _vnet_procs():
    """Processes vnet started in this sandbox (tunnels, their supervisors) that still run."""
    out = []
    mine = os.stat("/proc/self/ns/mnt").st_ino
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/cmdline", "rb") as f:
                    if b"vnet\0tunnel" in f.read() and os.stat(f"/proc/{p}/ns/mnt").st_ino == mine:
                        out.append(int(p))
            except OSError:
                pass
    return out


@pytest.mark.needs("bridge", "veth")
@pytest.mark.parametrize("what,call,nth,phase,match", CALLS, ids=[c[0] for c in CALLS])
def test_sigkill_at_an_instant_between_requests_recovers(sandbox, what, call, nth, phase, match):
    """`vnet apply` (or `vnet destroy`) killed at an instant no netlink
    request marks (a namespace's file made but not mounted, a TUN made but
    not yet persistent, a tunnel started but not ready, a sysctl written,
    the record half written; a namespace unmounted but not unlinked), then
    `vnet apply` converges and `vnet destroy` leaves nothing: no namespace,
    device, process, record, and the sysctl back to what it was."""
    import subprocess
    import sys
    key = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "keys", "tunnel.hex")
    f = sandbox.write("instants.yaml", INSTANTS.replace("KEY", os.path.abspath(key)))
    before = sandbox.dump_all()
    with open("/proc/sys/net/ipv4/ip_forward") as fh:
        forward = fh.read().strip()
    env = {**os.environ, "PYTHONPATH": os.path.join(os.path.dirname(__file__), "..", "..", "src")}
    cmd = ["apply", f]
    if what.startswith("destroy"):
        sandbox.vnet("apply", f)
        cmd = ["destroy", "instants"]
    r = subprocess.run([sys.executable, "-c", KILL_ON_CALL, call, str(nth), phase, match, *cmd],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == -9, f"not killed ({what}): {r.returncode}\n{r.stdout}{r.stderr}"
    r = sandbox.vnet("apply", f, check=False)
    assert r.returncode == 0 and "Traceback" not in r.stderr, f"after a kill {what}: {r.stdout}{r.stderr}"
    assert json.loads(sandbox.vnet("plan", "--json", f).stdout)["changes"] == [], what
    assert len(_vnet_procs()) == 2, f"after a kill {what}: tunnel processes {_vnet_procs()}"
    sandbox.vnet("destroy", "instants")
    assert sandbox.dump_all() == before, f"after a kill {what}, destroy left something"
    assert _vnet_procs() == [], f"after a kill {what}, destroy left a tunnel running"
    assert not [n for n in os.listdir("/run/vnet") if n.startswith("instants.json")]
    with open("/proc/sys/net/ipv4/ip_forward") as fh:
        assert fh.read().strip() == forward, f"after a kill {what}: the sysctl is not restored"


@pytest.mark.needs("veth")
def test_a_dead_tunnel_that_cannot_start_again_is_undone_without_an_internal_error(sandbox):
    """A tunnel found dead (as a kill can leave it) is re-created by the next
    apply; when it cannot start (its port taken), the apply is undone with
    exit 3 and the kernel's reason, not an internal error from restoring
    the dead tunnel's observed state; freed, the next apply converges."""
    import signal
    import socket
    key = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "keys", "tunnel.hex")
    f = sandbox.write("instants.yaml", INSTANTS.replace("KEY", os.path.abspath(key)))
    sandbox.vnet("apply", f)
    from vnet.kernel import netns
    fd = netns.open_fd("i1")
    with netns.entered(fd):
        taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    os.close(fd)
    # kill the tunnel and its supervisor until the port is free: a process
    # killed is not yet gone (its socket closes late in its exit), and a
    # supervisor may start its end again between two kills
    end = time.monotonic() + 10
    while True:
        for pid in _vnet_procs():
            os.kill(pid, signal.SIGKILL)
        try:
            taken.bind(("192.168.65.1", 4789))
            break
        except OSError as e:
            if e.errno != errno.EADDRINUSE:
                raise
            if time.monotonic() > end:
                raise AssertionError("192.168.65.1:4789 still held:\n" + sandbox.sh("ip netns exec i1 ss -uapn")
                                     + sandbox.sh("ps -eo pid,ppid,stat,cmd | grep -v ' ps ' | grep vnet")) from None
            time.sleep(0.05)
    try:
        r = sandbox.vnet("apply", f, check=False)
        assert r.returncode == 3 and "internal error" not in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert "tun0" in r.stderr, r.stderr
    finally:
        taken.close()
    sandbox.vnet("apply", f)
    assert json.loads(sandbox.vnet("plan", "--json", f).stdout)["changes"] == []
    sandbox.vnet("destroy", "instants")
    assert _vnet_procs() == [] and os.listdir("/run/netns") == []


KILL_IN_UNDO = r"""
import errno, os, signal, sys
from vnet.applier import devices, steps
from vnet.kernel import rtnl
made = [0]
create = devices.create

def failing_create(ctx, rec, iface):
    made[0] += 1
    if made[0] == int(sys.argv[1]):
        raise OSError(errno.EINVAL, "refused (injected)")
    return create(ctx, rec, iface)
steps.OPS["dev_create"] = failing_create

def killed_del_group(sock, group):
    os.kill(os.getpid(), signal.SIGKILL)
rtnl.del_group = killed_del_group
from vnet.cli import main
sys.exit(main(["apply", sys.argv[2]]))
"""


@pytest.mark.needs("bridge", "veth")
def test_sigkill_while_a_failed_apply_is_undone_recovers(sandbox):
    """An apply fails at its fourth device and is killed while it undoes the
    three it made (after they are re-tagged for one deletion, before it):
    the next apply converges and destroy leaves nothing."""
    import subprocess
    import sys
    f = sandbox.write("undo.yaml", """name: undo
namespaces: [u1]
interfaces:
  - {name: br1, kind: bridge}
  - {name: br2, kind: bridge}
  - {name: br3, kind: bridge}
  - {name: v1, kind: veth, master: br1, peer: {name: eth0, netns: u1}}
""")
    before = sandbox.dump_all()
    env = {**os.environ, "PYTHONPATH": os.path.join(os.path.dirname(__file__), "..", "..", "src")}
    r = subprocess.run([sys.executable, "-c", KILL_IN_UNDO, "4", f], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == -9, f"not killed in its undo: {r.returncode}\n{r.stdout}{r.stderr}"
    r = sandbox.vnet("apply", f, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(sandbox.vnet("plan", "--json", f).stdout)["changes"] == []
    sandbox.vnet("destroy", "undo")
    assert sandbox.dump_all() == before
    assert not os.path.exists("/run/vnet/undo.json")


@pytest.mark.needs("bridge", "veth")
def test_a_re_creation_the_kernel_refuses_puts_the_old_pair_back_whole(sandbox):
    """Two veths re-created (their peers renamed); between vnet's plan and
    its apply someone takes the second's new peer name: the kernel refuses
    it, and both old pairs come back as they were, peers up and in their
    bridge (the undo of the failed one used to leave its peer down)."""
    import re
    import vnet
    from vnet.applier import execute
    from vnet.errors import KernelError
    from vnet.kernel.session import Kernel
    lab = """name: again
interfaces:
  - {name: br0, kind: bridge}
  - {name: v1, kind: veth, peer: {name: p1, master: br0}}
  - {name: v2, kind: veth, peer: {name: q1}}
"""
    f = sandbox.write("again.yaml", lab)
    sandbox.vnet("apply", f)

    def shown():   # the links as a user sees them, without indexes and random MACs
        return sorted(re.sub(r"^\d+: |([0-9a-f]{2}:){5}[0-9a-f]{2}|@if\d+", "", ln)
                      for ln in sandbox.sh("ip -o link show").splitlines())
    applied = shown()
    topo = vnet.load(sandbox.write("again2.yaml", lab.replace("p1", "p2").replace("q1", "q2")))
    with Kernel() as k:
        p = vnet.plan(topo, k)
        assert [c.action for c in p.changes].count("recreate") == 2, p.changes
        sandbox.sh("ip link add q2 type bridge")        # the third party
        with pytest.raises(KernelError) as e:
            execute(k, p)
    assert "recreate link v2" in str(e.value) and "File exists" in str(e.value), str(e.value)
    sandbox.sh("ip link del q2")
    assert shown() == applied
    assert json.loads(sandbox.vnet("plan", "--json", f).stdout)["changes"] == []
    sandbox.vnet("destroy", f)
