"""plan(): desired topology vs a recorded kernel state, without a kernel.

The states here are built by hand the way observe() reports them: Device
objects per namespace, references resolved to (namespace, name), and an
ownership Record of what topology `lab` created."""
import ipaddress
import itertools

import pytest

from vnet.errors import PlanError
from vnet.state import Device, State
from vnet.state import Route as LiveRoute
from vnet.kinds import BY_NAME
from vnet.ownership import Record, group_of
from vnet.topology.address import parse
from vnet.planner import plan
from vnet.topofile.loader import load_text

TOPO = """
name: lab
namespaces: [net1, net2]
interfaces:
  # upper devices first: the plan must order by dependency, not by the file
  - {name: mv1, kind: macvlan, netns: net2, link: {name: vx0}, mode: bridge, addresses: [10.2.0.1/24]}
  - name: veth1
    kind: veth
    master: br0
    peer: {name: eth0, netns: net1, addresses: [10.0.0.1/24]}
  - {name: br0, kind: bridge, stp: false, addresses: [10.0.0.254/24]}
  - {name: vx0, kind: vxlan, vni: 100, local: 192.0.2.1, remote: 192.0.2.2, dev: eth9}
  - {name: eth9, kind: external}
routes:
  - {netns: net1, to: default, via: 10.0.0.254}
sysctls:
  - {key: net.ipv4.ip_forward, value: 1}
"""
GROUP = group_of("lab")
_ifindex = itertools.count(2)
ip, net, cidr = ipaddress.ip_address, ipaddress.ip_network, ipaddress.ip_interface


@pytest.fixture
def topo():
    return load_text(TOPO, "lab.yaml")


def device(ns, name, kind=None, ours=True, **kw):
    k = BY_NAME[kind] if kind else None
    return Device(netns=ns, name=name, ifindex=next(_ifindex), kernel_kind=k.kernel_kind if k else "dummy",
                  kind_module=k, up=True, mtu=1500, mac="02:00:00:00:00:01", group=GROUP if ours else 0, **kw)


def make_state(devices, namespaces=(None,), routes=None, sysctls=None):
    st = State()
    st.namespaces = {ns: {} for ns in namespaces}
    for d in devices:
        st.namespaces[d.netns][d.name] = d
    st.routes = routes or {}
    st.sysctls = sysctls or {}
    return st


def make_record(st, namespaces=(), routes=(), sysctls=()):
    """The record of topology lab: every device in ``st`` carrying its group."""
    return Record("lab", {
        "namespaces": list(namespaces),
        "devices": [{"netns": d.netns, "name": d.name, "kind": d.kind_name}
                    for d in st.devices() if d.group == GROUP],
        "routes": [list(r) for r in routes],
        "sysctls": [{"netns": ns, "key": k, "old": old} for ns, k, old in sysctls]})


def eth9():
    return device(None, "eth9", ours=False)


def applied_devices():
    """What the kernel reports once TOPO is applied."""
    return [
        eth9(),
        device(None, "br0", "bridge", addresses=[cidr("10.0.0.254/24")],
               options={"stp": False, "vlan_filtering": False, "ageing_time": 300, "forward_delay": 15,
                        "priority": 32768}),
        device(None, "veth1", "veth", master=(None, "br0"), peer=("net1", "eth0")),
        device("net1", "eth0", "veth", peer=(None, "veth1"), addresses=[cidr("10.0.0.1/24")]),
        device(None, "vx0", "vxlan",
               options={"vni": 100, "local": ip("192.0.2.1"), "remote": ip("192.0.2.2"), "group": None,
                        "dev": (None, "eth9"), "dstport": 4789, "ttl": 0, "learning": True, "fdb": []}),
        device("net2", "mv1", "macvlan", addresses=[cidr("10.2.0.1/24")],
               options={"mode": "bridge", "link": (None, "vx0")}),
    ]


def applied(devices=None):
    """(state, record) of the kernel after `vnet apply` of TOPO."""
    st = make_state(devices or applied_devices(), namespaces=(None, "net1", "net2"),
                    routes={"net1": [LiveRoute("net1", net("0.0.0.0/0"), ip("10.0.0.254"), "eth0", 0, 4)]},
                    sysctls={(None, "net.ipv4.ip_forward"): "1"})
    rec = make_record(st, namespaces=["net1", "net2"], routes=[("net1", "0.0.0.0/0", "10.0.0.254", None, 0)],
                      sysctls=[(None, "net.ipv4.ip_forward", "0")])
    return st, rec


def changed(devices, name, **kw):
    """``devices`` with device ``name``'s fields (or options, as options=...) replaced."""
    out = []
    for d in devices:
        if d.name == name:
            opts = {**d.options, **kw.pop("options", {})}
            d = Device(**{**{f: getattr(d, f) for f in _fields(d)}, "options": opts, **kw})
        out.append(d)
    return out


def _fields(d):
    return [f for f, _ in d._fields] if hasattr(d, "_fields") else list(vars(d))


