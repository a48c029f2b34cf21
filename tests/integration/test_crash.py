"""Crash safety: `vnet apply` killed with SIGKILL after each of its changing
requests in turn (fault injection: VNET_KILL_AT_REQUEST=k), on a topology
with every kind this machine's kernel has. After each kill, `vnet apply`
converges to the file and `vnet destroy` leaves nothing: no interface,
namespace, process or record."""
import json
import os

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
    env_kill = "VNET_KILL_AT_REQUEST"
    survived = 0
    for k in range(1, total + 1):
        os.environ[env_kill] = str(k)
        try:
            r = sandbox.vnet("apply", f, check=False)
        finally:
            del os.environ[env_kill]
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
