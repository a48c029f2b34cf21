"""A destroy of many devices deletes their IPv6 routes first, back to back
(rtnl.drop_routes6: the kernel otherwise walks the namespace's whole IPv6
FIB once per device it deletes), and never a route of a device it does not
delete. Real kernel, in a private namespace."""
import errno
import ipaddress
import os
import subprocess
import sys

from vnet.kernel import netlink as nl, rtnl

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "src")


def _routes6(sandbox, dev=None):
    """`ip -6 route show table all` lines (of ``dev``), as a set."""
    return set(sandbox.sh("ip -6 route show table all" + (f" dev {dev}" if dev else "")).splitlines())


def test_destroy_of_many_devices_leaves_the_routes_of_others_whole(sandbox):
    sandbox.external("eth1")
    sandbox.sh("ip -6 addr add 2001:db8:9::1/64 dev eth1 nodad && ip -6 route add 2001:db8:77::/64 dev eth1"
               " && ip -6 route add 2001:db8:78::/64 via fe80::1 dev eth1 table 100")
    n = 12   # 24 devices: over destroyer.ROUTES_FIRST
    lines = ["name: many", "interfaces:"] + [f"  - {{name: a{i}, kind: veth, peer: {{name: b{i}}}}}" for i in range(n)]
    f = sandbox.write("many.yaml", "\n".join(lines) + "\n")
    sandbox.vnet("apply", f)
    sandbox.settle(*[f"a{i}" for i in range(n)], *[f"b{i}" for i in range(n)])
    assert _routes6(sandbox, "a3"), "the lab's devices have IPv6 routes of their own (the kernel's)"
    theirs = _routes6(sandbox, "eth1") | _routes6(sandbox, "eth1-p") | _routes6(sandbox, "lo")
    assert any("2001:db8:77::/64" in r for r in theirs) and any("table 100" in r for r in theirs)
    ours = sum(len(_routes6(sandbox, f"{end}{i}")) for end in "ab" for i in range(n))
    trace = sandbox.tmp / "strace.txt"
    subprocess.run(["strace", "-f", "-qq", "-s", "100000", "-e", "trace=sendto,sendmsg", "-o", str(trace), sys.executable, "-m", "vnet",
                    "destroy", "many"], check=True, capture_output=True, env={**os.environ, "PYTHONPATH": SRC})
    assert not {name for name in sandbox.links() if name[0] in "ab" and name[1:].isdigit()}
    assert _routes6(sandbox, "eth1") | _routes6(sandbox, "eth1-p") | _routes6(sandbox, "lo") == theirs
    assert trace.read_text().count("RTM_DELROUTE") == ours, "the lab's own IPv6 routes went first, one request each"


def test_an_undone_apply_of_many_devices_leaves_the_routes_of_others_whole(sandbox):
    sandbox.external("eth1")
    sandbox.sh("ip -6 route add 2001:db8:77::/64 dev eth1")
    theirs = _routes6(sandbox)
    n = 12
    f = sandbox.write("many.yaml", "name: many\ninterfaces:\n" + "".join(
        f"  - {{name: a{i}, kind: veth, peer: {{name: b{i}}}, addresses: ['2001:db8:{i}::1/64']}}\n" for i in range(n)))
    env = {**os.environ, "PYTHONPATH": SRC, "VNET_KILL_AT_REQUEST": str(3 * n), "VNET_KILL_SIGNAL": "TERM"}
    trace = sandbox.tmp / "strace.txt"
    p = subprocess.run(["strace", "-f", "-qq", "-s", "100000", "-e", "trace=sendto", "-o", str(trace),
                        sys.executable, "-m", "vnet", "apply", f], env=env, capture_output=True, text=True)
    assert p.returncode == 130 and "the apply was undone" in p.stderr, p.stderr
    assert set(sandbox.links()) == {"lo", "eth1", "eth1-p"}
    assert _routes6(sandbox) == theirs
    assert trace.read_text().count("RTM_DELROUTE") >= n, "the undo took the lab's address routes first"


def test_drop_routes6_takes_only_single_path_routes_of_the_devices_named(sandbox):
    for d in ("x1", "x2"):
        sandbox.external(d)
    sandbox.sh("ip -6 route add 2001:db8:1::/64 dev x1 && ip -6 route add 2001:db8:2::/64 dev x2"
               " && ip -6 route add 2001:db8:3::/64 nexthop via fe80::1 dev x1 nexthop via fe80::2 dev x2"
               " && ip -4 addr add 192.0.2.1/24 dev x1")
    before_x2, v4 = _routes6(sandbox, "x2"), sandbox.sh("ip -4 route show table all dev x1")
    x1 = {ln["ifname"]: ln["ifindex"] for ln in sandbox.ip_json()}["x1"]
    s = nl.Socket()
    try:
        went = rtnl.drop_routes6(s, {x1})
    finally:
        s.close()
    left_x1 = _routes6(sandbox, "x1")
    # the kernel's fe80::/64, ff00::/8 and link-local local route, and the one added: all of x1's single-path ones
    assert went >= 4
    assert left_x1 == {r for r in left_x1 if "2001:db8:3::/64" in r or "nexthop" in r}, left_x1
    assert any("2001:db8:3::/64" in r for r in _routes6(sandbox)), "a multipath route is left to the kernel"
    assert _routes6(sandbox, "x2") == before_x2
    assert sandbox.sh("ip -4 route show table all dev x1") == v4, "IPv4 routes are not touched"