def rows(p):
    return [(c.action, c.object, c.reason) for c in p.changes]


# ---- from nothing --------------------------------------------------------------

def test_empty_state_creates_everything(topo):
    st = make_state([eth9()])
    p = plan(topo, st, Record("lab"))
    assert sorted(rows(p)) == sorted([
        ("create", "netns net1", "does not exist"),
        ("create", "netns net2", "does not exist"),
        ("create", "link br0", "does not exist"),
        ("create", "link veth1", "does not exist"),
        ("create", "link vx0", "does not exist"),
        ("create", "link net2/mv1", "does not exist"),
        ("create", "address 10.0.0.254/24 on br0", "new device"),
        ("create", "address 10.0.0.1/24 on net1/eth0", "new device"),
        ("create", "address 10.2.0.1/24 on net2/mv1", "new device"),
        ("create", "route default via 10.0.0.254 in net1", "missing"),
        ("modify", "sysctl net.ipv4.ip_forward", "set 1"),
    ])


def test_empty_state_orders_by_dependency(topo):
    objs = [c.object for c in plan(topo, make_state([eth9()]), Record("lab")).changes]
    at = objs.index
    assert max(at("netns net1"), at("netns net2")) < min(i for i, o in enumerate(objs) if o.startswith("link "))
    assert at("link br0") < at("link veth1"), "a bridge before its ports"
    assert at("link vx0") < at("link net2/mv1"), "a lower device before its macvlan"
    assert at("link net2/mv1") < at("address 10.0.0.254/24 on br0"), "addresses once every device exists"
    assert at("address 10.2.0.1/24 on net2/mv1") < at("route default via 10.0.0.254 in net1")
    # a namespace-wide sysctl before any device (ip_forward sets every device's; a device made later takes default's)
    assert max(at("netns net1"), at("netns net2")) < at("sysctl net.ipv4.ip_forward") \
        < min(i for i, o in enumerate(objs) if o.startswith("link "))


def test_changes_carry_what_apply_runs(topo):
    p = plan(topo, make_state([eth9()]), Record("lab"))
    ops = {c.object: c.op for c in p.changes}
    assert ops["netns net1"] == ("ns_create", "net1")
    assert ops["link veth1"][0] == "dev_create" and ops["link veth1"][1].peer.key == ("net1", "eth0")
    assert p.as_dict()["changes"][0] == {"action": "create", "object": "netns net1", "reason": "does not exist"}


# ---- in sync -------------------------------------------------------------------

def test_state_equal_to_the_file_plans_nothing(topo):
    st, rec = applied()
    p = plan(topo, st, rec)
    assert p.changes == []
    assert not p


def test_devices_whose_routes_a_stopped_destroy_took_are_made_again(topo):
    """The record says a destroy or undo took the IPv6 routes of its devices
    in vnet's own namespace and was stopped before deleting them: those
    devices are re-created (their kernel-made routes come back with them);
    the other namespaces' only for what depends on them (a macvlan on a
    re-made lower)."""
    st, rec = applied()
    rec.routes_dropped = [None]
    got = rows(plan(topo, st, rec))
    made = {obj for action, obj, reason in got if action == "recreate"
            and reason == "a destroy or undo stopped after taking its IPv6 routes"}
    assert made == {"link br0", "link veth1", "link vx0"}, got
    assert [r for _a, obj, r in got if obj == "link net2/mv1"] == ["its link vx0 is re-created"], got


# ---- drift -----------------------------------------------------------------------

def test_in_place_option_is_one_modify(topo):
    st, rec = applied(changed(applied_devices(), "br0", options={"stp": True}))
    assert rows(plan(topo, st, rec)) == [("modify", "link br0", "stp true -> false")]


def test_option_that_cannot_change_in_place_recreates_and_so_do_devices_on_it(topo):
    st, rec = applied(changed(applied_devices(), "vx0", options={"vni": 99}))
    assert rows(plan(topo, st, rec)) == [
        ("recreate", "link vx0", "vni 99 -> 100 cannot change in place"),
        ("recreate", "link net2/mv1", "its link vx0 is re-created"),
        ("create", "address 10.2.0.1/24 on net2/mv1", "new device"),
    ]


def test_kind_change_recreates(topo):
    st, rec = applied(changed(applied_devices(), "br0", kind_module=BY_NAME["tap"], kernel_kind="tun"))
    rs = rows(plan(topo, st, rec))
    assert rs[0] == ("recreate", "link br0", "is a tap, declared bridge")
    assert ("create", "address 10.0.0.254/24 on br0", "new device") in rs


def test_veth_peer_elsewhere_recreates_the_pair(topo):
    devs = [d for d in applied_devices() if d.key != ("net1", "eth0")]
    devs = changed(devs, "veth1", peer=("net2", "eth0")) + [device("net2", "eth0", "veth", peer=(None, "veth1"))]
    st, rec = applied(devs)
    rs = rows(plan(topo, st, rec))
    assert ("recreate", "link veth1", "peer is net2/eth0, declared net1/eth0") in rs
    assert ("delete", "link net2/eth0", "no longer declared") not in rs, "goes with its pair"


