"""Oracle tests against the running kernel: a topology with every host-kernel
kind is applied with `vnet apply`, then what vnet observes (`vnet show
--json` and ``vnet.observer.observe``) is compared field by field with
two independent readers of the same kernel state: iproute2 (`ip -j -d link`,
`ip -j addr`, `bridge -j fdb`) and pyroute2's ``IPRoute``."""
import ipaddress
import json
import os
import pwd
import stat

import pytest
from pyroute2 import IPRoute

TOPO = """
name: oracle
namespaces: [ns1]
interfaces:
  - {name: eth1, kind: external}
  - {name: eth2, kind: external}
  - {name: eth3, kind: external}
  - {name: br0, kind: bridge, stp: true, priority: 4096, ageing_time: 600, forward_delay: 7,
     mtu: 1400, mac: "02:00:00:00:01:00", addresses: [10.1.0.1/24, "fd00:1::1/64"]}
  - {name: brns, kind: bridge, netns: ns1, stp: false}
  - name: v0
    kind: veth
    master: br0
    mtu: 1400
    mac: "02:00:00:00:01:01"
    peer: {name: v0p, netns: ns1, mtu: 1380, mac: "02:00:00:00:01:02", master: brns,
           addresses: [10.1.0.2/24, "fd00:1::2/64"]}
  - {name: tun0, kind: tun, mtu: 1300, multi_queue: true, vnet_hdr: true, addresses: [10.2.0.1/30]}
  - {name: tap0, kind: tap, owner: 1000, group: 1001, master: br0, mac: "02:00:00:00:01:03"}
  - name: vx0
    kind: vxlan
    vni: 4242
    local: 192.0.2.1
    remote: 192.0.2.2
    dev: eth1
    dstport: 4790
    ttl: 64
    learning: false
    mtu: 1450
    mac: "02:00:00:00:01:04"
    fdb:
      - {mac: "00:00:00:00:00:00", dst: 192.0.2.3}
      - {mac: "02:00:00:00:00:aa", dst: 192.0.2.4}
  - {name: vx6, kind: vxlan, vni: 7, local: "fd00:2::1", group: "ff05::42", dev: eth2, learning: true}
  - {name: vxns, kind: vxlan, vni: 99, netns: ns1, dev: {name: eth1}, remote: 198.51.100.7}
  - {name: mvpriv, kind: macvlan, link: eth1, mode: private, mac: "02:00:00:00:02:01"}
  - {name: mvvepa, kind: macvlan, link: eth1, mode: vepa}
  - {name: mvbr, kind: macvlan, link: eth1, mode: bridge, mtu: 1400, addresses: [192.0.2.60/24]}
  - {name: mvpass, kind: macvlan, link: eth3, mode: passthru}
  - {name: mvsrc, kind: macvlan, link: eth1, mode: source, source_macs: ["02:00:00:00:00:bb", "02:00:00:00:00:cc"]}
  - {name: mvns, kind: macvlan, link: {name: eth1}, netns: ns1, mode: bridge, addresses: [192.0.2.50/24]}
  - {name: mvtap0, kind: macvtap, link: eth1, mode: bridge, mac: "02:00:00:00:02:02"}
"""

