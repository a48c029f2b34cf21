"""Every failure after a change is undone, with the README's exit codes:
SIGINT or SIGTERM at any request of an apply (a first apply and a change
to an applied lab), a verification mismatch the kernel made silently, a
kernel refusal whose step had already made its device, a tunnel that
cannot start; a signal after the apply is verified keeps it and says so;
the undo of many creations is as fast as destroy."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB = """name: un
namespaces: [u1, u2]
interfaces:
  - {name: br0, kind: bridge, addresses: [10.80.0.254/24]}
  - {name: v1, kind: veth, master: br0, peer: {name: eth0, netns: u1, addresses: [10.80.0.1/24, "fd80::1/64"]}}
  - {name: v2, kind: veth, master: br0, peer: {name: eth0, netns: u2, addresses: [10.80.0.2/24]}}
  - {name: tap0, kind: tap, master: br0}
  - {name: lo, kind: external, netns: u2, addresses: [192.0.2.80/32]}
routes:
  - {netns: u1, to: 10.81.0.0/24, via: 10.80.0.254}
  - {netns: u1, to: "fd81::/64", via: "fd80::254"}
  - {netns: u1, to: 10.82.0.0/24, via: 169.254.1.1}
  - {netns: u1, to: 169.254.1.1/32, dev: eth0, scope: link}
sysctls:
  - {netns: u1, key: net.ipv4.ip_forward, value: 1}
  - {key: net.ipv4.conf.br0.forwarding, value: 1}
"""
# the same lab changed: an address renumbered (lo's too), a device gone, one added, a route more, and a
# pair re-created (its peer renamed: the routes through it go with it, and an undo puts them back, a
# gateway reached by a device route of its own among them)
CHANGED = (LAB.replace("10.80.0.2/24", "10.80.0.22/24").replace("192.0.2.80/32", "192.0.2.81/32")
           .replace("peer: {name: eth0, netns: u1,", "peer: {name: eth9, netns: u1,").replace("dev: eth0", "dev: eth9")
           .replace("  - {name: tap0, kind: tap, master: br0}\n",
                                                                  "  - {name: tap1, kind: tap, master: br0}\n")
           .replace("routes:\n", "routes:\n  - {netns: u2, to: default, via: 10.80.0.254}\n"))


def records():
    return sorted(f for f in os.listdir("/run/vnet") if f.endswith(".json")) if os.path.isdir("/run/vnet") else []


def _signalled(sandbox, f, k, sig):
    os.environ.update(VNET_KILL_AT_REQUEST=str(k), VNET_KILL_SIGNAL=sig)
    try:
        return sandbox.vnet("apply", f, check=False)
    finally:
        del os.environ["VNET_KILL_AT_REQUEST"], os.environ["VNET_KILL_SIGNAL"]


def _undone_at_every_request(sandbox, f, expected, total):
    for k in range(1, total + 1):
        sig = ("INT", "TERM")[k % 2]
        r = _signalled(sandbox, f, k, sig)
        assert r.returncode == 130, f"SIG{sig} at request {k}: exit {r.returncode}\n{r.stdout}{r.stderr}"
        assert "the apply was undone" in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert sandbox.dump_all() == expected(), f"SIG{sig} at request {k} of {total} was not undone"


@pytest.mark.needs("bridge", "veth")
def test_sigint_or_sigterm_at_any_request_of_a_first_apply_undoes_it(sandbox):
    f = sandbox.write("un.yaml", LAB)
    before = sandbox.dump_all()
    total = json.loads(sandbox.vnet("apply", "--json", f).stdout)["requests"]
    sandbox.vnet("destroy", f)
    _undone_at_every_request(sandbox, f, lambda: before, total)
    assert records() == []
    sandbox.vnet("apply", f)   # and it applies whole afterwards
    assert json.loads(sandbox.vnet("plan", "--json", f).stdout)["changes"] == []


@pytest.mark.needs("bridge", "veth")
def test_sigint_or_sigterm_at_any_request_of_a_change_restores_the_lab(sandbox):
    f0 = sandbox.write("un.yaml", LAB)
    sandbox.vnet("apply", f0)
    applied = _no_ifindex(sandbox.dump_all())
    f = sandbox.write("un2.yaml", CHANGED)
    plan = json.loads(sandbox.vnet("plan", "--json", f).stdout)["changes"]
    assert len(plan) >= 5, plan
    # how many requests the change sends: applied once, then the lab put back
    total = json.loads(sandbox.vnet("apply", "--json", f).stdout)["requests"]
    sandbox.vnet("apply", f0)
    assert _no_ifindex(sandbox.dump_all()) == applied
    for k in range(1, total + 1):
        sig = ("INT", "TERM")[k % 2]
        r = _signalled(sandbox, f, k, sig)
        assert r.returncode == 130 and "the apply was undone" in r.stderr, f"at {k}: {r.returncode} {r.stderr}"
        assert _no_ifindex(sandbox.dump_all()) == applied, f"SIG{sig} at request {k} of {total}: not restored"
        assert json.loads(sandbox.vnet("plan", "--json", f0).stdout)["changes"] == [], f"at request {k}"
    sandbox.vnet("destroy", "un")


def _no_ifindex(dump):
    """A dump without ifindexes (peer suffixes carry them), random MACs and
    the link-local addresses made of them, and in sorted lines: a device
    re-created by undo is the same device to a user (a bridge takes its MAC
    from its ports), listed after the others (by its new index)."""
    import re
    return {ns: sorted(re.sub(r"fe80::[0-9a-f:]+/64", "fe80::/64",
                              re.sub(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", "MAC", re.sub(r"@if\d+", "@if", text))).splitlines())
            for ns, text in dump.items()}


MOVE = """name: mv
namespaces: [m1]
interfaces:
  - {name: br0, kind: bridge, addresses: [10.90.0.254/24]}
  - {name: v1, kind: veth, master: br0, cost: 7, peer: {name: eth0, netns: m1, addresses: [10.90.0.1/24]}}