def test_port_left_its_bridge(topo):
    st, rec = applied(changed(applied_devices(), "veth1", master=None))
    assert rows(plan(topo, st, rec)) == [("modify", "link veth1", "master none -> br0")]


def test_device_set_down_is_brought_up(topo):
    st, rec = applied(changed(applied_devices(), "br0", up=False))
    assert rows(plan(topo, st, rec)) == [("modify", "link br0", "up false -> true")]


def test_address_drift(topo):
    devs = changed(applied_devices(), "eth0", addresses=[cidr("10.0.0.1/24"), cidr("10.0.0.9/24")],
                   secondary=[cidr("10.0.0.9/24")])
    st, rec = applied(changed(devs, "br0", addresses=[]))
    assert sorted(rows(plan(topo, st, rec))) == [
        ("create", "address 10.0.0.254/24 on br0", "missing"),
        ("delete", "address 10.0.0.9/24 on net1/eth0", "not declared"),
    ]


def test_renumbering_deletes_first_and_puts_the_routes_back(topo):
    """10.0.0.9 holds the subnet, 10.0.0.1 (declared) is its secondary: the
    kernel would drop the secondary and the routes with the primary, so the
    secondary and the route go first, explicitly, and come back after."""
    devs = changed(applied_devices(), "eth0", addresses=[cidr("10.0.0.9/24"), cidr("10.0.0.1/24")],
                   secondary=[cidr("10.0.0.1/24")])
    st, rec = applied(devs)
    assert rows(plan(topo, st, rec)) == [
        ("delete", "route default via 10.0.0.254 in net1", "its device eth0 is renumbered: "
         "removed first, added back after"),
        ("delete", "address 10.0.0.1/24 on net1/eth0", "a secondary of a primary that goes: "
         "deleted first, added back after"),
        ("delete", "address 10.0.0.9/24 on net1/eth0", "not declared"),
        ("create", "address 10.0.0.1/24 on net1/eth0", "added back"),
        ("create", "route default via 10.0.0.254 in net1", "added back after renumbering"),
    ]


def _with_eth0(addresses):
    """TOPO with eth0's addresses ``addresses``."""
    return load_text(TOPO.replace("addresses: [10.0.0.1/24]}", f"addresses: [{', '.join(addresses)}]}}"), "lab.yaml")


def test_a_primary_that_is_not_the_first_of_its_subnet_in_the_file_is_made_again():
    """10.0.0.11 holds the subnet, the file gives 10.0.0.1 first: both go,
    the secondary first, and come back in the file's order (the routes through
    eth0 with them: it has no other IPv4 address)."""
    devs = changed(applied_devices(), "eth0", addresses=[cidr("10.0.0.11/24"), cidr("10.0.0.1/24")],
                   secondary=[cidr("10.0.0.1/24")])
    st, rec = applied(devs)
    why = "primary is 10.0.0.11/24, the file gives 10.0.0.1/24 first: deleted, added back after"
    assert rows(plan(_with_eth0(["10.0.0.1/24", "10.0.0.11/24"]), st, rec)) == [
        ("delete", "route default via 10.0.0.254 in net1", "its device eth0 is renumbered: "
         "removed first, added back after"),
        ("delete", "address 10.0.0.1/24 on net1/eth0", why),
        ("delete", "address 10.0.0.11/24 on net1/eth0", why),
        ("create", "address 10.0.0.1/24 on net1/eth0", "added back"),
        ("create", "address 10.0.0.11/24 on net1/eth0", "added back"),
        ("create", "route default via 10.0.0.254 in net1", "added back after renumbering"),
    ]
    assert rows(plan(_with_eth0(["10.0.0.11/24", "10.0.0.1/24"]), st, rec)) == []


def test_an_address_of_another_subnet_goes_alone(topo):
    """Someone's /32 beside the declared address: the kernel drops no route with it."""
    st, rec = applied(changed(applied_devices(), "eth0", addresses=[cidr("10.0.0.1/24"), cidr("192.0.2.7/32")]))
    assert rows(plan(topo, st, rec)) == [("delete", "address 192.0.2.7/32 on net1/eth0", "not declared")]


@pytest.mark.parametrize("off", ["1", "0", None])
def test_ipv6_turned_off_on_a_device_the_file_gives_ipv6_addresses_is_turned_on_first(off):
    st, rec = applied()
    st.sysctls[("net1", "net.ipv6.conf.eth0.disable_ipv6")] = off
    changes = [(c.object, c.reason) for c in plan(_with_eth0(["10.0.0.1/24", "'fd00::1/64'"]), st, rec).changes]
    assert changes == ([("sysctl net.ipv6.conf.eth0.disable_ipv6 in net1", "1 -> 0: the file gives net1/eth0 IPv6 "
                         "addresses, which the kernel refuses while it is off")] if off == "1" else []) + [
        ("address fd00::1/64 on net1/eth0", "missing")]


