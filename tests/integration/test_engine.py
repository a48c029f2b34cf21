"""The engine's promises: undo on failure, ownership, export round trip,
bad input changes nothing, the lock, routes and sysctls, removals."""
import json
import os
import subprocess
import sys
import time

import pytest

EX = os.path.join(os.path.dirname(__file__), "..", "..", "examples")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BASE = """name: eng
namespaces: [n1, n2]
interfaces:
  - {name: br0, kind: bridge}
  - {name: v1, kind: veth, master: br0, peer: {name: eth0, netns: n1, addresses: [10.5.0.1/24]}}
  - {name: v2, kind: veth, master: br0, peer: {name: eth0, netns: n2, addresses: [10.5.0.2/24]}}
"""


def records():
    return sorted(f for f in os.listdir("/run/vnet") if f.endswith(".json")) if os.path.isdir("/run/vnet") else []


def test_kernel_failure_mid_apply_is_undone(sandbox):
    # a third party's VXLAN already holds VNI 42 on port 4789: the kernel refuses ours, late in the plan
    sandbox.sh("ip link add other type vxlan id 42 dstport 4789")
    before = sandbox.dump_all()
    f = sandbox.write("t.yaml", BASE + "  - {name: vx1, kind: vxlan, vni: 42, dstport: 4789}\n")
    r = sandbox.vnet("apply", f, check=False)
    assert r.returncode == 3, r.stderr
    assert "create link vx1" in r.stderr and "VNI" in r.stderr, r.stderr
    assert sandbox.dump_all() == before
    assert records() == []


def test_failure_while_changing_an_applied_topology_restores_it(sandbox):
    sandbox.sh("ip link add other type vxlan id 42 dstport 4789")
    f = sandbox.write("t.yaml", BASE)
    sandbox.vnet("apply", f)
    applied = sandbox.dump_all()
    links = sandbox.links()
    # remove v2, change br0 in place, add a device the kernel will refuse
    f = sandbox.write("t.yaml", BASE.replace("{name: br0, kind: bridge}", "{name: br0, kind: bridge, stp: true}")
                      .split("  - {name: v2")[0] + "  - {name: vx1, kind: vxlan, vni: 42, dstport: 4789}\n")
    r = sandbox.vnet("apply", f, check=False)
    assert r.returncode == 3 and "create link vx1" in r.stderr
    assert _same_but_v2_ifindex(sandbox.dump_all(), applied)
    assert "v2" in sandbox.links() and sandbox.links()["br0"]["ifindex"] == links["br0"]["ifindex"]
    assert sandbox.links()["br0"]["linkinfo"]["info_data"]["stp_state"] == 0
    # the restored topology is still ours: the original file plans empty and destroys cleanly
    f0 = sandbox.write("t0.yaml", BASE)
    assert json.loads(sandbox.vnet("plan", "--json", f0).stdout)["changes"] == []
    sandbox.vnet("destroy", "eng")
    assert set(sandbox.links()) == {"lo", "other"}


def _same_but_v2_ifindex(now, then):
    """v2 was deleted and put back by undo: same names, addresses, routes; new ifindexes."""
    import re
    strip = lambda d: {k: re.sub(r"@\S+", "", v) for k, v in d.items()}  # noqa: E731
    a, b = strip(now), strip(then)
    if a != b:
        import difflib
        for k in a:
            print(k, "\n".join(difflib.unified_diff(b.get(k, "").splitlines(), a[k].splitlines())))
    return a == b


def test_refuses_device_it_does_not_own(sandbox):
    sandbox.sh("ip link add br0 type bridge")
    idx = sandbox.links()["br0"]["ifindex"]
    before = sandbox.dump_all()
    f = sandbox.write("t.yaml", BASE)
    r = sandbox.vnet("apply", f, check=False)
    assert r.returncode == 6
    assert "device 'br0' exists and is not owned by topology 'eng'" in r.stderr
    assert sandbox.dump_all() == before and sandbox.links()["br0"]["ifindex"] == idx
    r = sandbox.vnet("destroy", "eng", check=False)
    assert r.returncode != 0 and "br0" in sandbox.links()


def test_foreign_device_in_our_place_is_not_adopted_after_ours_is_gone(sandbox):
    f = sandbox.write("t.yaml", BASE)
    sandbox.vnet("apply", f)
    sandbox.sh("ip link del br0 && ip link add br0 type bridge")  # someone else's br0 now
    r = sandbox.vnet("plan", f, check=False)
    assert r.returncode == 6 and "'br0' exists and is not owned" in r.stderr
    sandbox.vnet("destroy", "eng")
    assert "br0" in sandbox.links(), "destroy must not delete a device it does not own"