"""
# a change deleting the bridge: its port moved to a new one (the kernel released it as br0 went), or gone too
MOVED = {"stays": MOVE.replace("br0", "br1").replace("cost: 7, ", ""),
         "goes": MOVE.replace("br0", "br1").replace("v1", "v2").replace("eth0", "eth1")}
BOND = MOVE.replace("kind: bridge", "kind: bond, mode: active-backup").replace("cost: 7, ", "")


def _ports(sandbox):
    """{port: (its master, STP cost)}, and the peer's addresses."""
    ports = {p["ifname"]: (p.get("master"), p.get("linkinfo", {}).get("info_slave_data", {}).get("cost"))
             for p in json.loads(sandbox.sh("ip -j -d link show")) if p.get("master")}
    peer = {a["ifname"]: [f"{x['local']}/{x['prefixlen']}" for x in a["addr_info"]]
            for a in json.loads(sandbox.sh("ip -n m1 -j -4 addr"))}
    return ports, peer


@pytest.mark.parametrize("master,port", [pytest.param(m, p, marks=pytest.mark.needs(m, "veth"))
                                         for m, p in (("bridge", "stays"), ("bridge", "goes"), ("bond", "stays"))])
def test_a_master_deleted_by_an_undone_change_comes_back_with_its_port(sandbox, master, port):
    f0 = sandbox.write("mv.yaml", MOVE if master == "bridge" else BOND)
    sandbox.vnet("apply", f0)
    before = _ports(sandbox)
    assert before[0] == {"v1": ("br0", 7 if master == "bridge" else None)}
    f = sandbox.write("mv2.yaml", (MOVED if master == "bridge" else {"stays": BOND.replace("br0", "br1")})[port])
    total = json.loads(sandbox.vnet("apply", "--json", f).stdout)["requests"]
    sandbox.vnet("apply", f0)
    for k in range(1, total + 1):
        r = _signalled(sandbox, f, k, "INT")
        assert r.returncode == 130 and "the apply was undone" in r.stderr, f"at {k}: {r.returncode} {r.stderr}"
        assert "failed" not in r.stderr, r.stderr
        assert _ports(sandbox) == before, f"SIGINT at request {k} of {total}: not restored"
        assert json.loads(sandbox.vnet("plan", "--json", f0).stdout)["changes"] == [], f"at request {k}"
    if master == "bridge":   # made again without a MAC set: it follows its lowest port's still
        sandbox.sh("ip link set v1 address 02:00:00:00:00:01")
        assert json.loads(sandbox.sh("ip -j link show br0"))[0]["address"] == "02:00:00:00:00:01"
    sandbox.vnet("destroy", "mv")