def test_an_ipv6_route_without_a_metric_is_the_kernels_1024():
    # a link-local gateway with its device: net1 has no IPv6 address, and
    # validation refuses a gateway no address of the namespace reaches
    t = load_text(TOPO.replace("via: 10.0.0.254}", "via: 10.0.0.254}\n  - {netns: net1, to: 'fd01::/64', "
                               "via: 'fe80::1', dev: eth0}"), "lab.yaml")
    st, rec = applied()
    st.routes["net1"].append(LiveRoute("net1", net("fd01::/64"), ip("fe80::1"), "eth0", 1024, 4))
    assert rows(plan(t, st, rec)) == []


def test_missing_route_and_changed_sysctl(topo):
    st, rec = applied()
    st.routes = {"net1": []}
    st.sysctls = {(None, "net.ipv4.ip_forward"): "0"}
    assert rows(plan(topo, st, rec)) == [
        ("modify", "sysctl net.ipv4.ip_forward", "0 -> 1"),
        ("create", "route default via 10.0.0.254 in net1", "missing"),
    ]


# ---- what the topology no longer declares ------------------------------------------

def test_owned_device_no_longer_declared_is_deleted(topo):
    devs = applied_devices() + [device(None, "tap9", "tap")]
    st, rec = applied(devs)
    assert rows(plan(topo, st, rec)) == [("delete", "link tap9", "no longer declared")]


def test_upper_devices_are_deleted_before_their_lower_device(topo):
    devs = applied_devices() + [device(None, "br9", "bridge"),
                                device(None, "mv9", "macvlan", options={"mode": "vepa", "link": (None, "br9")})]
    st, rec = applied(devs)
    assert rows(plan(topo, st, rec)) == [("delete", "link mv9", "no longer declared"),
                                         ("delete", "link br9", "no longer declared")]


def test_owned_namespace_no_longer_declared_is_deleted(topo):
    st, rec = applied()
    st.namespaces["net3"] = {}
    rec.namespaces.append("net3")
    assert rows(plan(topo, st, rec)) == [("delete", "netns net3", "no longer declared")]


def test_unowned_device_not_declared_is_left_alone(topo):
    st, rec = applied(applied_devices() + [device(None, "docker0", "bridge", ours=False)])
    assert plan(topo, st, rec).changes == []


def test_route_no_longer_declared_is_deleted_first(topo):
    st, rec = applied()
    st.routes["net1"].append(LiveRoute("net1", net("10.5.0.0/16"), ip("10.0.0.254"), "eth0", 0, 4))
    rec.routes.append(("net1", "10.5.0.0/16", "10.0.0.254", None, 0, 254))
    st.namespaces[None]["tap9"] = device(None, "tap9", "tap")
    rec.devices[(None, "tap9")] = "tap"
    assert rows(plan(topo, st, rec)) == [("delete", "route 10.5.0.0/16 via 10.0.0.254 in net1", "no longer declared"),
                                         ("delete", "link tap9", "no longer declared")]


def test_route_src_scope_onlink_compared_and_replaced_with_an_undo_as_it_was():
    t = load_text(TOPO.replace("  - {netns: net1, to: default, via: 10.0.0.254}",
                               "  - {netns: net1, to: default, via: 10.0.0.254, src: 10.0.0.1}\n"
                               "  - {netns: net1, to: 10.0.0.0/24, dev: eth0}\n"
                               "  - {netns: net1, to: 10.8.0.0/16, via: 10.0.0.9, dev: eth0, table: 100}"), "lab.yaml")
    st, rec = applied()
    st.routes["net1"] = [
        # the kernel's own subnet route, with its src: a declared route without src takes it
        LiveRoute("net1", net("10.0.0.0/24"), None, "eth0", 0, 2, 254, ip("10.0.0.1"), 253),
        LiveRoute("net1", net("0.0.0.0/0"), ip("10.0.0.254"), "eth0", 0, 4, 254, ip("10.0.0.1")),
        # in table 100, onlink by hand: not as declared
        LiveRoute("net1", net("10.8.0.0/16"), ip("10.0.0.9"), "eth0", 0, 4, 100, None, 0, True)]
    p = plan(t, st, rec)
    changes = p.changes
    assert rows(p) == [("delete", "route 10.8.0.0/16 via 10.0.0.9 dev eth0 table 100 in net1",
                        "onlink true -> false: removed first, added back after"),
                       ("create", "route 10.8.0.0/16 via 10.0.0.9 dev eth0 table 100 in net1",
                        "added back with its declared attributes")]
    # the deletion carries what its undo puts back: the route as it was, onlink
    # (and no kernel message to replay: the route has nothing a topology does not say)
    assert changes[0].op == ("route_del", ("net1", "10.8.0.0/16", "10.0.0.9", "eth0", 0, 100), (None, 0, True, "unicast", (), (), None, 4, None),
                             None)
    st.routes["net1"][1] = LiveRoute("net1", net("0.0.0.0/0"), ip("10.0.0.254"), "eth0", 0, 4)
    assert rows(plan(t, st, rec))[0] == ("delete", "route default via 10.0.0.254 in net1",
                                         "src none -> 10.0.0.1: removed first, added back after")
    # a src the file no longer gives goes, on a route that is not the kernel's own
    st.routes["net1"][1] = LiveRoute("net1", net("0.0.0.0/0"), ip("10.0.0.254"), "eth0", 0, 4, 254, ip("10.0.0.1"))
    t.routes[0] = t.routes[0].replace(src=None)
    assert rows(plan(t, st, rec))[0] == ("delete", "route default via 10.0.0.254 in net1",
                                         "src 10.0.0.1 -> none: removed first, added back after")


