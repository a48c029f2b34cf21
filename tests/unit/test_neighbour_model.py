"""Static and proxy neighbours without a kernel: the file's `neighbours:`
read into the model (and bad ones refused), the plan against observed and
recorded entries, the request vnet sends as pyroute2 reads it, and the
`ip neigh` lines of `vnet script`."""
import ipaddress

from pyroute2.netlink.rtnl.ndmsg import ndmsg

from vnet.kernel import neighbours as kn
from vnet.kernel import netlink as nl
from vnet.ownership import Record
from vnet.planner import plan
from vnet.render.iproute2 import script
from vnet.state import State
from vnet.topofile.loader import load_text
from vnet.topology.neighbour import Neighbour

TOPO = """name: lab
namespaces: [a]
interfaces:
  - {name: e0, kind: veth, netns: a, peer: {name: e1, netns: a}}
neighbours:
  - {netns: a, dev: e0, address: 10.0.0.2, lladdr: "02:00:00:00:00:AA"}
  - {netns: a, dev: e1, address: "fd00::2", lladdr: "02:00:00:00:00:bb"}
  - {netns: a, dev: e0, address: 10.0.0.50, proxy: true}
"""


# the plan's tests: neighbours on devices vnet does not make (the same whatever the devices' kinds)
PLANNED = """name: lab
interfaces:
  - {name: e0, kind: external}
  - {name: e1, kind: external}
neighbours:
  - {dev: e0, address: 10.0.0.2, lladdr: "02:00:00:00:00:aa"}
  - {dev: e1, address: "fd00::2", lladdr: "02:00:00:00:00:bb"}
  - {dev: e0, address: 10.0.0.50, proxy: true}
"""


def _state(entries):
    from vnet.state import Device
    st = State()
    st.namespaces = {None: {n: Device(netns=None, name=n, ifindex=i + 2, kernel_kind="dummy", up=True)
                            for i, n in enumerate(("e0", "e1"))}}
    st.neighbours = {None: list(entries)}
    return st


def _held(topo, **lladdr):
    return [Neighbour(netns=n.netns, dev=n.dev, address=n.address, lladdr=lladdr.get(str(n.address), n.lladdr),
                      proxy=n.proxy, nud=n.nud) for n in topo.neighbours]


def _rows(p):
    return [(c.action, c.object, c.reason) for c in p.changes if c.op[0].startswith("neigh")]


def test_the_file_s_neighbours_read_as_ip_neigh_takes_them():
    t = load_text(TOPO, "lab.yaml")
    assert [(n.key, n.lladdr) for n in t.neighbours] == [
        (("a", "e0", "10.0.0.2", False), "02:00:00:00:00:aa"), (("a", "e1", "fd00::2", False), "02:00:00:00:00:bb"),
        (("a", "e0", "10.0.0.50", True), None)]
    assert [ln for ln in script(t) if " neigh " in ln] == [
        "ip -n a neigh replace 10.0.0.2 lladdr 02:00:00:00:00:aa dev e0 nud permanent",
        "ip -n a neigh replace fd00::2 lladdr 02:00:00:00:00:bb dev e1 nud permanent",
        "ip -n a neigh replace proxy 10.0.0.50 dev e0"]


def test_the_plan_makes_what_is_missing_and_puts_a_changed_mac_back():
    t = load_text(PLANNED, "lab.yaml")
    rec = Record("lab")
    assert plan(t, _state(_held(t)), rec).changes == []
    st = _state(_held(t, **{"10.0.0.2": "02:00:00:00:00:99"})[:2])
    assert _rows(plan(t, st, rec)) == [
        ("modify", "neighbour 10.0.0.2 dev e0", "lladdr 02:00:00:00:00:99 -> 02:00:00:00:00:aa"),
        ("create", "proxy neighbour 10.0.0.50 dev e0", "missing")]


def test_an_entry_vnet_made_and_no_longer_declared_goes_and_someone_else_s_stays():
    t = load_text(PLANNED, "lab.yaml")
    gone = load_text(PLANNED.split("  - {dev: e0, address: 10.0.0.2")[0]
                     + "  - {dev: e0, address: 10.0.0.50, proxy: true}\n", "lab.yaml")
    someones = Neighbour(netns=None, dev="e1", address=ipaddress.ip_address("10.0.0.9"), lladdr="02:00:00:00:00:09")
    rec = Record("lab", {"neighbours": [list(n.key) for n in t.neighbours]})
    p = plan(gone, _state(_held(t) + [someones]), rec)
    assert _rows(p) == [("delete", "neighbour fd00::2 dev e1", "no longer declared"),
                        ("delete", "neighbour 10.0.0.2 dev e0", "no longer declared")]


def test_bad_neighbours_are_refused_naming_the_field():
    import pytest
    from vnet.errors import SpecError
    bad = TOPO.split("neighbours:")[0] + """neighbours:
  - {netns: a, dev: e0, address: 10.0.0.2}
  - {netns: a, dev: e0, address: 10.0.0.3, lladdr: "02:00:00:00:00:01", proxy: true}
  - {netns: a, dev: e9, address: 10.0.0.4, lladdr: "02:00:00:00:00:01"}
  - {netns: a, dev: e0, address: 224.0.0.1, lladdr: "02:00:00:00:00:01"}
  - {netns: a, dev: e0, address: 10.0.0.5, mac: "02:00:00:00:00:01"}
  - {netns: a, dev: e0, address: 10.0.0.6, lladdr: "02:00:00:00:00:01"}
  - {netns: a, dev: e0, address: 10.0.0.6, lladdr: "02:00:00:00:00:02"}
"""
    with pytest.raises(SpecError) as e:
        load_text(bad, "lab.yaml")
    assert str(e.value).splitlines() == [
        "lab.yaml: neighbours[0].lladdr: is required: the neighbour's MAC (a proxy entry, proxy: true, has none)",
        "lab.yaml: neighbours[1].lladdr: a proxy entry has no lladdr: this host answers for the address with its own MAC",
        "lab.yaml: neighbours[3].address: 224.0.0.1 is a multicast address: a neighbour's is another host's unicast "
        "address",
        "lab.yaml: neighbours[4].mac: unknown field (the file's word for it is 'lladdr')",
        "lab.yaml: neighbours[6]: the same neighbour as neighbours[5]: a device has one entry per address",
        "lab.yaml: neighbours[2].dev: device 'e9' in namespace a is neither declared nor external"]


def test_what_vnet_sends_decodes_in_pyroute2():
    sent = []

    class Sock:
        def request(self, t, body, flags=0):
            sent.append((t, body, flags))
    kn.set_neighbour(Sock(), 7, ipaddress.ip_address("fd00::2"), "02:00:00:00:00:bb")
    kn.set_neighbour(Sock(), 7, ipaddress.ip_address("10.0.0.50"), None, proxy=True)
    kn.del_neighbour(Sock(), 7, ipaddress.ip_address("10.0.0.50"), proxy=True)
    got = []
    for t, body, flags in sent:
        m = ndmsg(nl._HDR.pack(16 + len(body), t, flags, 1, 0) + body)
        m.decode()
        got.append((t, m["family"], m["ifindex"], m["state"], m["flags"], m.get_attr("NDA_DST"),
                    m.get_attr("NDA_LLADDR"), bool(flags & nl.F_REPLACE)))
    assert got == [(28, 10, 7, 0x80, 0, "fd00::2", "02:00:00:00:00:bb", True),
                   (28, 2, 7, 0x80, 0x08, "10.0.0.50", None, True),
                   (29, 2, 7, 0x80, 0x08, "10.0.0.50", None, False)]
