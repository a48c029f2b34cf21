"""The CNI plugin's configuration read into a topology document: the
reference plugins' defaults where vnet's own kind defaults differ."""
import pytest

from vnet.cni import config
from vnet.cni.commands import Env

ENV = Env({"CNI_CONTAINERID": "c1", "CNI_NETNS": "/run/netns/c1", "CNI_IFNAME": "eth0"})


def container_iface(conf):
    net = config.read({"cniVersion": "1.0.0", "name": "n", "type": "vnet", **conf}, ENV)
    return net.doc["interfaces"][-1]


@pytest.mark.parametrize("conf,mode", [
    ({"kind": "ipvlan", "master": "eth1"}, "l2"),     # the reference ipvlan plugin's default (vnet's: l3)
    ({"kind": "ipvtap", "master": "eth1"}, "l2"),
    ({"master": "eth1", "mode": "l3"}, "l3"),
    ({"kind": "ipvlan", "master": "eth1", "mode": "l3s"}, "l3s"),
    ({"master": "eth1"}, "bridge"),                   # macvlan: the reference plugin's default (vnet's: vepa)
    ({"kind": "macvtap", "master": "eth1"}, "bridge"),
])
def test_the_reference_plugins_default_modes(conf, mode):
    it = container_iface(conf)
    assert it["mode"] == mode and it["link"] == {"name": "eth1"} and it["netns"] == "/run/netns/c1"


@pytest.mark.parametrize("kind,lower", [("macvlan", "link"), ("ipvlan", "link"), ("vlan", "link"),
                                        ("macvtap", "link"), ("ipvtap", "link"), ("macsec", "link"),
                                        ("vxlan", None), ("tap", None), ("dummy", None)])
def test_a_kind_that_needs_a_lower_device_takes_the_default_routes_without_a_master(kind, lower, monkeypatch):
    """As the reference macvlan, ipvlan and vlan plugins: no master named, the
    device of the host's IPv4 default route; the kinds are those whose lower
    device the kind's own schema requires (a VXLAN's is optional)."""
    monkeypatch.setattr(config, "_default_route_device", lambda: "uplink0")
    it = container_iface({"kind": kind, **({"vlanId": 5} if kind == "vlan" else {}),
                          **({"vni": 5} if kind == "vxlan" else {})})
    if lower:
        assert it[lower] == {"name": "uplink0"}
    else:
        assert not any(v == {"name": "uplink0"} or v == "uplink0" for v in it.values())


def test_unnamed_host_devices_are_named_for_their_kind():
    net = config.read({"cniVersion": "1.0.0", "name": "n", "type": "vnet", "interfaces": [
        {"kind": "bridge", "netns": "host"},
        {"kind": "veth", "name": "side0", "peer": {"master": {"name": "x"}}},
        {"kind": "vxcan", "peer": {}}]}, ENV)
    bridge, veth, vxcan = net.doc["interfaces"][-3:]
    assert bridge["name"].startswith("bridge") and len(bridge["name"]) == 14 and "netns" not in bridge
    assert veth["peer"]["name"].startswith("veth") and len(veth["peer"]["name"]) == 12
    assert vxcan["peer"]["name"].startswith("vxcan") and len(vxcan["peer"]["name"]) == 13
    assert len({bridge["name"][-8:], veth["peer"]["name"][-8:], vxcan["peer"]["name"][-8:]}) == 3


def test_link_in_container_names_a_device_of_the_container():
    """``linkInContainer``: the master is an existing device in the
    container (declared external there), not one of the host's."""
    net = config.read({"cniVersion": "1.0.0", "name": "n", "type": "vnet", "kind": "ipvtap", "master": "low0",
                       "linkInContainer": True}, ENV)
    assert net.doc["interfaces"] == [
        {"name": "low0", "kind": "external", "netns": "/run/netns/c1"},
        {"name": "eth0", "kind": "ipvtap", "netns": "/run/netns/c1", "link": "low0", "mode": "l2"}]
    from vnet.cni.commands import _topology
    topo = _topology(net, net.doc, ENV)   # valid: the ipvtap's lower device is in its namespace
    assert [(i.netns, i.name, i.kind) for i in topo.interfaces] == [
        ("/run/netns/c1", "low0", "external"), ("/run/netns/c1", "eth0", "ipvtap")]


@pytest.mark.parametrize("conf,vlans", [
    ({"vlan": 100}, [{"vid": 100, "pvid": True, "untagged": True}, {"vid": 1, "pvid": False, "untagged": True}]),
    ({"vlan": 100, "preserveDefaultVlan": False}, [{"vid": 100, "pvid": True, "untagged": True}]),
    ({"vlanTrunk": [{"id": 5}, {"minID": 10, "maxID": 12}]},
     [{"vid": 5}, {"vid": "10-12"}, {"vid": 1, "pvid": True, "untagged": True}]),
    ({"vlan": 1}, [{"vid": 1, "pvid": True, "untagged": True}]),
    ({}, None),
])
def test_a_bridge_port_keeps_the_default_vlan_as_the_reference_plugin(conf, vlans):
    """The reference bridge plugin's preserveDefaultVlan (default true)."""
    net = config.read({"cniVersion": "1.0.0", "name": "n", "type": "vnet", "bridge": "br0", **conf}, ENV)
    assert net.doc["interfaces"][-1]["peer"].get("vlans") == vlans