def test_requests_sent_back_to_back_report_each_failure_by_position(sandbox):
    sandbox.external("x1")
    x1 = {ln["ifname"]: ln["ifindex"] for ln in sandbox.ip_json()}["x1"]
    nets = [ipaddress.ip_network(f"2001:db8:{i}::/64") for i in (1, 2, 3)]
    sandbox.sh(f"ip -6 route add {nets[0]} dev x1 && ip -6 route add {nets[2]} dev x1")
    bodies = [rtnl._route_msg(net, None, x1, 0, delete=True) for net in nets]
    s = nl.Socket()
    try:
        failed = s.request_many(rtnl.RTM_DELROUTE, bodies, per_send=2)   # two sends, of two and one
        assert s.requests == 3
    finally:
        s.close()
    assert list(failed) == [1] and failed[1].errno == errno.ESRCH
    assert not {r for r in _routes6(sandbox, "x1") if r.startswith("2001:db8:")}, "the requests around the failure were carried out"


def test_a_destroy_killed_after_taking_routes_is_made_whole_by_the_next_apply(sandbox):
    """SIGKILL after the first route deletion: the devices are left without
    their IPv6 routes; the record says so, and the next plan re-makes them
    (a plan saying "no changes" would leave them unreachable by IPv6)."""
    n = 12
    f = sandbox.write("many.yaml", "name: many\ninterfaces:\n" + "".join(
        f"  - {{name: a{i}, kind: veth, peer: {{name: b{i}}}, addresses: ['2001:db8:{i}::1/64']}}\n" for i in range(n)))
    sandbox.vnet("apply", f)
    sandbox.settle(*[f"a{i}" for i in range(n)], *[f"b{i}" for i in range(n)])
    theirs = len(_routes6(sandbox))
    env = {**os.environ, "PYTHONPATH": SRC, "VNET_KILL_AT_REQUEST": "1", "VNET_KILL_SIGNAL": "KILL"}
    p = subprocess.run([sys.executable, "-m", "vnet", "destroy", "many"], env=env, capture_output=True, text=True)
    assert p.returncode == -9
    assert {f"a{i}" for i in range(n)} <= set(sandbox.links()), "killed before the devices went"
    assert len(_routes6(sandbox)) < theirs, "some of their routes went"
    plan = sandbox.vnet("plan", f).stdout
    assert plan.count("recreate") == n and "a destroy or undo stopped after taking its IPv6 routes" in plan, plan
    sandbox.vnet("apply", f)
    sandbox.settle(*[f"a{i}" for i in range(n)], *[f"b{i}" for i in range(n)])
    for i in range(n):
        assert str(ipaddress.ip_network(f"2001:db8:{i}::/64")) in sandbox.sh(f"ip -6 route show dev a{i}")
        assert "fe80::/64" in sandbox.sh(f"ip -6 route show dev b{i}")
    assert "no changes" in sandbox.vnet("plan", f).stdout
    sandbox.vnet("destroy", "many")
    assert set(sandbox.links()) == {"lo"}


def test_drop_routes6_leaves_every_route_where_a_nexthop_object_is_used(sandbox):
    """A route through a nexthop object is deleted by any request for its
    prefix, whatever device the request names: such a namespace is left to
    the kernel whole."""
    for d in ("x1", "x2"):
        sandbox.external(d)
    sandbox.sh("ip -6 nexthop add id 5 dev x2 && ip -6 route add 2001:db8:5::/64 nhid 5"
               " && ip -6 route append 2001:db8:5::/64 dev x1")
    before = _routes6(sandbox)
    x1 = {ln["ifname"]: ln["ifindex"] for ln in sandbox.ip_json()}["x1"]
    s = nl.Socket()
    try:
        assert rtnl.drop_routes6(s, {x1}) == 0
    finally:
        s.close()
    assert _routes6(sandbox) == before