# declared per device (host namespace None): kind as vnet names it, mtu, mac, master
DECLARED = {
    (None, "br0"): ("bridge", 1400, "02:00:00:00:01:00", None),
    ("ns1", "brns"): ("bridge", 1380, None, None),    # a bridge takes its smallest port's mtu
    (None, "v0"): ("veth", 1400, "02:00:00:00:01:01", "br0"),
    ("ns1", "v0p"): ("veth", 1380, "02:00:00:00:01:02", "brns"),
    (None, "tun0"): ("tun", 1300, None, None),
    (None, "tap0"): ("tap", 1500, "02:00:00:00:01:03", "br0"),
    (None, "vx0"): ("vxlan", 1450, "02:00:00:00:01:04", None),
    (None, "vx6"): ("vxlan", 1430, None, None),       # default: 1500 - 70 (IPv6 underlay)
    ("ns1", "vxns"): ("vxlan", 1450, None, None),
    (None, "mvpriv"): ("macvlan", 1500, "02:00:00:00:02:01", None),
    (None, "mvvepa"): ("macvlan", 1500, None, None),
    (None, "mvbr"): ("macvlan", 1400, None, None),
    (None, "mvpass"): ("macvlan", 1500, None, None),
    (None, "mvsrc"): ("macvlan", 1500, None, None),
    ("ns1", "mvns"): ("macvlan", 1500, None, None),
    (None, "mvtap0"): ("macvtap", 1500, "02:00:00:00:02:02", None),
}
KERNEL_KIND = {"tap": "tun", "tun": "tun"}
MODES = {"mvpriv": "private", "mvvepa": "vepa", "mvbr": "bridge", "mvpass": "passthru", "mvsrc": "source",
         "mvns": "bridge", "mvtap0": "bridge"}


class Lab:
    """The applied topology and every reader's view of it."""

    def __init__(self, sandbox):
        self.sb = sandbox
        sandbox.external("eth1", "192.0.2.1/24")
        sandbox.external("eth2", "fd00:2::1/64")
        sandbox.external("eth3")
        self.path = sandbox.write("oracle.yaml", TOPO)
        applied = json.loads(sandbox.vnet("apply", "--json", self.path).stdout)
        assert applied["verified"] is True
        self.show = {(d["netns"], d["name"]): d
                     for d in json.loads(sandbox.vnet("show", "--json", self.path).stdout)["devices"]}
        self.ip = {ns: {ln["ifname"]: ln for ln in sandbox.ip_json(ns)} for ns in (None, "ns1")}
        self.pr = {}
        for ns in (None, "ns1"):
            with (IPRoute() if ns is None else IPRoute(netns=ns, flags=0)) as ipr:
                self.pr[ns] = {m.get_attr("IFLA_IFNAME"): m for m in ipr.get_links()}

    def info(self, key):
        """ip's linkinfo.info_data of a device."""
        return self.ip[key[0]][key[1]]["linkinfo"]["info_data"]

    def pr_data(self, key):
        return self.pr[key[0]][key[1]].get_attr("IFLA_LINKINFO").get_attr("IFLA_INFO_DATA")

    def index(self, key):
        return self.ip[key[0]][key[1]]["ifindex"]


@pytest.fixture
def lab(sandbox):
    return Lab(sandbox)


def test_every_device_field_by_field(lab):
    assert set(DECLARED) <= set(lab.show)
    for key, (kind, mtu, mac, master) in DECLARED.items():
        ns, name = key
        s, ip, pr = lab.show[key], lab.ip[ns][name], lab.pr[ns][name]
        where = f"{ns or 'host'}/{name}"
        # kind
        assert s["kind"] == kind, where
        kk = KERNEL_KIND.get(kind, kind)
        assert ip["linkinfo"]["info_kind"] == kk, where
        assert pr.get_attr("IFLA_LINKINFO").get_attr("IFLA_INFO_KIND") == kk, where
        # ifindex
        assert s["ifindex"] == ip["ifindex"] == pr["index"], where
        # mtu
        assert s["mtu"] == ip["mtu"] == pr.get_attr("IFLA_MTU") == mtu, where
        # mac: the declared one, else whatever the kernel chose, all readers agreeing
        assert s["mac"] == ip.get("address") == pr.get_attr("IFLA_ADDRESS"), where
        if mac is not None:
            assert s["mac"] == mac, where
        # master
        assert ip.get("master") == master, where
        assert s["master"] == master, where   # a master is in its port's own namespace
        pm = pr.get_attr("IFLA_MASTER")
        assert (pm is None and master is None) or pm == lab.index((ns, master)), where
        # up, and the topology's group tag on every device vnet made
        assert s["up"] is True and "UP" in ip["flags"] and pr["flags"] & 1, where
        assert int(ip["group"]) == pr.get_attr("IFLA_GROUP") != 0, where


