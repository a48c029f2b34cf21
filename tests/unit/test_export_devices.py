"""Devices as an export writes them: an MTU where it is not the one the
kernel gives a new device of the kind (a device on a lower device takes
the lower's), a bridge's MAC only where someone set it."""
from vnet.export import export
from vnet.kinds import BY_NAME
from vnet.state import Device, State


def dev(name, kind, mtu=1500, mac="02:00:00:00:00:01", **kw):
    return Device(netns=None, name=name, ifindex=dev.n, kernel_kind=kind, kind_module=BY_NAME[kind], mtu=mtu, mac=mac,
                  **kw)


dev.n = 2


def _state(*devs):
    st = State()
    st.namespaces = {None: {d.name: d for d in devs}}
    return st


def _docs(st, **kw):
    return {d["name"]: d for d in export(st, **kw)["interfaces"]}


def test_a_device_on_a_lower_device_writes_its_mtu_where_it_is_not_the_lowers():
    lower = dev("up0", "tap", mtu=9000, options={"multi_queue": False, "vnet_hdr": False})
    for mtu, written in ((1500, 1500), (9000, None), (1400, 1400)):
        mv = dev("mv0", "macvlan", mtu=mtu, mac="02:00:00:00:00:02",
                 options={"mode": "bridge", "link": (None, "up0"), "bcqueuelen": 1000})
        docs = _docs(_state(lower, mv))
        assert docs["mv0"].get("mtu") == written, mtu
        assert docs["up0"]["mtu"] == 9000
    tap = dev("t0", "tap", options={"multi_queue": False, "vnet_hdr": False})
    assert "mtu" not in _docs(_state(tap))["t0"]



def test_a_can_device_writes_its_mtu_where_it_is_not_can_fds():
    # the kernel makes a vcan or vxcan with CAN FD's 72; classic CAN's 16 and CAN XL's are written
    for mtu, written in ((72, None), (16, 16), (1500, 1500)):
        assert _docs(_state(dev("c0", "vcan", mtu=mtu, mac=None)))["c0"].get("mtu") == written, mtu


def test_a_bridges_mac_is_written_only_where_someone_set_it():
    br = dev("br0", "bridge", options={"stp": False})
    assert _docs(_state(br), set_by_hand={(None, "br0"): True})["br0"]["mac"] == "02:00:00:00:00:01"
    assert "mac" not in _docs(_state(br), set_by_hand={(None, "br0"): False})["br0"]
    assert _docs(_state(br))["br0"]["mac"] == "02:00:00:00:00:01"   # not known: as before, its own unless a port's


def test_a_device_made_without_arp_keeps_the_kernels_own_no_dad_out_of_an_export():
    # IPv6 gives a device made without ARP (dummy, CAN, a VLAN on one...) accept_dad -1 of its own accord,
    # whatever its flags later
    from vnet.export import changed_sysctls
    fresh = {"net.ipv6.conf.default.accept_dad": "1"}
    key = "net.ipv6.conf.{}.accept_dad"
    opts = {"link": (None, "dm0"), "id": 7, "protocol": "802.1Q", "reorder_hdr": True, "loose_binding": False}
    for kind, arp, value, written in (("dummy", False, "-1", False), ("dummy", True, "-1", False),
                                      ("dummy", False, "1", True), ("tap", True, "-1", True), ("tap", False, "1", False),
                                      ("vlan", False, "-1", True), ("vlan", True, "1", False)):
        # (the VLAN's lower has ARP, as someone set it after making the dummy)
        d = dev("d0", kind, arp=arp, options=opts if kind == "vlan" else {"multi_queue": False, "vnet_hdr": False})
        st = _state(dev("dm0", "dummy", arp=True), d)
        st.sysctls = {(None, key.format("d0")): value}
        assert changed_sysctls(st, [None], fresh) == ([(None, key.format("d0"))] if written else []), (kind, arp, value)


def test_a_vlan_writes_the_flags_where_they_are_not_its_lower_devices():
    # the kernel makes a VLAN with its lower device's ARP and multicast flags (vlan_dev_init)
    lower = dev("dm0", "dummy", arp=False, multicast=False)
    opts = {"link": (None, "dm0"), "id": 7, "protocol": "802.1Q", "reorder_hdr": True, "loose_binding": False}
    for arp, multicast, written in ((False, False, {}), (False, True, {"multicast": True}),
                                    (True, False, {"arp": True})):
        vl = dev("vl0", "vlan", mac="02:00:00:00:00:07", arp=arp, multicast=multicast, options=opts)
        doc = _docs(_state(lower, vl))["vl0"]
        assert {f: doc[f] for f in ("arp", "multicast") if f in doc} == written, (arp, multicast)


def test_a_bonds_port_writes_its_mtu_where_it_is_not_the_bonds():
    # the bond gives a joining port its own MTU: a port at 1500 under a bond at 9000 is written
    bond = dev("bo0", "bond", mtu=9000, options={"mode": "active-backup"})
    for mtu, written in ((1500, 1500), (9000, None), (1280, 1280)):
        port = dev("d0", "dummy", mtu=mtu, mac="02:00:00:00:00:02", master=(None, "bo0"))
        assert _docs(_state(bond, port))["d0"].get("mtu") == written, mtu


def test_a_device_s_sysctl_is_written_where_it_differs_from_what_the_namespace_s_keys_give_it():
    # ip_forward sets default's and every device's forwarding: a device that does not forward on a router is
    # written, one that does is not; a `default` written is what a device made later starts with
    from vnet.kernel.sysctl import changed
    fresh = {"net.ipv4.ip_forward": "0", "net.ipv4.conf.default.forwarding": "0", "net.ipv4.conf.lo.forwarding": "0",
             "net.ipv4.conf.all.accept_redirects": "1", "net.ipv4.conf.default.rp_filter": "0"}
    values = {"net.ipv4.ip_forward": "1", "net.ipv4.conf.default.forwarding": "1", "net.ipv4.conf.v0.forwarding": "1",
              "net.ipv4.conf.v1.forwarding": "0", "net.ipv4.conf.lo.forwarding": "1",
              "net.ipv4.conf.all.accept_redirects": "0", "net.ipv4.conf.default.rp_filter": "1",
              "net.ipv4.conf.v0.rp_filter": "1", "net.ipv4.conf.v1.rp_filter": "0"}
    assert changed(values, {"lo": False, "v0": False, "v1": False}, fresh) == [
        ("net.ipv4.ip_forward", "1"), ("net.ipv4.conf.default.rp_filter", "1"),
        ("net.ipv4.conf.v1.forwarding", "0"), ("net.ipv4.conf.v1.rp_filter", "0")]