def test_bad_input_changes_nothing(sandbox):
    sandbox.vnet("apply", sandbox.write("ok.yaml", BASE))
    before = sandbox.dump_all()
    bad = sandbox.write("bad.yaml", BASE.replace("kind: bridge", "kind: bridge, stp: maybe")
                        + "  - {name: mv, kind: macvlan, link: nope}\n")
    for cmd in ("validate", "plan", "apply"):
        r = sandbox.vnet(cmd, bad, check=False)
        assert r.returncode == 2, (cmd, r.stderr)
        assert "bad.yaml: interfaces[0] (br0).stp: expected true or false, got 'maybe'" in r.stderr
        assert "interfaces[3] (mv).link: device 'nope' in namespace host is neither declared nor external" in r.stderr
    assert sandbox.dump_all() == before


@pytest.mark.needs("veth", "macvlan")
def test_a_destroy_leaves_the_lower_devices_free_at_once(sandbox):
    """A namespace's devices go when the last thing holding it lets go, a
    process in it or the kernel's cleanup after the unmount (later, on a
    busy machine); a MACVLAN in it on a device outside keeps its MAC taken
    there until then. Destroy deletes such a device first: the same MAC on
    the same lower device is free the moment it returns, even while a shell
    still runs in the namespace (an apply right after is not refused
    "Address already in use")."""
    sandbox.external("eth1")
    f = sandbox.write("t.yaml", "name: lw\nnamespaces: [n2]\ninterfaces:\n  - {name: eth1, kind: external}\n"
                      "  - {name: mv0, kind: macvlan, link: {name: eth1}, netns: n2, mode: private, "
                      "mac: '02:00:00:00:77:01'}\n")
    sandbox.vnet("apply", f)
    holder = subprocess.Popen(["ip", "netns", "exec", "n2", "sleep", "60"])
    try:
        sandbox.vnet("destroy", "lw")
        sandbox.sh("ip link add link eth1 name t0 address 02:00:00:00:77:01 type macvlan mode private && "
                   "ip link set t0 up && ip link del t0")   # (the MAC is taken as a MACVLAN goes up)
        sandbox.vnet("apply", f)
        sandbox.vnet("destroy", "lw")
    finally:
        holder.kill()
        holder.wait()


def test_export_apply_round_trip(sandbox):
    sandbox.external("eth1", "192.0.2.1/24")
    f = sandbox.write("t.yaml", BASE + """  - {name: eth1, kind: external}
  - {name: vx0, kind: vxlan, vni: 7, remote: 192.0.2.2, dev: eth1, fdb: [{dst: 192.0.2.3}]}
  - {name: mv0, kind: macvlan, link: {name: eth1}, netns: n2, mode: private, addresses: [10.6.0.1/24]}
  - {name: tap0, kind: tap, master: br0}
routes:
  - {netns: n1, to: 10.7.0.0/16, via: 10.5.0.254}
sysctls:
  - {netns: n1, key: net.ipv4.ip_forward, value: 1}
""")
    sandbox.vnet("apply", f)
    exported = sandbox.vnet("export", "eng").stdout
    g = sandbox.write("exported.yaml", exported)
    assert json.loads(sandbox.vnet("plan", "--json", g).stdout)["changes"] == [], exported
    assert "kind: external" in exported and "10.7.0.0/16" in exported
    # and the export builds the same thing from nothing
    sandbox.vnet("destroy", "eng")
    sandbox.vnet("apply", g)
    assert json.loads(sandbox.vnet("plan", "--json", f).stdout)["changes"] == []