def test_observe_in_process_matches_show_and_pyroute2(lab):
    from vnet.observer import observe
    from vnet.kernel.session import Kernel
    from vnet.render.show import device_dict
    with Kernel() as k:
        st = observe(k, [None, "ns1"])
    for key in DECLARED:
        d = st.device(*key)
        assert d is not None, key
        # the state moves on its own (STP's forward delay, linkwatch): not compared across two reads
        timeless = lambda dd: {k: v for k, v in dd.items() if k not in ("operstate", "carrier")}  # noqa: E731
        assert timeless(device_dict(d)) == timeless(lab.show[key])
        pr = lab.pr[key[0]][key[1]]
        assert (d.ifindex, d.mtu, d.mac, d.group) == (pr["index"], pr.get_attr("IFLA_MTU"),
                                                      pr.get_attr("IFLA_ADDRESS"), pr.get_attr("IFLA_GROUP"))


def test_bridge(lab):
    ip = lab.info((None, "br0"))
    assert (ip["stp_state"], ip["priority"], ip["ageing_time"], ip["forward_delay"]) == (1, 4096, 60000, 700)
    assert ip["vlan_filtering"] == 0
    assert (ip["hello_time"], ip["max_age"], ip["group_fwd_mask"], ip["mcast_snooping"]) == (200, 2000, "0", 1)  # ip prints the mask as hex text
    pr = lab.pr_data((None, "br0"))
    assert (pr.get_attr("IFLA_BR_STP_STATE"), pr.get_attr("IFLA_BR_PRIORITY"), pr.get_attr("IFLA_BR_AGEING_TIME"),
            pr.get_attr("IFLA_BR_FORWARD_DELAY")) == (1, 4096, 60000, 700)
    assert lab.show[(None, "br0")]["options"] == {"stp": True, "vlan_filtering": False, "ageing_time": 600,
                                                 "forward_delay": 7, "priority": 4096, "hello_time": 2,
                                                 "max_age": 20, "group_fwd_mask": 0, "mcast_snooping": True,
                                                 "mcast_querier": False}
    assert lab.info(("ns1", "brns"))["stp_state"] == 0
    assert lab.show[("ns1", "brns")]["options"]["stp"] is False
    # the ports, as the bridge sees them
    ports = lab.sb.sh("unshare -m sh -c 'mount -t sysfs none /sys && ls /sys/class/net/br0/brif'").split()
    assert sorted(ports) == ["tap0", "v0"]
    assert sorted(n for n, ln in lab.ip[None].items() if ln.get("master") == "br0") == ["tap0", "v0"]


def test_veth_pair_across_namespaces(lab):
    v0, v0p = lab.ip[None]["v0"], lab.ip["ns1"]["v0p"]
    assert v0["link_index"] == v0p["ifindex"] and v0p["link_index"] == v0["ifindex"]
    assert "link_netnsid" in v0 and "link_netnsid" in v0p
    assert lab.pr[None]["v0"].get_attr("IFLA_LINK") == v0p["ifindex"]
    assert lab.pr[None]["v0"].get_attr("IFLA_LINK_NETNSID") == v0["link_netnsid"]
    assert lab.pr["ns1"]["v0p"].get_attr("IFLA_LINK") == v0["ifindex"]
    assert lab.show[(None, "v0")]["peer"] == "ns1/v0p"
    assert lab.show[("ns1", "v0p")]["peer"] == "host/v0"   # seen from ns1, v0 is in the host namespace