def test_requests_back_to_back_fit_a_small_receive_buffer(sandbox):
    """Each ack is charged some 800 bytes to the receive buffer: with a small
    one, fewer requests go per send, none of their acks is lost, and the
    socket serves the next request."""
    sandbox.external("x1")
    x1 = {ln["ifname"]: ln["ifindex"] for ln in sandbox.ip_json()}["x1"]
    nets = [ipaddress.ip_network(f"2001:db8:{i:x}::/64") for i in range(1, 200)]
    s = nl.Socket()
    try:
        s.sock.setsockopt(1, 8, 4096)   # SOL_SOCKET, SO_RCVBUF: the kernel doubles it
        add = [rtnl._route_msg(net, None, x1, 1024) for net in nets]
        assert s.request_many(rtnl.RTM_NEWROUTE, [b for b in add]) == {}
        assert sum(1 for r in _routes6(sandbox, "x1") if r.startswith("2001:db8:")) == len(nets)
        assert s.request_many(rtnl.RTM_DELROUTE, [rtnl._route_msg(net, None, x1, 1024, delete=True)
                                                   for net in nets]) == {}
        rtnl.set_link(s, x1, up=False)   # the socket still answers a request of its own
    finally:
        s.close()
    assert not {r for r in _routes6(sandbox, "x1") if r.startswith("2001:db8:")}


def test_routes_stay_when_the_record_cannot_say_they_will_go(sandbox):
    """``before_deleting`` writes the record first; a record that cannot be
    written leaves the routes to the deletion (a stop after them would go
    unrepaired)."""
    names = [f"x{i}" for i in range(8)]
    for d in names:
        sandbox.external(d)
    before = _routes6(sandbox)
    index = {ln["ifname"]: ln["ifindex"] for ln in sandbox.ip_json()}

    def unwritable():
        raise OSError(30, "Read-only file system")
    s = nl.Socket()
    try:
        rtnl.before_deleting(s, [index[d] for d in names] + [index[f"{d}-p"] for d in names], unwritable)
        assert _routes6(sandbox) == before
        rtnl.before_deleting(s, [index[d] for d in names] + [index[f"{d}-p"] for d in names], lambda: None)
        assert not any(f"dev {d} " in r for r in _routes6(sandbox) for d in names)
    finally:
        s.close()


def test_an_undone_apply_keeps_what_an_earlier_stopped_destroy_left_to_repair(sandbox):
    """A destroy killed after taking routes, then an apply stopped (SIGTERM)
    after two of its creations: its undo deletes those two, and must not
    take the earlier destroy's note with them, or the devices without
    routes would pass for whole."""
    n = 12
    old = "".join(f"  - {{name: a{i}, kind: veth, peer: {{name: b{i}}}, addresses: ['2001:db8:{i}::1/64']}}\n"
                  for i in range(n))
    f = sandbox.write("many.yaml", "name: many\ninterfaces:\n" + old)
    sandbox.vnet("apply", f)
    sandbox.settle(*[f"a{i}" for i in range(n)], *[f"b{i}" for i in range(n)])
    kill = {**os.environ, "PYTHONPATH": SRC, "VNET_KILL_AT_REQUEST": "1", "VNET_KILL_SIGNAL": "KILL"}
    assert subprocess.run([sys.executable, "-m", "vnet", "destroy", "many"], env=kill, capture_output=True).returncode == -9
    more = sandbox.write("more.yaml", "name: many\ninterfaces:\n" + "".join(
        f"  - {{name: n{i}, kind: veth, peer: {{name: m{i}}}}}\n" for i in range(3)) + old)
    term = {**kill, "VNET_KILL_AT_REQUEST": "2", "VNET_KILL_SIGNAL": "TERM"}
    p = subprocess.run([sys.executable, "-m", "vnet", "apply", more], env=term, capture_output=True, text=True)
    assert p.returncode == 130 and "the apply was undone" in p.stderr, p.stderr
    assert sandbox.vnet("plan", f).stdout.count("recreate") == n
    sandbox.vnet("apply", f)
    assert "no changes" in sandbox.vnet("plan", f).stdout
    sandbox.vnet("destroy", "many")
    assert set(sandbox.links()) == {"lo"}


def test_a_socket_whose_acks_overflowed_is_emptied_and_serves_again(sandbox):
    """More acks than the receive buffer holds (ENOBUFS, some lost): the
    socket is emptied past the overflow, and its next request gets its own
    ack (a socket left congested lost it, and the request waited forever)."""
    sandbox.external("x1")
    x1 = {ln["ifname"]: ln["ifindex"] for ln in sandbox.ip_json()}["x1"]
    s = nl.Socket()
    try:
        s.sock.setsockopt(1, 8, 2048)   # SOL_SOCKET, SO_RCVBUF: the least the kernel takes
        body = rtnl._route_msg(ipaddress.ip_network("2001:db8:99::/64"), None, x1, 1024, delete=True)
        s.sock.send(b"".join(nl._HDR.pack(16 + len(body), rtnl.RTM_DELROUTE, nl.F_REQUEST | nl.F_ACK, 1000 + i, 0)
                             + body for i in range(64)))   # 64 failures to report: more than fit
        s._drain()
        s.sock.settimeout(10)   # a lost ack fails the test, not hangs it
        rtnl.set_link(s, x1, up=False)
        assert "state DOWN" in sandbox.sh("ip link show x1")
    finally:
        s.close()