def test_routes_sysctls_and_removals(sandbox):
    f = sandbox.write("t.yaml", BASE + """routes:
  - {netns: n1, to: default, via: 10.5.0.254}
  - {netns: n2, to: 10.9.0.0/24, dev: eth0}
sysctls:
  - {netns: n1, key: net.ipv4.ip_forward, value: 1}
  - {key: net.ipv4.ip_forward, value: 1}
""")
    sandbox.vnet("apply", f)
    assert "default via 10.5.0.254 dev eth0" in sandbox.sh("ip -n n1 route")
    assert "10.9.0.0/24 dev eth0" in sandbox.sh("ip -n n2 route")
    assert sandbox.sh("ip netns exec n1 sysctl -n net.ipv4.ip_forward").strip() == "1"
    assert open("/proc/sys/net/ipv4/ip_forward").read().strip() == "1"
    # drop v2, the n1 route and the n1 sysctl: exactly those go, the sysctl back to its old value
    f = sandbox.write("t.yaml", BASE.split("  - {name: v2")[0] + """routes:
  - {netns: n2, to: 10.9.0.0/24, via: 10.5.0.1}
sysctls:
  - {key: net.ipv4.ip_forward, value: 1}
""")
    r = sandbox.vnet("apply", f, check=False)
    assert r.returncode == 2 and "routes[0].via" in r.stderr, "n2's eth0 goes with v2: the n2 route has no way out"
    f = sandbox.write("t.yaml", BASE.split("  - {name: v2")[0] + "sysctls:\n  - {key: net.ipv4.ip_forward, value: 1}\n")
    changes = json.loads(sandbox.vnet("plan", "--json", f).stdout)["changes"]
    objs = {(c["action"], c["object"]) for c in changes}
    assert ("delete", "link v2") in objs
    assert ("delete", "route default via 10.5.0.254 in n1") in objs
    assert ("modify", "sysctl net.ipv4.ip_forward in n1") in objs
    sandbox.vnet("apply", f)
    assert "v2" not in sandbox.links() and "default" not in sandbox.sh("ip -n n1 route")
    assert sandbox.sh("ip netns exec n1 sysctl -n net.ipv4.ip_forward").strip() == "0"
    sandbox.vnet("destroy", "eng")
    assert open("/proc/sys/net/ipv4/ip_forward").read().strip() == "0", "destroy restores the host sysctl"
    assert records() == []