def test_tun_and_tap(lab):
    tun, tap = lab.info((None, "tun0")), lab.info((None, "tap0"))
    assert (tun["type"], tap["type"]) == ("tun", "tap")
    assert (tun["multi_queue"], tun["vnet_hdr"], tun["pi"]) == (True, True, False)
    assert (tap["multi_queue"], tap["vnet_hdr"], tap["pi"]) == (False, False, False)
    assert tun["persist"] is True and tap["persist"] is True
    try:
        user = pwd.getpwuid(1000).pw_name
    except KeyError:
        user = 1000
    assert str(tap["user"]) == str(user) and int(tap["group"]) == 1001
    assert "user" not in tun and "group" not in tun
    pt, pp = lab.pr_data((None, "tun0")), lab.pr_data((None, "tap0"))
    assert (pt.get_attr("IFLA_TUN_TYPE"), pp.get_attr("IFLA_TUN_TYPE")) == (1, 2)
    assert (pp.get_attr("IFLA_TUN_OWNER"), pp.get_attr("IFLA_TUN_GROUP")) == (1000, 1001)
    assert pt.get_attr("IFLA_TUN_OWNER") is None
    assert (pt.get_attr("IFLA_TUN_MULTI_QUEUE"), pt.get_attr("IFLA_TUN_VNET_HDR")) == (1, 1)
    assert lab.show[(None, "tap0")]["options"] == {"owner": 1000, "group": 1001, "multi_queue": False,
                                                  "vnet_hdr": False}
    assert lab.show[(None, "tun0")]["options"] == {"multi_queue": True, "vnet_hdr": True}


def test_vxlan(lab):
    ip = lab.info((None, "vx0"))
    assert (ip["id"], ip["port"], ip["remote"], ip["local"], ip["link"], ip["ttl"], ip["learning"]) == \
        (4242, 4790, "192.0.2.2", "192.0.2.1", "eth1", 64, False)
    pr = lab.pr_data((None, "vx0"))
    assert (pr.get_attr("IFLA_VXLAN_ID"), pr.get_attr("IFLA_VXLAN_PORT"), pr.get_attr("IFLA_VXLAN_GROUP"),
            pr.get_attr("IFLA_VXLAN_LOCAL"), pr.get_attr("IFLA_VXLAN_LINK"), pr.get_attr("IFLA_VXLAN_TTL"),
            pr.get_attr("IFLA_VXLAN_LEARNING")) == (4242, 4790, "192.0.2.2", "192.0.2.1", lab.index((None, "eth1")),
                                                    64, 0)
    s = lab.show[(None, "vx0")]["options"]
    assert {k: s[k] for k in ("vni", "dstport", "remote", "local", "dev", "ttl", "learning")} == \
        {"vni": 4242, "dstport": 4790, "remote": "192.0.2.2", "local": "192.0.2.1", "dev": "eth1", "ttl": 64,
         "learning": False}
    assert "group" not in s
    # fdb: the two declared entries, as bridge(8) lists them; the default destination's own entry left out
    fdb = json.loads(lab.sb.sh("bridge -j fdb show dev vx0"))
    theirs = {(e["mac"], e["dst"]) for e in fdb if e.get("state") == "permanent"}
    assert theirs == {("00:00:00:00:00:00", "192.0.2.2"), ("00:00:00:00:00:00", "192.0.2.3"),
                      ("02:00:00:00:00:aa", "192.0.2.4")}
    ours = {(e["mac"], e["dst"]) for e in s["fdb"]}
    assert ours == {("00:00:00:00:00:00", "192.0.2.3"), ("02:00:00:00:00:aa", "192.0.2.4")}

    ip6 = lab.info((None, "vx6"))
    assert (ip6["id"], ip6["group6"], ip6["local6"], ip6["link"], ip6["port"], ip6["learning"]) == \
        (7, "ff05::42", "fd00:2::1", "eth2", 4789, True)
    pr6 = lab.pr_data((None, "vx6"))
    assert (pr6.get_attr("IFLA_VXLAN_GROUP6"), pr6.get_attr("IFLA_VXLAN_LOCAL6")) == ("ff05::42", "fd00:2::1")
    s6 = lab.show[(None, "vx6")]["options"]
    assert (s6["vni"], s6["group"], s6["local"], s6["dev"], s6["dstport"]) == (7, "ff05::42", "fd00:2::1", "eth2",
                                                                              4789)
    assert "remote" not in s6

    # in ns1, its underlay in the host: the kernel reports the host's ifindex with a netnsid
    ipn = lab.info(("ns1", "vxns"))
    assert (ipn["id"], ipn["remote"], ipn["port"]) == (99, "198.51.100.7", 4789)
    prn = lab.pr["ns1"]["vxns"]
    assert prn.get_attr("IFLA_LINKINFO").get_attr("IFLA_INFO_DATA").get_attr("IFLA_VXLAN_LINK") == \
        lab.index((None, "eth1"))
    assert prn.get_attr("IFLA_LINK_NETNSID") is not None
    sn = lab.show[("ns1", "vxns")]["options"]
    assert (sn["vni"], sn["remote"], sn["dev"]) == (99, "198.51.100.7", "host/eth1")   # host's eth1


