"""`vnet show`'s rows from observed devices, without a kernel: each kind's
iproute2 words, nested values on lines of their own and only once, the
state as `ip link` writes it, no Python repr anywhere."""
import ipaddress

from vnet.state import Device
from vnet.kinds import BY_NAME
from vnet.kinds.macsec import MASKED
from vnet.render.show import route_dict, route_line, rows


def dev(name, kind, options=None, ns=None, **kw):
    return Device(ns, name, 1, kind, BY_NAME[kind], options=options or {}, **kw)


def row(d, among=None):
    (cells, below), = rows([d], among)
    return cells, below


def test_bridge_words_and_a_port_s_vlans_below_it():
    br = dev("br0", "bridge", {"stp": False, "vlan_filtering": True, "ageing_time": 300, "forward_delay": 15,
                               "priority": 32768}, operstate="UP", carrier=True)
    port = dev("v1", "veth", master=(None, "br0"), operstate="UP", carrier=True,
               port={"hairpin": True, "vlans": [{"vid": 10, "pvid": True, "untagged": True},
                                                 {"vid": 100, "pvid": False, "untagged": False},
                                                 {"vid": 101, "pvid": False, "untagged": False}]})
    cells, below = row(br)
    assert cells[8] == "forward_delay 1500 ageing_time 30000 stp_state 0 priority 32768 vlan_filtering 1"
    (cells, below), = rows([port], [br, port])
    assert cells[8] == "hairpin on" and below == ["vlan 10 PVID Egress Untagged", "vlan 100-101"]


def test_macsec_sas_once_keys_masked():
    sa = {"an": 0, "pn": 1, "key_id": "01", "active": True, "key": MASKED}
    d = dev("macsec0", "macsec", {"link": (None, "eth0"), "sci": "5254001234560001", "port": 1, "protect": True,
                                  "cipher": "gcm-aes-128", "icv_len": 16, "encrypt": True, "send_sci": True,
                                  "end_station": False, "scb": False, "replay_protect": False,
                                  "validate": "strict", "tx": {**sa, "others": []},
                                  "rx": [{"sci": "5254009876540001", "sas": [{**sa, "key_id": "02"}]}]},
            extra={"sci": "5254001234560001", "tx_sas": ["0 key 01 *** pn 1"],
                   "rx_channels": {"5254009876540001": ["0 key 02 *** pn 1"]}})
    cells, below = row(d)
    assert cells[8] == ("link eth0 sci 5254001234560001 protect on cipher GCM-AES-128 icvlen 16 encrypt on "
                        "send_sci on end_station off scb off replay off validate strict encodingsa 0")
    assert below == ["tx sa 0 pn 1 on key 01 ***", "rx sci 5254009876540001 sa 0 pn 1 on key 02 ***"]
    assert "{" not in " ".join(cells[8:] + below) and "'" not in " ".join(cells[8:] + below)


def test_vlan_flags_after_its_id_and_qos_maps():
    d = dev("eth0.2", "vlan", {"id": 2, "protocol": "802.1Q", "link": (None, "eth0"), "reorder_hdr": True,
                               "loose_binding": False, "ingress_qos_map": ["1:3"], "egress_qos_map": []})
    assert row(d)[0][8] == "link eth0 protocol 802.1Q id 2 <REORDER_HDR> ingress-qos-map { 1:3 }"


def test_vxlan_fdb_below_and_ttl_auto():
    d = dev("vx0", "vxlan", {"vni": 100, "remote": ipaddress.ip_address("10.0.0.2"), "dev": ("n1", "eth0"),
                             "dstport": 4789, "ttl": 0, "learning": False,
                             "fdb": [{"mac": "00:00:00:00:00:00", "dst": ipaddress.ip_address("10.0.0.3")}]})
    cells, below = row(d)
    assert cells[8] == "id 100 remote 10.0.0.2 dev n1/eth0 dstport 4789 nolearning ttl auto"
    assert below == ["fdb 00:00:00:00:00:00 dst 10.0.0.3"]