# what someone made through br0 by hand: routes with what a topology does not say (a protocol, metrics, a
# realm, an expiry, a preference, a TOS, next hops), an address, a neighbour entry
BY_HAND = """ip route add 10.91.0.0/24 via 10.90.0.1 dev br0 proto boot mtu lock 1400 initcwnd 10 realm 3
ip route add 10.92.0.0/24 dev br0 metric 50 proto 42
ip route add 10.93.0.0/24 nexthop via 10.90.0.1 dev br0 weight 2 nexthop via 10.90.0.2 dev br0 weight 3
ip route add 10.94.0.0/24 via 10.90.0.1 dev br0 tos 0x10
ip -6 addr add fd90::254/64 dev br0 nodad
ip -6 route add fd91::/64 via fd90::1 dev br0 expires 300 pref high hoplimit 9
ip -6 route add fd92::/64 dev br0 metric 7
ip neigh add 10.90.0.9 lladdr 02:00:00:00:00:09 dev br0 nud permanent"""


def _by_hand(sandbox):
    """The machine's routes but the kernel's own (an IPv6 link-local one comes with the carrier, in its
    time), an expiry's seconds left out, and its permanent neighbour entries, in sorted lines."""
    import re
    text = sandbox.sh("ip route; ip -6 route; ip neigh show nud permanent")
    return sorted(ln for ln in re.sub(r"expires \d+sec", "expires", text).splitlines() if "proto kernel" not in ln)


@pytest.mark.needs("bridge", "veth")
def test_a_device_deleted_by_an_undone_change_comes_back_with_what_someone_made_through_it(sandbox):
    f0 = sandbox.write("mv.yaml", MOVE)
    f = sandbox.write("mv2.yaml", MOVED["goes"])
    sandbox.vnet("apply", f0)
    total = json.loads(sandbox.vnet("apply", "--json", f).stdout)["requests"]
    sandbox.vnet("apply", f0)
    sandbox.sh(BY_HAND.replace("\n", "; "))
    before = _by_hand(sandbox)
    assert any("realm 3 mtu lock 1400 initcwnd 10" in ln for ln in before) and \
        any("pref high" in ln and "hoplimit 9" in ln for ln in before), before
    for k in range(1, total + 1):
        r = _signalled(sandbox, f, k, "INT")
        assert r.returncode == 130 and "the apply was undone" in r.stderr and "failed" not in r.stderr, r.stderr
        assert _by_hand(sandbox) == before, f"SIGINT at request {k} of {total}: not restored"
    sandbox.vnet("destroy", "mv")


DOWN = """name: ud
namespaces: [u1]
interfaces:
  - {name: v1, kind: veth, addresses: ["fd77::1/64", 10.77.0.1/24], peer: {name: eth0, netns: u1, addresses: ["fd77::2/64"]}}
"""


def _on_v1(sandbox):
    """v1's addresses, and the routes (but the kernel's own) and entries of the machine, in sorted lines."""
    addrs = [f"{a['local']}/{a['prefixlen']}" for a in json.loads(sandbox.sh("ip -j addr show v1"))[0]["addr_info"]
             if a.get("scope") != "link"]
    return sorted(addrs) + _by_hand(sandbox)


def _restored_at(sandbox, f, requests, before):
    """SIGINT at each of ``requests`` of an apply of ``f``: undone, without a failure said, to ``before``."""
    for k in requests:
        r = _signalled(sandbox, f, k, "INT")
        assert r.returncode == 130 and "the apply was undone" in r.stderr and "failed" not in r.stderr, r.stderr
        assert _on_v1(sandbox) == before, f"SIGINT at request {k}: not restored"


@pytest.mark.needs("veth")
def test_a_device_taken_down_keeps_its_ipv6_addresses_and_an_undo_puts_back_what_went_with_it(sandbox):
    """The kernel drops a device's IPv6 addresses as it goes down (keep_addr_on_down off), and the routes
    through it and its entries: the declared addresses are added back after (before: verification failed,
    exit 4, every time), and an undo at any request puts back every one, someone's routes and entries too."""
    f0 = sandbox.write("ud.yaml", DOWN)
    f = sandbox.write("ud2.yaml", DOWN.replace("kind: veth,", "kind: veth, up: false,"))
    sandbox.vnet("apply", f0)
    sandbox.sh("ip route add 10.79.0.0/24 via 10.77.0.2 dev v1 proto boot mtu 1400; "
               "ip -6 route add fd79::/64 via fd77::2 dev v1 metric 5; "
               "ip neigh add 10.77.0.9 lladdr 02:00:00:00:00:09 dev v1 nud permanent")
    before = _on_v1(sandbox)
    assert "fd77::1/64" in before and any("10.79.0.0/24" in ln and "mtu 1400" in ln for ln in before), before
    total = 2
    _restored_at(sandbox, f, range(1, total + 1), before)
    assert json.loads(sandbox.vnet("apply", "--json", f).stdout)["requests"] == total
    assert json.loads(sandbox.vnet("plan", "--json", f).stdout)["changes"] == []
    assert "fd77::1/64" in _on_v1(sandbox)
    sandbox.vnet("destroy", "ud")