# ---- conflicts: vnet never takes over what is not its own ---------------------------

def test_unowned_device_with_a_declared_name_is_a_conflict(topo):
    devs = changed(applied_devices(), "br0", group=0)
    st, rec = applied(devs)
    with pytest.raises(PlanError) as e:
        plan(topo, st, rec)
    assert str(e.value) == ("lab.yaml: interfaces[2] (br0): device 'br0' exists and is not owned by topology 'lab' "
                            "(vnet never takes over a device it did not create)")


def test_recorded_name_without_our_tag_is_a_stranger(topo):
    """A device of the recorded name but without the topology's link group
    (say, made by someone else after a reboot) is not ours."""
    st, rec = applied(changed(applied_devices(), "eth0", group=12))
    with pytest.raises(PlanError, match=r"interfaces\[1\] \(veth1\): device 'net1/eth0' exists and is not owned"):
        plan(topo, st, rec)


def test_unowned_namespace_is_a_conflict(topo):
    st = make_state([eth9()], namespaces=(None, "net1"))
    with pytest.raises(PlanError) as e:
        plan(topo, st, Record("lab"))
    assert str(e.value) == "lab.yaml: namespace 'net1' exists and is not owned by topology 'lab'"


def test_missing_external_is_a_conflict(topo):
    st, rec = applied([d for d in applied_devices() if d.name != "eth9"])
    with pytest.raises(PlanError) as e:
        plan(topo, st, rec)
    assert str(e.value) == "lab.yaml: interfaces[4] (eth9): external device 'eth9' does not exist"


def test_every_conflict_is_reported(topo):
    st = make_state([device(None, "br0", "bridge", ours=False)], namespaces=(None, "net2"))
    with pytest.raises(PlanError) as e:
        plan(topo, st, Record("lab"))
    lines = str(e.value).splitlines()
    assert len(lines) == 3
    assert any("namespace 'net2' exists" in ln for ln in lines)
    assert any("device 'br0' exists" in ln for ln in lines)
    assert any("external device 'eth9' does not exist" in ln for ln in lines)


# ---- what a verification after apply must observe again ---------------------------

def test_touched_namespaces_of_a_change_are_its_objects_and_their_references(topo):
    from vnet.planner import touched_namespaces
    st, rec = applied(changed(applied_devices(), "br0", options={"stp": True}))
    assert touched_namespaces(plan(topo, st, rec)) == {None}
    st, rec = applied(changed(applied_devices(), "eth0", addresses=[]))
    assert touched_namespaces(plan(topo, st, rec)) == {"net1"}
    # a creation reaches every end of the pair and what it names (its master)
    st, rec = applied([d for d in applied_devices() if d.name not in ("veth1", "eth0")])
    assert touched_namespaces(plan(topo, st, rec)) == {None, "net1"}
    st, rec = applied()
    st.routes = {"net1": []}
    assert touched_namespaces(plan(topo, st, rec)) == {"net1"}


def test_a_deletion_has_everything_observed_again(topo):
    from vnet.planner import touched_namespaces
    st, rec = applied(applied_devices() + [device(None, "tap9", "tap")])
    assert touched_namespaces(plan(topo, st, rec)) is None
    st, rec = applied(changed(applied_devices(), "vx0", options={"vni": 99}))
    assert touched_namespaces(plan(topo, st, rec)) is None


# ---- a new device's own sysctls --------------------------------------------------

OWN = """
name: lab
namespaces: [net1, net2]
interfaces:
  - name: veth1
    kind: veth
    netns: net1
    peer: {name: veth2, netns: net2, up: false}
  - {name: mv0, kind: macvlan, netns: net1, link: veth1, mode: bridge}
sysctls:
  - {key: net.ipv4.ip_forward, value: 1}
  - {netns: net1, key: net.ipv6.conf.veth1.disable_ipv6, value: 1}
  - {netns: net2, key: net.ipv6.conf.veth2.addr_gen_mode, value: 1}
  - {netns: net1, key: net.ipv6.conf.all.forwarding, value: 1}
"""