def test_lock_busy_and_waiting(sandbox):
    f = sandbox.write("t.yaml", BASE)
    holder = subprocess.Popen([sys.executable, "-c", "import time, vnet.ownership as o\n"
                               "with o.lock('eng'):\n print('held', flush=True); time.sleep(3)"],
                              stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": os.path.join(EX, "..", "src")})
    assert holder.stdout.readline().strip() == "held"
    r = sandbox.vnet("apply", "--lock-timeout", "0.2", f, check=False)
    assert r.returncode == 5 and "locked" in r.stderr
    assert "br0" not in sandbox.links()
    t = time.monotonic()
    sandbox.vnet("apply", "--lock-timeout", "30", f)   # waits for the holder, then applies
    assert time.monotonic() - t > 1
    holder.wait()
    # two applies at once: both succeed, never interleaved
    ps = [subprocess.Popen([sys.executable, "-m", "vnet", "apply", f], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env={**os.environ, "PYTHONPATH": os.path.join(EX, "..", "src")}) for _ in range(2)]
    assert [p.wait() for p in ps] == [0, 0]
    assert json.loads(sandbox.vnet("plan", "--json", f).stdout)["changes"] == []


def test_exec_runs_in_the_namespace_and_script_json(sandbox):
    f = sandbox.write("t.yaml", BASE)
    sandbox.vnet("apply", f)
    out = sandbox.vnet("exec", "n1", "--", "ip", "-br", "addr", "show", "eth0").stdout
    assert "10.5.0.1/24" in out
    r = sandbox.vnet("exec", "nope", "--", "true", check=False)
    assert r.returncode == 1 and "namespace 'nope' does not exist" in r.stderr
    cmds = json.loads(sandbox.vnet("script", "--json", f).stdout)["commands"]
    assert "ip link add v1 type veth peer name eth0 netns n1" in cmds


@pytest.mark.needs("veth")
def test_check_interrupted_by_ctrl_c_leaves_no_listener(sandbox):
    """A check run stopped by Ctrl-C exits 130 at once, and its TCP listener
    is gone (the port can be bound again)."""
    import signal
    import socket
    f = sandbox.write("c.yaml", """name: cc
namespaces: [a, b]
interfaces:
  - {name: v0, kind: veth, netns: a, addresses: [10.77.0.1/24], peer: {name: v1, netns: b, addresses: [10.77.0.2/24]}}
checks:
  - {ping: {from: a, to: 10.77.0.2}}
  - {tcp: {from: a, to: 10.77.0.99, port: 7777, listen: b, timeout: 20}, expect: unreachable}
""")
    sandbox.vnet("apply", f)
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")}
    # Ctrl-C's SIGINT as a terminal delivers it: the suite itself may run
    # with SIGINT ignored (a shell starts background jobs so), which vnet
    # would inherit and rightly keep
    p = subprocess.Popen([sys.executable, "-m", "vnet", "check", f], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(1.5)   # the listener runs, the client waits for an answer that never comes
    t0 = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=10)
    assert p.returncode == 130 and "interrupted" in err, out + err
    assert time.monotonic() - t0 < 3
    from vnet.kernel.session import Kernel
    with Kernel() as k, k.entered("b"):
        s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", 7777))   # the listener is gone (a listening socket would refuse this)
    s.close()
    sandbox.vnet("destroy", f)


@pytest.mark.needs("veth", "bridge")
def test_observation_cost_is_linear_and_a_noop_sends_nothing(sandbox):
    """A guard on the work, not on time: planning a star lab of N namespaces
    sends two dumps per namespace and at most one namespace-id question per
    pair, none of them from vnet's own namespace (where each costs a search
    through all the lab's ids: quadratic), and an unchanged topology gets
    no changing request."""
    import vnet
    from vnet.kernel.session import Kernel
    n = 30
    lines = ["name: star", "namespaces: [" + ", ".join(f"s{i}" for i in range(n)) + "]", "interfaces:",
             "  - {name: br0, kind: bridge}"]
    lines += [f"  - {{name: v{i}, kind: veth, master: br0, peer: {{name: eth0, netns: s{i}, "
              f"addresses: [10.55.0.{i + 1}/24]}}}}" for i in range(n)]
    f = sandbox.write("star.yaml", "\n".join(lines) + "\n")
    sandbox.vnet("apply", f)
    topo = vnet.load(f)
    with Kernel() as k:
        assert vnet.plan(topo, k).changes == []
        sent = sum(s.sent for s in k._socks.values())
        own = k._socks[None].sent
        assert k.requests == 0
    assert own == 2, f"{own} netlink messages from vnet's own namespace (its link and address dumps: 2)"
    # per namespace (N + vnet's own): a link dump and an address dump; per veth
    # pair, one namespace-id question (the other end's peer follows from it)
    assert sent <= 2 * (n + 1) + n + 2, f"{sent} netlink messages to plan {n + 1} namespaces"
    again = json.loads(sandbox.vnet("apply", "--json", f).stdout)
    assert again["applied"] == [] and again["requests"] == 0
    sandbox.vnet("destroy", f)


@pytest.mark.needs("veth")
def test_without_cap_net_admin_a_clear_message_and_nothing_changed(sandbox):
    before = sandbox.dump_all()
    r = subprocess.run(["setpriv", "--bounding-set=-net_admin", sys.executable, "-m", "vnet", "apply",
                        os.path.join(EX, "fig9-veth.yaml")], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")})
    assert r.returncode == 3 and "Traceback" not in r.stderr, r.stderr
    assert "needs root (CAP_NET_ADMIN" in r.stderr and "Operation not permitted" in r.stderr
    assert sandbox.dump_all() == before


def test_a_new_devices_own_sysctls_hold_from_the_moment_it_is_up(sandbox):
    """addr_gen_mode 1 (no link-local address) takes effect only if it is set
    before the device goes up: set after, the address is already there."""
    f = sandbox.write("t.yaml", """name: eng
namespaces: [n1, n2]
interfaces:
  - {name: v1, kind: veth, netns: n1, peer: {name: v2, netns: n2}}
sysctls:
  - {netns: n1, key: net.ipv6.conf.v1.disable_ipv6, value: 1}
  - {netns: n2, key: net.ipv6.conf.v2.addr_gen_mode, value: 1}
""")
    script = sandbox.vnet("script", f).stdout.splitlines()
    assert script.index("ip netns exec n2 sysctl -w net.ipv6.conf.v2.addr_gen_mode=1") \
        < script.index("ip -n n2 link set v2 up"), script
    sandbox.vnet("apply", f)
    deadline = time.monotonic() + 10
    # once the kernel has seen the carrier (operstate UP) it has configured IPv6
    while " UP " not in sandbox.sh("ip -n n2 -br link show v2") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert " UP " in sandbox.sh("ip -n n2 -br link show v2")
    assert sandbox.sh("ip -n n2 -6 addr show dev v2").strip() == "", "v2 got a link-local address"
    assert sandbox.sh("ip netns exec n2 sysctl -n net.ipv6.conf.v2.addr_gen_mode").strip() == "1"
    assert sandbox.sh("ip netns exec n1 sysctl -n net.ipv6.conf.v1.disable_ipv6").strip() == "1"
    assert json.loads(sandbox.vnet("plan", "--json", f).stdout)["changes"] == []
    sandbox.vnet("destroy", "eng")
    assert records() == []


@pytest.mark.needs("veth", "bridge")
def test_promisc_is_set_planned_shown_exported_and_left_alone_when_not_said(sandbox):
    """`promisc: true` on a bridge and on both ends of a veth (the peer in a
    namespace): the kernel has the flag (`ip -j link` says PROMISC) and the
    plan is empty after; show and export say so; `promisc: false` is a
    change in place; no `promisc` leaves the flag as it is."""
    doc = BASE.replace("{name: br0, kind: bridge}", "{name: br0, kind: bridge, promisc: true}").replace(
        "{name: v1, kind: veth, master: br0,", "{name: v1, kind: veth, master: br0, promisc: true,").replace(
        "peer: {name: eth0, netns: n1,", "peer: {name: eth0, netns: n1, promisc: true,")
    f = sandbox.write("t.yaml", doc)
    sandbox.vnet("apply", f)

    def promisc(ns=None):
        return {n for n, ln in sandbox.links(ns).items() if "PROMISC" in ln["flags"]}
    assert promisc() == {"br0", "v1"} and promisc("n1") == {"eth0"} and promisc("n2") == set()
    assert json.loads(sandbox.vnet("plan", "--json", f).stdout)["changes"] == []
    shown = {(d["netns"], d["name"]): d["promisc"] for d in json.loads(sandbox.vnet("show", "--json", "eng").stdout)["devices"]}
    assert shown[(None, "br0")] and shown[("n1", "eth0")] and not shown[(None, "v2")]
    exported = sandbox.vnet("export", "eng").stdout
    assert exported.count("promisc: true") == 3, exported
    assert "ip link set br0 promisc on" in sandbox.vnet("script", f).stdout
    off = sandbox.write("off.yaml", doc.replace("{name: br0, kind: bridge, promisc: true}",
                                                "{name: br0, kind: bridge, promisc: false}"))
    changes = json.loads(sandbox.vnet("plan", "--json", off).stdout)["changes"]
    assert [c["reason"] for c in changes] == ["promisc true -> false"], changes
    sandbox.vnet("apply", off)
    assert promisc() == {"v1"}
    assert json.loads(sandbox.vnet("plan", "--json", sandbox.write("plain.yaml", BASE)).stdout)["changes"] == []
    sandbox.vnet("destroy", "eng")


@pytest.mark.needs("veth")
def test_a_later_observation_in_a_session_names_peers_as_a_fresh_session_does(sandbox):
    """The namespace ids one observation learns are kept for the next in the
    same session, but a peer in a namespace the later one does not read is
    not named after it, as a fresh session would not; and a verification's
    ends kept from the earlier state do not vouch for a device made again
    since (here with its peer in another namespace, at the index the old
    peer had)."""
    from vnet.kernel.session import Kernel
    from vnet.observer import observe
    sandbox.sh("ip netns add ok && ip netns add ox && ip netns add oz"
               " && ip -n ok link add pa type veth peer name pb netns ox")
    with Kernel() as k:
        first = observe(k, [None, "ox", "ok", "oz"])   # ox read first: it learns the id of ok
        assert first.device("ox", "pb").peer == ("ok", "pa")
        later = observe(k, [None, "ox"])
    with Kernel() as k:
        fresh = observe(k, [None, "ox"])
    assert later.device("ox", "pb").peer == fresh.device("ox", "pb").peer
    assert fresh.device("ox", "pb").peer[0] != "ok"   # not read: not named
    # pb made again, its peer now pc in oz, at the index pa had in ok (each the first device after lo)
    sandbox.sh("ip -n ox link del pb && ip -n oz link add pc type veth peer name pb netns ox")
    with Kernel() as k:
        again = observe(k, [None, "ox", "oz"], known=first)   # as a verification keeping ok
    assert first.device("ok", "pa").ifindex == again.device("oz", "pc").ifindex
    assert again.device("ox", "pb").peer == ("oz", "pc") and again.device("oz", "pc").peer == ("ox", "pb")