def test_macvlan_every_mode(lab):
    for name, mode in MODES.items():
        key = ("ns1", name) if name == "mvns" else (None, name)
        assert lab.info(key)["mode"] == mode, name
        kind = "MACVTAP" if name == "mvtap0" else "MACVLAN"
        assert lab.pr_data(key).get_attr(f"IFLA_{kind}_MODE") == mode, name
        assert lab.show[key]["options"]["mode"] == mode, name
        lower = "eth3" if name == "mvpass" else "eth1"
        # seen from ns1, the host's eth1 is host/eth1
        assert lab.show[key]["options"]["link"] == (lower if key[0] is None else f"host/{lower}"), name
        if key[0] is None:
            assert lab.ip[None][name]["link"] == lab.show[key]["options"]["link"], name
        pr = lab.pr[key[0]][name]
        assert pr.get_attr("IFLA_LINK") == lab.index((None, lower)), name
    # source mode: the kernel's list, in whatever order it keeps them
    want = ["02:00:00:00:00:bb", "02:00:00:00:00:cc"]
    ip = lab.info((None, "mvsrc"))
    assert ip["macaddr_count"] == 2 and sorted(ip["macaddr_data"]) == want
    pr = lab.pr_data((None, "mvsrc")).get_attr("IFLA_MACVLAN_MACADDR_DATA")
    assert sorted(a[1] for a in pr["attrs"]) == want
    assert sorted(lab.show[(None, "mvsrc")]["options"]["source_macs"]) == want
    # passthru takes the lower device's address over
    assert lab.show[(None, "mvpass")]["mac"] == lab.ip[None]["eth3"]["address"]
    # in ns1 on the host's eth1: ip shows the raw index and netnsid, vnet the resolved name
    mvns = lab.ip["ns1"]["mvns"]
    assert mvns["link_index"] == lab.index((None, "eth1")) and "link_netnsid" in mvns


def test_macvtap_tap_device(lab):
    s = lab.show[(None, "mvtap0")]
    idx = lab.index((None, "mvtap0"))
    assert s["tap_device"] == f"/dev/tap{idx}"
    # the kernel names the character device tap<ifindex> (sysfs seen from the sandbox's namespace)
    dev = lab.sb.sh(f"unshare -m sh -c 'mount -t sysfs none /sys && cat /sys/class/net/mvtap0/tap{idx}/dev'").strip()
    major, _minor = map(int, dev.split(":"))
    with open("/proc/devices") as f:
        assert f"{major} macvtap" in f.read().split("Block devices")[0]
    # vnet read the same device number, and names /dev/tapN only when that node is this device's
    # (/dev is shared by every namespace of the machine: see the two-namespace test below)
    assert s["tap_devnum"] == dev
    if s["tap_device"] is not None:
        st = os.stat(s["tap_device"])
        assert stat.S_ISCHR(st.st_mode) and f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}" == dev