def test_a_new_device_is_made_down_gets_its_own_sysctls_then_goes_up():
    """A sysctl set once the device is up comes too late for what the kernel
    does at up (IPv6 link-local address, duplicate address detection)."""
    p = plan(load_text(OWN, "own.yaml"), make_state([]), Record("lab"))
    assert rows(p) == [
        ("create", "netns net1", "does not exist"),
        ("create", "netns net2", "does not exist"),
        ("modify", "sysctl net.ipv4.ip_forward", "set 1"),   # before the devices: it sets every device's
        ("modify", "sysctl net.ipv6.conf.all.forwarding in net1", "set 1"),
        ("create", "link net1/veth1", "does not exist"),
        ("modify", "sysctl net.ipv6.conf.veth1.disable_ipv6 in net1", "set 1 on the new device before it goes up"),
        ("modify", "link net1/veth1", "up once its sysctls are set"),
        ("modify", "sysctl net.ipv6.conf.veth2.addr_gen_mode in net2", "set 1 on the new device before it goes up"),
        ("create", "link net1/mv0", "does not exist"),   # after its lower device is up
    ], "veth2 is declared down: its sysctl, and no up"
    made = p.changes[4].op[1]
    assert made.up is False and made.peer.up is False, "veth1 is created down"
    assert p.changes[6].op == ("dev_set", made.endpoints()[0].replace(up=True), {"up": True}, {"up": False})
    assert p.changes[8].op[1].up is True, "a device without sysctls of its own is created up"


def test_a_recreated_device_gets_its_own_sysctls_again():
    """The new device starts from the namespace's defaults, whatever the old one had."""
    topo = load_text(OWN.replace("mode: bridge", "mode: private"), "own.yaml")
    devs = [device("net1", "veth1", "veth", peer=("net2", "veth2")),
            device("net2", "veth2", "veth", peer=("net1", "veth1")),
            device("net1", "mv0", "macvlan", options={"mode": "bridge", "link": ("net1", "veth1")})]
    devs = changed(devs, "veth2", up=False)
    st = make_state(devs, namespaces=(None, "net1", "net2"), sysctls={
        (None, "net.ipv4.ip_forward"): "1", ("net1", "net.ipv6.conf.all.forwarding"): "1",
        ("net1", "net.ipv6.conf.veth1.disable_ipv6"): "1", ("net2", "net.ipv6.conf.veth2.addr_gen_mode"): "1"})
    rec = make_record(st, namespaces=["net1", "net2"])
    assert rows(plan(topo, st, rec)) == [("modify", "link net1/mv0", "mode bridge -> private")]
    # the pair re-created: its sysctls are set again although the old pair had them
    devs2 = changed(devs, "veth1", peer=("net2", "other"))
    rs = rows(plan(topo, make_state(devs2, namespaces=(None, "net1", "net2"), sysctls=st.sysctls), rec))
    assert rs[:4] == [
        ("recreate", "link net1/veth1", "peer is net2/other, declared net2/veth2"),
        ("modify", "sysctl net.ipv6.conf.veth1.disable_ipv6 in net1", "set 1 on the new device before it goes up"),
        ("modify", "link net1/veth1", "up once its sysctls are set"),
        ("modify", "sysctl net.ipv6.conf.veth2.addr_gen_mode in net2", "set 1 on the new device before it goes up"),
    ], rs


@pytest.mark.parametrize("key,dev", [
    ("net.ipv6.conf.veth2.disable_ipv6", "veth2"), ("net.ipv4.conf.br-0.rp_filter", "br-0"),
    ("net.ipv4.neigh.eth0.gc_stale_time", "eth0"), ("net.ipv6.conf.all.forwarding", None),
    ("net.ipv4.conf.default.rp_filter", None), ("net.ipv4.ip_forward", None), ("net.core.somaxconn", None)])
def test_which_sysctls_belong_to_a_device(key, dev):
    from vnet.topology.model import Sysctl
    assert Sysctl(key=key, value="1").device == dev


def test_a_device_left_with_the_undo_tag_is_tagged_ours_again(topo):
    """An undo killed between re-tagging its devices and deleting them leaves
    them with the undo tag: still the topology's, given its own tag back (a
    later undo in that namespace would delete them with its own devices)."""
    from vnet.ownership import undo_group
    st, rec = applied()
    st.namespaces[None]["br0"].group = undo_group(GROUP)
    assert rows(plan(topo, st, rec)) == [("modify", "link br0", f"group {undo_group(GROUP)} -> {GROUP}")]


# ---- port options of a port whose master exists already (external) -----------

SHARED = """
name: lab
interfaces:
  - {name: br9, kind: external}
  - {name: v0, kind: veth, master: br9, vlans: [{vid: 100, pvid: true, untagged: true}], hairpin: true,
     peer: {name: v1}}
"""


