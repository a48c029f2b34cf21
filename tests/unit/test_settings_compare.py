"""The comparison behind `vnet export`'s naming of settings a file would
lose (vnet.export_settings): a link message read into Settings (checked
against a message pyroute2 encodes), and which differences are named, in
which words, and which are the kernel's state rather than settings."""
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

from vnet.export_settings import _differences
from vnet.kernel import settings as ks
from vnet.kinds import get


def _message(attrs, flags=0):
    m = ifinfmsg()
    m["index"], m["flags"], m["change"] = 7, flags, 0
    m["attrs"] = attrs
    m.encode()
    return bytes(m.data)[16:]   # the payload after the netlink header, as a dump gives it


def test_a_link_message_is_read_into_its_settings():
    msg = _message([("IFLA_IFNAME", "br0"), ("IFLA_NUM_TX_QUEUES", 4), ("IFLA_GSO_MAX_SIZE", 30000),
                    ("IFLA_GROUP", 7),
                    ("IFLA_LINKINFO", {"attrs": [("IFLA_INFO_KIND", "bridge"),
                                                 ("IFLA_INFO_DATA", {"attrs": [("IFLA_BR_MCAST_IGMP_VERSION", 3)]})]}),
                    ("IFLA_AF_SPEC", {"attrs": [("AF_INET6", {"attrs": [("IFLA_INET6_ADDR_GEN_MODE", 1)]})]})],
                   flags=0x8000 | 0x1)
    s = ks.decode(msg)
    assert (s.ifindex, s.name) == (7, "br0")
    assert s.link == {"numtxqueues": 4, "gso_max_size": 30000, "group": 7, "flags": 0x8000, "addrgenmode": 1}
    assert s.data == {43: b"\x03"} and s.port == {}


def _s(link=None, data=None, port=None):
    return ks.Settings(1, "x", {"flags": 0, **(link or {})}, data or {}, port or {})


def test_a_difference_is_named_in_iproute2_words_with_both_values():
    br = get("bridge")
    lines = _differences("bridge h/br0", br, None, _s({"numtxqueues": 4}, {43: b"\x03", 1: b"\x96\0\0\0"}),
                         _s({"numtxqueues": 1}, {43: b"\x02", 1: b"\xc8\0\0\0"}))
    assert lines == ["left out the numtxqueues 4 of bridge h/br0 (made from the file: 1)",
                     "left out the forward_delay 150 of bridge h/br0 (made from the file: 200)",
                     "left out the mcast_igmp_version 3 of bridge h/br0 (made from the file: 2)"]


def test_state_references_and_vnet_s_own_group_are_not_settings():
    br, vx = get("bridge"), get("vxlan")
    # a bridge's hello timer and bridge id, a port's STP state: the kernel's state
    assert _differences("b", br, br, _s(data={16: b"\x01\0", 11: b"\x80\0ab"}, port={1: b"\x03"}),
                        _s(data={16: b"\0\0", 11: b"\x80\0cd"}, port={1: b"\0"})) == []
    # a VXLAN's lower device: an index of another namespace (the export writes it as `dev`)
    assert _differences("v", vx, None, _s(data={3: b"\x05\0\0\0"}), _s(data={3: b"\x02\0\0\0"})) == []
    # vnet's tag of a topology's devices, and its undo's
    assert _differences("v", vx, None, _s({"group": 0x76123456}), _s({"group": 0})) == []
    assert _differences("v", vx, None, _s({"group": 0x77123456}), _s({"group": 0})) == []
    assert _differences("v", vx, None, _s({"group": 7}), _s({"group": 0})) == [
        "left out the group 7 of v (made from the file: vnet's own tag)"]