def test_addresses_match_ip_addr(lab):
    for ns in (None, "ns1"):
        mine = {}
        for (dns, name), d in lab.show.items():
            if dns == ns:   # (the words after it compared below: a broadcast vnet does not give)
                mine[name] = sorted(a.split()[0] for a in d["addresses"])
        theirs = {}
        for ln in json.loads(lab.sb.sh(f"ip {'-n ' + ns if ns else ''} -j addr show")):
            theirs[ln["ifname"]] = sorted(f"{a['local']}/{a['prefixlen']}" for a in ln.get("addr_info", [])
                                          if not (a["family"] == "inet6" and a["scope"] == "link"))
            for a in ln.get("addr_info", []):   # added by hand without one: said so, as a file writes it
                if a["family"] == "inet" and a["prefixlen"] < 31 and "broadcast" not in a and ln["ifname"] != "lo":
                    assert f"{a['local']}/{a['prefixlen']} brd 0.0.0.0" in lab.show[(ns, ln["ifname"])]["addresses"]
        for name, addrs in mine.items():
            assert addrs == theirs[name], f"{ns}/{name}"
    assert sorted(lab.show[(None, "br0")]["addresses"]) == ["10.1.0.1/24", "fd00:1::1/64"]
    assert sorted(lab.show[("ns1", "v0p")]["addresses"]) == ["10.1.0.2/24", "fd00:1::2/64"]
    assert lab.show[(None, "tun0")]["addresses"] == ["10.2.0.1/30"]
    assert lab.show[("ns1", "mvns")]["addresses"] == ["192.0.2.50/24"]
    assert lab.show[(None, "mvbr")]["addresses"] == ["192.0.2.60/24"]
    # and through pyroute2: every address vnet shows on br0 exists there with that prefix
    with IPRoute() as ipr:
        pa = {f"{m.get_attr('IFA_ADDRESS')}/{m['prefixlen']}" for m in ipr.get_addr(index=lab.index((None, "br0")))}
    assert {str(ipaddress.ip_interface(a)) for a in lab.show[(None, "br0")]["addresses"]} <= pa


MACVTAP_TWO_NS = """
name: taps
namespaces: [a, b]
interfaces:
  - {name: eth1, kind: external}
  - {name: mta, kind: macvtap, link: {name: eth1}, netns: a, mode: bridge}
  - {name: mtb, kind: macvtap, link: {name: eth1}, netns: b, mode: bridge}
"""


def test_macvtap_tap_device_in_two_namespaces(sandbox):
    """/dev/tapN is named by ifindex, which is per namespace: two macvtaps with one ifindex in two
    namespaces share one /dev node. vnet show names the node only for the device it belongs to, and
    gives the other its device number and how to make a node."""
    sandbox.external("eth1")
    path = sandbox.write("taps.yaml", MACVTAP_TWO_NS)
    sandbox.vnet("apply", path)
    shown = {d["name"]: d for d in json.loads(sandbox.vnet("show", "--json", path).stdout)["devices"]}
    named = 0
    for ns, name in (("a", "mta"), ("b", "mtb")):
        idx = sandbox.links(ns)[name]["ifindex"]
        dev = sandbox.sh(f"ip netns exec {ns} cat /sys/class/net/{name}/tap{idx}/dev").strip()
        assert shown[name]["tap_devnum"] == dev
        if shown[name]["tap_device"] is None:
            assert f"c {dev.replace(':', ' ')}" in shown[name]["tap_hint"]
            continue
        named += 1
        st = os.stat(shown[name]["tap_device"])
        assert f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}" == dev, \
            f"{ns}/{name}: {shown[name]['tap_device']} is {os.major(st.st_rdev)}:{os.minor(st.st_rdev)}, " \
            f"the device is {dev}"
    assert named == 1, "the shared /dev/tapN node belongs to exactly one of them"
