"""A bridge port's static forwarding entries (`fdb`) without a kernel: read
from the file, compared as the plan compares them (order, case and a left
out `permanent` do not matter), said in `bridge fdb` words by `vnet script`
and `vnet show`, refused where a bridge would never hold them, and the
requests vnet sends as pyroute2 reads them."""
import pytest
from pyroute2.netlink.rtnl.ndmsg import ndmsg

from vnet.errors import SpecError
from vnet.kernel import neighbours as kn
from vnet.kernel import netlink as nl
from vnet.kinds import get
from vnet.render.iproute2 import script
from vnet.topofile.loader import load_text

TOPO = """name: lab
namespaces: [sw]
interfaces:
  - {name: br0, kind: bridge, netns: sw}
  - {name: pa, kind: veth, netns: sw, master: br0,
     fdb: [{mac: "02:00:00:00:0A:01"}, {mac: "02:00:00:00:0e:01", permanent: true}], peer: {name: qa, netns: sw}}
"""


def _port(text=TOPO):
    t = load_text(text, "lab.yaml")
    return next(i for i in t.interfaces if i.name == "pa")


def test_a_port_s_entries_read_compare_and_say_as_bridge_fdb_does():
    br = get("bridge")
    pa = _port()
    assert pa.port["fdb"] == [{"mac": "02:00:00:00:0a:01", "permanent": False},
                              {"mac": "02:00:00:00:0e:01", "permanent": True}]
    observed = [{"mac": "02:00:00:00:0e:01", "permanent": True}, {"mac": "02:00:00:00:0a:01"}]
    assert br.port_state({"fdb": observed}) == br.port_state(pa.port)
    assert br.port_state({"fdb": None}) == {"fdb": []} != br.port_state(pa.port)
    assert br.describe_port("fdb", pa.port["fdb"]) == "[02:00:00:00:0a:01 static, 02:00:00:00:0e:01 permanent]"
    assert [ln for ln in script(load_text(TOPO, "lab.yaml")) if " fdb " in ln] == [
        "bridge -n sw fdb replace 02:00:00:00:0a:01 dev pa master static",
        "bridge -n sw fdb replace 02:00:00:00:0e:01 dev pa master permanent"]
    assert br.show_port(pa.port)[1] == ["fdb 02:00:00:00:0a:01 static", "fdb 02:00:00:00:0e:01 permanent"]


@pytest.mark.parametrize("entries, said", [
    ('[{mac: "02:00:00:00:0a:01"}, {mac: "02:00:00:00:0A:01"}]', "interfaces[1] (pa).fdb[1]: 02:00:00:00:0a:01 is listed twice"),
    ('[{mac: "02:00:00:00:0a:01", vlan: 10}]', "interfaces[1] (pa).fdb[0].vlan: bridge 'br0' does not filter VLANs"),
    ('[{mac: "02:00:00:00:0a:01", vlan: 4095}]', "interfaces[1] (pa).fdb[0].vlan:"),
    ('[{mac: "33:33:00:00:00:01"}]', "interfaces[1] (pa).fdb[0].mac: '33:33:00:00:00:01' is a multicast address"),
    ('[{vlan: 1}]', "interfaces[1] (pa).fdb[0].mac:"),
])
def test_entries_a_bridge_would_never_hold_are_refused_naming_the_field(entries, said):
    text = TOPO.replace('fdb: [{mac: "02:00:00:00:0A:01"}, {mac: "02:00:00:00:0e:01", permanent: true}]',
                        f"fdb: {entries}")
    with pytest.raises(SpecError) as e:
        load_text(text, "lab.yaml")
    assert said in str(e.value), str(e.value)


def test_one_mac_on_two_ports_of_a_bridge_is_refused():
    text = TOPO + '  - {name: pb, kind: veth, netns: sw, master: br0, fdb: [{mac: "02:00:00:00:0a:01"}], ' \
                  'peer: {name: qb, netns: sw}}\n'
    with pytest.raises(SpecError) as e:
        load_text(text, "lab.yaml")
    assert "interfaces[2] (pb).fdb[0]: 02:00:00:00:0a:01 is an entry of sw/pa already" in str(e.value)


def test_what_vnet_sends_decodes_in_pyroute2():
    sent = []

    class Sock:
        def request(self, t, body, flags=0):
            sent.append((t, body, flags))
    kn.set_bridge_static(Sock(), 7, "02:00:00:00:0a:01")
    kn.set_bridge_static(Sock(), 7, "02:00:00:00:0e:01", 10, permanent=True)
    kn.del_bridge_static(Sock(), 7, "02:00:00:00:0e:01", 10)
    got = []
    for t, body, flags in sent:
        m = ndmsg(nl._HDR.pack(16 + len(body), t, flags, 1, 0) + body)
        m.decode()
        got.append((t, m["family"], m["ifindex"], m["state"], m["flags"], m.get_attr("NDA_LLADDR"),
                    m.get_attr("NDA_VLAN"), bool(flags & nl.F_REPLACE)))
    assert got == [(28, 7, 7, 0x40, 0x04, "02:00:00:00:0a:01", None, True),
                   (28, 7, 7, 0x80, 0x04, "02:00:00:00:0e:01", 10, True),
                   (29, 7, 7, 0x40, 0x04, "02:00:00:00:0e:01", 10, False)]


@pytest.mark.parametrize("bridge, port, said", [
    ("{name: br0, kind: bridge, netns: sw}", 'mac: "02:00:00:00:0a:01", fdb: [{mac: "02:00:00:00:0a:01"}]',
     "interfaces[1] (pa).fdb[0].mac: 02:00:00:00:0a:01 is the MAC of sw/pa: its entry is the kernel's own"),
    ('{name: br0, kind: bridge, netns: sw, mac: "02:00:00:00:00:b0"}', 'fdb: [{mac: "02:00:00:00:00:b0"}]',
     "interfaces[1] (pa).fdb[0].mac: 02:00:00:00:00:b0 is the MAC of sw/br0: its entry is the kernel's own"),
    ("{name: br0, kind: bridge, netns: sw, vlan_filtering: true}", 'fdb: [{mac: "02:00:00:00:0a:01"}]',
     "interfaces[1] (pa).fdb[0]: bridge 'br0' filters VLANs: give the entry's vlan"),
    ("{name: br0, kind: bridge, netns: sw, vlan_filtering: true}",
     'vlans: [{vid: 10}], fdb: [{mac: "02:00:00:00:0a:01", vlan: 20}]',
     "interfaces[1] (pa).fdb[0].vlan: VLAN 20 is not one of the port's vlans"),
])
def test_entries_the_kernel_owns_or_would_spread_over_vlans_are_refused(bridge, port, said):
    text = (f"name: lab\nnamespaces: [sw]\ninterfaces:\n  - {bridge}\n"
            f"  - {{name: pa, kind: veth, netns: sw, master: br0, {port}, peer: {{name: qa, netns: sw}}}}\n")
    with pytest.raises(SpecError) as e:
        load_text(text, "lab.yaml")
    assert said in str(e.value), str(e.value)