def test_port_settings_addrgenmode_flags_and_unknown_attributes_are_named():
    br, mv = get("bridge"), get("macvlan")
    # an attribute vnet has no word for is named where both have it; one the
    # kernel reports of one of them only (in some states only) is not a setting
    assert _differences("veth h/va", mv, br, _s({"addrgenmode": 1, "flags": 0x8000}, {99: b"\x01", 98: b"\x01"},
                                                {28: b"\x01", 60: b"\x00"}),
                        _s({"addrgenmode": 0}, {99: b"\x00"}, {28: b"\x00"})) == [
        "left out the addrgenmode none of veth h/va (made from the file: eui64)",
        "left out the flags dynamic of veth h/va (made from the file: none of debug, trailers off, dynamic)",
        "left out the macvlan attribute 99 1 of veth h/va (made from the file: 0)",
        "left out the port setting mcast_to_unicast 1 of veth h/va (made from the file: 0)"]
    # a setting it has a word for is named where one of them lacks it (a backup port set by hand)
    assert _differences("veth h/va", mv, br, _s(port={34: b"\x05\0\0\0"}), _s()) == [
        "left out the port setting backup_port device 5 of veth h/va (made from the file: none)"]


def test_masked_macsec_keys_get_stand_ins_of_their_cipher_s_length():
    item = {"name": "m0", "kind": "macsec", "link": "e0", "cipher": "gcm-aes-256",
            "tx": {"an": 0, "key_id": "01", "key": "***"},
            "rx": [{"sci": "0200000000010001", "sas": [{"an": 0, "key_id": "02", "key": "***"}]}]}
    got = get("macsec").unmasked(item)
    assert got["tx"]["key"] == got["rx"][0]["sas"][0]["key"] == "00" * 32
    assert item["tx"]["key"] == "***" and get("bridge").unmasked({"name": "b"}) == {"name": "b"}


def test_values_read_as_their_kind_encodes_them():
    vx, br = get("vxlan"), get("bridge")
    assert vx.setting_text(15, b"\x12\xb5") == "4789"                 # dstport: big-endian (an option)
    assert vx.setting_text(10, b"\x03\xe8\x07\xd0") == "1000 2000"  # srcport: a range, big-endian
    assert vx.setting_text(26, b"\x00\x00\x00\x05") == "5"          # flowlabel: big-endian
    assert vx.setting_text(23, b"") == "on" and vx.setting_text(29, b"\x02") == "inherit"
    assert br.setting_text(43, b"\x03") == "3" and br.setting_text(43, None) == "none"
    assert br.setting_text(5, b"\x01\x00\x00\x00") == "1"           # stp: an option's u32


def test_a_route_s_metrics_and_realm_read_and_written_as_the_kernel_has_them():
    from pyroute2.netlink.rtnl.rtmsg import rtmsg
    from vnet.kernel import netlink as nl
    from vnet.kernel import rtnl
    m = rtmsg()
    m["family"], m["dst_len"], m["table"], m["type"] = 2, 24, 254, 1
    m["attrs"] = [("RTA_DST", "10.9.0.0"), ("RTA_FLOW", 3),
                  ("RTA_METRICS", {"attrs": [("RTAX_LOCK", 1 << 2), ("RTAX_MTU", 1400), ("RTAX_RTT", 800),
                                             ("RTAX_INITCWND", 10), ("RTAX_CC_ALGO", "cubic")]})]
    m.encode()
    a = nl.parse(bytes(m.data)[16:], 12)
    # the metrics a topology declares are the route's own (in a file's units: ms), the rest extras
    assert rtnl.route_metrics(a) == (("congctl", "cubic", False), ("initcwnd", 10, False), ("mtu", 1400, True),
                                     ("rtt", 100, False))
    assert rtnl._route_extras(a) == "realm 3"
    assert rtnl._route_extras({}) == "" and rtnl.route_metrics({}) == ()
    # and a route's request carries them back as the kernel gave them
    sent = nl.parse(rtnl._metrics_attr(rtnl.route_metrics(a)))
    assert rtnl.route_metrics(sent) == rtnl.route_metrics(a)
    assert nl.parse(sent[rtnl.RTA_METRICS]) == nl.parse(a[rtnl.RTA_METRICS])