@pytest.mark.needs("veth")
def test_an_undone_renumbering_puts_back_the_routes_the_kernel_dropped_with_the_last_ipv4_address(sandbox):
    """The kernel drops every IPv4 route through a device as its last IPv4 address goes: an undo at any
    request of a renumbering adds the address back, and someone's routes through it, as they were."""
    f0 = sandbox.write("ud.yaml", DOWN)
    f = sandbox.write("ud2.yaml", DOWN.replace("10.77.0.1/24", "10.78.0.1/24"))
    sandbox.vnet("apply", f0)
    sandbox.sh("ip route add 10.79.0.0/24 via 10.77.0.2 dev v1 proto boot mtu 1400; ip route add 10.80.0.0/24 dev v1 metric 9")
    before = _on_v1(sandbox)
    assert any("10.80.0.0/24" in ln for ln in before), before
    total = json.loads(sandbox.vnet("plan", "--json", f).stdout)["changes"]
    assert [c["action"] for c in total] == ["delete", "create"], total
    _restored_at(sandbox, f, (1, 2), before)
    sandbox.vnet("destroy", "ud")


@pytest.mark.needs("veth")
def test_an_undone_renumbering_puts_back_a_route_with_the_address_as_its_source(sandbox):
    """The kernel drops an IPv4 route whose source is an address that goes: an undo puts it back (in a
    namespace whose routes the plan read: one where the file declares some)."""
    lab = DOWN.replace("10.77.0.1/24", "10.77.0.1/24, 10.77.1.1/24") + "routes:\n  - {to: 10.85.0.0/24, via: 10.77.0.2}\n"
    f0 = sandbox.write("ud.yaml", lab)
    f = sandbox.write("ud2.yaml", lab.replace("10.77.1.1/24", "10.77.2.1/24"))
    sandbox.vnet("apply", f0)
    sandbox.sh("ip route add 10.81.0.0/24 via 10.77.0.2 src 10.77.1.1 proto boot")
    before = _on_v1(sandbox)
    assert any("10.81.0.0/24" in ln and "src 10.77.1.1" in ln for ln in before), before
    total = json.loads(sandbox.vnet("apply", "--json", f).stdout)["requests"]
    sandbox.vnet("apply", f0)
    sandbox.sh("ip route add 10.81.0.0/24 via 10.77.0.2 src 10.77.1.1 proto boot")
    assert _on_v1(sandbox) == before
    _restored_at(sandbox, f, range(1, total + 1), before)
    sandbox.vnet("destroy", "ud")


@pytest.mark.needs("veth")
def test_an_undone_renumbering_of_every_ipv4_address_puts_back_the_routes_through_the_device(sandbox):
    """Two IPv4 addresses going in one apply: the second is the last at its step (the first went
    before it), and the kernel drops the routes through the device with it."""
    lab = DOWN.replace("10.77.0.1/24", "10.77.0.1/24, 10.77.1.1/24")
    f0 = sandbox.write("ud.yaml", lab)
    f = sandbox.write("ud2.yaml", lab.replace("10.77.0.1/24, 10.77.1.1/24", "10.77.2.1/24"))
    sandbox.vnet("apply", f0)
    sandbox.sh("ip route add 192.168.5.0/24 dev v1; ip route add 192.168.6.0/24 via 10.77.1.9 proto 99 metric 7")
    before = _on_v1(sandbox)
    _restored_at(sandbox, f, (1, 2, 3), before)
    sandbox.vnet("destroy", "ud")