def test_port_options_of_an_existing_master_are_its_live_kinds():
    """The file cannot say what an external master is: the plan sets the
    port options as the live bridge's kind has them."""
    topo = load_text(SHARED, "lab.yaml")
    br = device(None, "br9", "bridge", ours=False, options={"vlan_filtering": True})
    changes = [c for c in plan(topo, make_state([br]), Record("lab")).changes if c.object.startswith("port ")]
    assert [(c.object, c.reason) for c in changes] == [
        ("port v0", "vlans default -> [100 pvid untagged], hairpin default -> true")], changes
    assert changes[0].op[2] is BY_NAME["bridge"]


@pytest.mark.parametrize("live,words", [
    (device(None, "br9", "bridge", ours=False, options={"vlan_filtering": False}),
     "v0: port.vlans: bridge 'br9' does not filter VLANs: set vlan_filtering: true on it"),
    (device(None, "br9", "veth", ours=False),
     "v0: hairpin, vlans: only for ports of a master that has it; existing 'br9' is a veth"),
])
def test_port_options_an_existing_master_does_not_take_are_a_conflict(live, words):
    with pytest.raises(PlanError) as e:
        plan(load_text(SHARED, "lab.yaml"), make_state([live]), Record("lab"))
    assert words in str(e.value)


def test_announced_namespaces_are_those_whose_every_change_the_kernel_announces(topo):
    """A link's or address's change, of a kind whose observation is its
    link messages: its namespace's verification may read only the devices
    announced. A route, a namespace made, a vxlan (its fdb is read
    elsewhere) or a deletion: read whole."""
    from vnet.planner import announced_namespaces
    st, rec = applied(changed(applied_devices(), "br0", options={"stp": True}))
    assert announced_namespaces(plan(topo, st, rec)) == {None}
    st, rec = applied(changed(applied_devices(), "eth0", addresses=[]))
    assert announced_namespaces(plan(topo, st, rec)) == {"net1"}
    st, rec = applied(changed(applied_devices(), "mv1", up=False))
    assert announced_namespaces(plan(topo, st, rec)) == {"net2"}
    st, rec = applied()
    st.routes = {"net1": []}
    assert announced_namespaces(plan(topo, st, rec)) == set()
    st, rec = applied(changed(changed(applied_devices(), "vx0", up=False), "br0", options={"stp": True}))
    assert announced_namespaces(plan(topo, st, rec)) == set()   # vnet's own namespace has a vxlan change too
    st, rec = applied(applied_devices() + [device(None, "tap9", "tap")])
    assert announced_namespaces(plan(topo, st, rec)) == set()


def test_a_bridges_vlan_options_are_verified_by_reading_the_namespace_whole():
    """The kernel moves a bridge's ports' VLANs with its vlan_default_pvid
    or vlan_filtering without a link announcement for the ports."""
    from vnet.planner import announced_namespaces
    topo = load_text(TOPO.replace("{name: br0, kind: bridge, stp: false,",
                                  "{name: br0, kind: bridge, stp: false, vlan_default_pvid: 5,"), "lab.yaml")
    p = plan(topo, *applied())
    assert [c.op[0] for c in p.changes] == ["dev_options"] and announced_namespaces(p) == set()


def test_a_scoped_plan_is_the_whole_plan_of_its_namespaces(topo):
    """A verification plans only the namespaces it observed again: there it
    finds what the whole plan finds, and nothing of the others (whose state
    it keeps from the plan that found no change for them)."""
    drifted = changed(changed(applied_devices(), "eth0", addresses=[]), "mv1", addresses=[])
    st, rec = applied(drifted)
    whole = [c.object for c in plan(topo, st, rec).changes]
    assert any("eth0" in o for o in whole) and any("mv1" in o for o in whole)
    assert [c.object for c in plan(topo, st, rec, scope={"net1"}).changes] == [o for o in whole if "eth0" in o]
    assert [c.object for c in plan(topo, st, rec, scope={"net2"}).changes] == [o for o in whole if "mv1" in o]
    # a pair with one end in scope is planned whole (its other end's drift too)
    st, rec = applied(changed(applied_devices(), "veth1", master=None))
    assert [c.object for c in plan(topo, st, rec, scope={"net1"}).changes] == \
        [c.object for c in plan(topo, st, rec).changes] != []
    assert plan(topo, st, rec, scope={"net2"}).changes == []


def test_a_scoped_plan_leaves_the_addresses_vnet_gave_elsewhere_alone():
    """Found by review: lo's addresses in a namespace out of scope read as no
    longer declared (the verification failed and the apply was undone)."""
    topo = load_text("""
name: lab
namespaces: [a, b]
interfaces:
  - {name: d0, kind: dummy, netns: a, mtu: 1400}
  - {name: lo, kind: external, netns: b, addresses: [10.9.9.9/32]}
""", "lab.yaml")
    lo_a = device("a", "lo", None, ours=False, addresses=[parse("127.0.0.1/8 brd 0.0.0.0")])   # as the kernel gives it
    lo_b = device("b", "lo", None, ours=False, addresses=[parse("127.0.0.1/8 brd 0.0.0.0"), cidr("10.9.9.9/32")])
    for mtu, whole in ((1500, ["link a/d0"]), (1400, [])):
        st = make_state([lo_a, lo_b, *changed([device("a", "d0", "dummy")], "d0", mtu=mtu)], namespaces=("a", "b"))
        rec = make_record(st, namespaces=["a", "b"])
        rec.addresses = [("b", "lo", "10.9.9.9/32")]
        assert [c.object for c in plan(topo, st, rec).changes] == whole
        assert [c.object for c in plan(topo, st, rec, scope={"a"}).changes] == whole
        assert [c.object for c in plan(topo, st, rec, scope={"a", "b"}, devices={("a", "d0")}).changes] == whole


