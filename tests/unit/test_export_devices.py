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


def test_a_bridges_mac_is_written_only_where_someone_set_it():
    br = dev("br0", "bridge", options={"stp": False})
    assert _docs(_state(br), set_by_hand={(None, "br0"): True})["br0"]["mac"] == "02:00:00:00:00:01"
    assert "mac" not in _docs(_state(br), set_by_hand={(None, "br0"): False})["br0"]
    assert _docs(_state(br))["br0"]["mac"] == "02:00:00:00:00:01"   # not known: as before, its own unless a port's