def test_macvtap_device_node_and_ipvlan_flags():
    d = dev("mvt0", "macvtap", {"link": (None, "eth0"), "mode": "vepa"},
            extra={"tap_device": "/dev/tap7", "tap_devnum": "240:1"})
    assert row(d)[0][8] == "link eth0 mode vepa /dev/tap7"
    d = dev("ipv0", "ipvlan", {"link": (None, "eth0"), "mode": "l2", "flags": "bridge"})
    assert row(d)[0][8] == "link eth0 mode l2 bridge"


def test_bond_words_and_active_slave():
    d = dev("bond0", "bond", {"mode": "active-backup", "miimon": 100, "primary": (None, "eth0")},
            extra={"active_port": "eth1"})
    assert row(d)[0][8] == "mode active-backup miimon 100 primary eth0 active_slave eth1"


def test_state_is_the_kernel_s():
    assert row(dev("tap0", "tap", up=True, operstate="DOWN", carrier=False))[0][3] == "DOWN (NO-CARRIER)"
    assert row(dev("tap0", "tap", up=False, operstate="DOWN", carrier=False))[0][3] == "DOWN"
    assert row(dev("br0", "bridge", up=True, operstate="UNKNOWN", carrier=True))[0][3] == "UNKNOWN"


def test_routes_as_ip_route_writes_them():
    from vnet.state import Route
    net, ip = ipaddress.ip_network, ipaddress.ip_address
    r = route_dict("n1", Route("n1", net("0.0.0.0/0"), ip("10.0.0.254"), "eth0", 0, 4))
    assert r == {"netns": "n1", "dst": "default", "gateway": "10.0.0.254", "dev": "eth0", "protocol": "static"}
    assert route_line(r) == "default via 10.0.0.254 dev eth0 proto static"
    r = route_dict(None, Route(None, net("fe80::/64"), None, "br0", 256, 2))
    assert route_line(r) == "fe80::/64 dev br0 proto kernel metric 256"
    r = route_dict(None, Route(None, net("10.1.0.0/16"), None, "br0", 0, 3))
    assert route_line(r) == "10.1.0.0/16 dev br0"   # proto boot: ip route leaves it out
    r = route_dict(None, Route(None, net("10.42.0.0/16"), None, "e1", 0, 3, table=100, src=ip("10.31.0.1"),
                               scope=253))
    assert route_line(r) == "10.42.0.0/16 dev e1 table 100 scope link src 10.31.0.1"
    r = route_dict(None, Route(None, net("10.43.0.0/16"), ip("192.0.2.1"), "e0", 0, 3, onlink=True))
    assert route_line(r) == "10.43.0.0/16 via 192.0.2.1 dev e0 onlink"
    r = route_dict("a", Route("a", net("10.52.0.0/24"), None, "lo", 0, 3, 255, None, 254, type="local"))
    assert r["type"] == "local" and route_line(r) == "local 10.52.0.0/24 dev lo table 255 scope host"
    r = route_dict("a", Route("a", net("::/0"), ip("fd01::2"), "isp1", 1024, 3, source=net("fd00:aaaa::/48")))
    assert r["from"] == "fd00:aaaa::/48" and route_line(r) == "default from fd00:aaaa::/48 via fd01::2 dev isp1 metric 1024"


def test_a_proxy_neighbour_for_no_device_is_shown_without_one(capsys):
    from vnet.render.show import print_show
    print_show("t", [], [], [], [], [], [{"netns": None, "dev": None, "address": "10.0.0.60", "lladdr": None,
                                          "proxy": True},
                                         {"netns": "a", "dev": "e0", "address": "10.0.0.2",
                                          "lladdr": "02:00:00:00:00:02", "proxy": False}])
    out = capsys.readouterr().out
    assert "host   proxy 10.0.0.60\n" in out and "a      10.0.0.2 dev e0 lladdr 02:00:00:00:00:02 PERMANENT" in out, out


def test_a_peer_in_a_namespace_vnet_does_not_read_is_named_by_its_id():
    """A pair's other end moved by hand to a namespace vnet does not read:
    the observer knows it by the namespace's id only ("?", nsid); show and
    the plan's reason name it so, never as a Python tuple."""
    from vnet.topology.model import where
    v1 = dev("v1", "veth", peer=(("?", 1), "if2"))
    cells, _below = row(v1)
    assert cells[6] == "netnsid1/if2"
    assert where(("?", 1), "if2") == "if2 in a namespace vnet does not read (netns id 1)"