@pytest.mark.needs("veth")
def test_an_undone_deletion_puts_back_every_next_hop_of_an_ipv6_multipath_route(sandbox):
    """IPv6 keeps a multipath route with the next hops left as one of its devices goes: an undo makes it
    whole again (it found the route there, and left it with one hop)."""
    two = DOWN + "  - {name: v2, kind: veth, addresses: ['fd78::1/64'], peer: {name: eth1, netns: u1}}\n"
    f0 = sandbox.write("ud.yaml", two)
    f = sandbox.write("ud2.yaml", DOWN)
    sandbox.vnet("apply", f0)
    sandbox.sh("ip -6 route add fd99::/64 proto 99 nexthop via fd77::2 dev v1 nexthop via fd78::2 dev v2 weight 3")
    before = _on_v1(sandbox)
    assert any("weight 3" in ln for ln in before), before
    r = _signalled(sandbox, f, 1, "INT")
    assert r.returncode == 130 and "failed" not in r.stderr, r.stderr
    assert _on_v1(sandbox) == before
    sandbox.vnet("destroy", "ud")


@pytest.mark.needs("veth")
def test_a_device_of_vnet_s_that_no_kind_knows_is_deleted_without_an_error(sandbox):
    """A device of vnet's (its group tag) that no kind of vnet's describes (made again by hand as another
    kind): deleting it cannot be undone as it was, and is no internal error (it was: KeyError)."""
    f0 = sandbox.write("ud.yaml", DOWN + "  - {name: v9, kind: veth, peer: {name: v9p}}\n")
    sandbox.vnet("apply", f0)
    group = json.loads(sandbox.sh("ip -j -d link show v9"))[0]["group"]
    sandbox.sh(f"ip link del v9 && ip link add v9 type ifb && ip link set v9 group {group}")
    r = sandbox.vnet("apply", sandbox.write("ud2.yaml", DOWN), check=False)
    assert r.returncode == 0 and "internal error" not in r.stderr, r.stdout + r.stderr
    assert "v9" not in sandbox.sh("ip -br link")
    sandbox.vnet("destroy", "ud")


@pytest.mark.needs("bridge", "veth")
def test_a_signal_after_the_apply_is_verified_keeps_it_and_says_so(sandbox, monkeypatch, capsys):
    from vnet import applier, cli
    f = sandbox.write("un.yaml", LAB)
    real = applier.Guard.disarm

    def verified_then_signal(guard):
        real(guard)
        os.kill(os.getpid(), signal.SIGINT)   # the last change is made and verified
    monkeypatch.setattr(applier.Guard, "disarm", verified_then_signal)
    assert cli.main(["apply", f]) == 0
    err = capsys.readouterr().err
    assert "applied; the signal (SIGINT) came after the last change" in err, err
    monkeypatch.undo()
    assert json.loads(sandbox.vnet("plan", "--json", f).stdout)["changes"] == []
    sandbox.vnet("destroy", f)


@pytest.mark.needs("vxlan", "veth")
def test_a_verification_mismatch_is_undone_with_exit_4(sandbox):
    # the kernel clamps a VXLAN's MTU to what its 1500-byte underlay carries, silently
    sandbox.external("eth1")
    before = sandbox.dump_all()
    f = sandbox.write("vx.yaml", """name: vxm
namespaces: [x1]
interfaces:
  - {name: eth1, kind: external}
  - {name: vx0, kind: vxlan, vni: 5, dev: eth1, mtu: 1500, local: 10.0.0.1, remote: 10.0.0.2}
""")
    r = sandbox.vnet("apply", f, check=False)
    assert r.returncode == 4, r.stdout + r.stderr
    assert "mtu 1450 -> 1500" in r.stderr and "the apply was undone" in r.stderr, r.stderr
    assert sandbox.dump_all() == before
    assert records() == []


@pytest.mark.needs("bridge", "veth")
def test_a_tap_made_by_the_step_the_kernel_refuses_is_removed(sandbox):
    # a veth is no master: the kernel refuses to enslave the new tap, after ioctl made it
    sandbox.external("eth1")
    before = sandbox.dump_all()
    f = sandbox.write("tp.yaml", "name: tp\ninterfaces:\n  - {name: eth1, kind: external}\n"
                      "  - {name: br0, kind: bridge}\n  - {name: tap0, kind: tap, master: eth1}\n")
    r = sandbox.vnet("apply", f, check=False)
    assert r.returncode == 3 and "create link tap0" in r.stderr, r.stderr
    assert sandbox.dump_all() == before, "the tap made before the kernel refused was left"
    assert records() == []
    f = sandbox.write("tp.yaml", "name: tp\ninterfaces:\n  - {name: br0, kind: bridge}\n"
                      "  - {name: tap0, kind: tap, master: br0}\n")
    sandbox.vnet("apply", f)   # the corrected file applies: nothing stray holds the name
    sandbox.vnet("destroy", f)