def test_a_verification_plans_the_devices_changed_or_read_again(topo):
    """Of the namespaces a verification observed again, it plans the
    devices the changes touched and those read anew; the others are the
    objects the plan found as declared (lo's recorded addresses among them)."""
    from vnet.planner import verified_devices
    st, rec = applied(changed(applied_devices(), "veth1", master=None))
    first = plan(topo, st, rec)
    assert [c.object for c in first.changes] == ["link veth1"]
    after = make_state(list(st.devices()), namespaces=(None, "net1", "net2"), routes=st.routes, sysctls=st.sysctls)
    assert verified_devices(first, after, {None}) == {(None, "veth1")}
    # the kernel did not take the change: it is found again, the device read anew or not
    for devs in (first.state, after):
        keys = verified_devices(first, devs, {None})
        assert [c.object for c in plan(topo, devs, rec, scope={None}, devices=keys).changes] == ["link veth1"]
    # br0 read again, and drifted: planned; the ports kept as observed are not
    fixed = changed(applied_devices(), "br0", addresses=[])
    now = make_state([d if d.name != "veth1" else next(x for x in fixed if x.name == "veth1") for d in fixed],
                     namespaces=(None, "net1", "net2"), routes=st.routes, sysctls=st.sysctls)
    for d in now.devices():
        if d.name not in ("br0", "veth1") and first.state.device(*d.key) is not None:
            now.namespaces[d.netns][d.name] = first.state.device(*d.key)
    keys = verified_devices(first, now, {None})
    assert (None, "br0") in keys and (None, "vx0") not in keys
    assert [c.object for c in plan(topo, now, rec, scope={None}, devices=keys).changes] == \
        [c.object for c in plan(topo, now, rec).changes] == ["address 10.0.0.254/24 on br0"]


def test_a_verification_plans_the_ports_of_a_master_vnet_does_not_make_read_again():
    """What a port of an existing master takes is the live master's kind's:
    the master read again (made again by someone as another kind) has its
    ports planned again."""
    topo = load_text("""
name: lab
interfaces:
  - {name: brx, kind: external}
  - {name: p1, kind: veth, master: brx, cost: 5, peer: {name: p2}}
""", "lab.yaml")
    br = device(None, "brx", "bridge", ours=False)
    p1 = device(None, "p1", "veth", master=(None, "brx"), peer=(None, "p2"), port={"cost": 5})
    p2 = device(None, "p2", "veth", peer=(None, "p1"))
    st = make_state([br, p1, p2])
    rec = make_record(st)
    assert plan(topo, st, rec).changes == []
    again = make_state([device(None, "brx", "dummy", ours=False), p1, p2])
    with pytest.raises(PlanError):
        plan(topo, again, rec)
    with pytest.raises(PlanError, match="p1"):
        plan(topo, again, rec, scope={None}, devices={(None, "brx")})


def test_a_device_s_sysctl_is_set_again_after_a_namespace_key_that_sets_every_device_s():
    """Writing ip_forward sets every device's forwarding: the namespace's
    key is written before the devices' (and before any device is made), and
    a device's the file declares, as it is now, is written again after it."""
    topo = load_text("name: lab\ninterfaces:\n  - {name: v0, kind: veth, peer: {name: v1}}\nsysctls:\n"
                     "  - {key: net.ipv4.conf.v1.forwarding, value: '0'}\n  - {key: net.ipv4.ip_forward, value: '1'}\n"
                     "  - {key: net.ipv4.conf.v1.rp_filter, value: '1'}\n", "t.yaml")
    devs = [device(None, "v0", "veth", peer=(None, "v1")), device(None, "v1", "veth", peer=(None, "v0"))]
    st = make_state(devs, sysctls={(None, "net.ipv4.ip_forward"): "0", (None, "net.ipv4.conf.v1.forwarding"): "0",
                                   (None, "net.ipv4.conf.v1.rp_filter"): "1"})
    got = [(c.object, c.reason) for c in plan(topo, st, make_record(st)).changes if c.object.startswith("sysctl")]
    assert got == [("sysctl net.ipv4.ip_forward", "0 -> 1"),
                   ("sysctl net.ipv4.conf.v1.forwarding", "set 0 again: writing net.ipv4.ip_forward sets it")]