@pytest.mark.needs("veth")
def test_a_tunnel_that_cannot_start_leaves_nothing(sandbox):
    import socket
    before = sandbox.dump_all()
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind(("127.0.0.1", 4700))   # a stranger holds the tunnel's port
    try:
        f = sandbox.write("tn.yaml", 'name: tn\ninterfaces:\n  - {name: tun0, kind: tun, tunnel: '
                          '{listen: "127.0.0.1:4700", peer: "127.0.0.1:4701"}}\n')
        r = sandbox.vnet("apply", f, check=False)
    finally:
        holder.close()
    assert r.returncode == 3, r.stderr
    assert "cannot listen on 127.0.0.1 port 4700: Address already in use" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and "Errno" not in r.stderr, r.stderr
    assert sandbox.dump_all() == before
    left = [os.path.join(d, x) for d, _s, fs in os.walk("/run/vnet") for x in fs if not x.endswith(".lock")]
    assert left == [], left
    out = subprocess.run(["pgrep", "-f", "vnet tunnel"], capture_output=True, text=True).stdout.split()
    here = os.readlink("/proc/self/ns/net")   # the sandbox's: tunnels of other runs on the machine are not ours
    ours = [p for p in out if _net_ns(p) == here]
    assert not ours, f"a tunnel process was left: {ours}"


def _net_ns(pid):
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:   # gone meanwhile
        return None


@pytest.mark.needs("bridge")
def test_the_undo_of_many_creations_is_as_fast_as_destroy(sandbox, tmp_path):
    """SIGTERM late in an apply of 800 bridges: the undo deletes the 640
    made so far as destroy does, in one request (one by one, it took over 20
    times longer than destroy); the requests are counted with strace."""
    n = 800
    f = sandbox.write("many.yaml", "name: many\ninterfaces:\n" +
                      "".join(f"  - {{name: b{i}, kind: bridge}}\n" for i in range(n)))
    # the signal comes from the apply itself after its 640th change: sent from
    # outside, it raced the apply's end (a fast apply was already done)
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "src"),
           "VNET_KILL_AT_REQUEST": str(n * 4 // 5), "VNET_KILL_SIGNAL": "TERM"}
    trace = tmp_path / "strace.txt"
    p = subprocess.run(["strace", "-f", "-qq", "-s", "64", "-e", "trace=sendto,sendmsg,sendmmsg", "-o", str(trace),
                        sys.executable, "-m", "vnet", "apply", f], env=env, capture_output=True, text=True,
                       timeout=600)
    from vnet.kernel import rtnl
    from vnet.kernel.session import Kernel
    with Kernel() as k:
        left = [ln.name for ln in rtnl.dump_links(k.sock(None))]
    assert p.returncode == 130 and "the apply was undone" in p.stderr, p.stderr
    assert left == ["lo"] and records() == []
    sent = trace.read_text()
    assert sent.count("RTM_NEWLINK") >= n * 4 // 5
    assert sent.count("RTM_DELLINK") <= 2, f"the undo sent {sent.count('RTM_DELLINK')} deletions"


@pytest.mark.needs("bridge", "veth")
def test_a_sysctl_this_kernel_lacks_is_refused_before_any_change(sandbox):
    before = sandbox.dump_all()
    f = sandbox.write("sy.yaml", LAB.replace("key: net.ipv4.ip_forward", "key: net.ipv4.ip_forwrd")
                      .replace("net.ipv4.conf.br0.forwarding", "net.ipv4.conf.br0.forwardin"))
    r = sandbox.vnet("apply", f, check=False)
    assert r.returncode == 2, r.stderr
    assert ("sysctls[0].key: 'net.ipv4.ip_forwrd': no such sysctl on this kernel "
            "(did you mean 'net.ipv4.ip_forward'?)") in r.stderr, r.stderr
    assert "sysctls[1].key: 'net.ipv4.conf.br0.forwardin': no such sysctl on this kernel " \
           "(did you mean 'net.ipv4.conf.br0.forwarding'?)" in r.stderr, r.stderr
    assert sandbox.dump_all() == before and records() == []
