"""The kinds a container gets through the CNI plugin, each through the
installed executable as a runtime drives it (test_cni_plugin.Cni), with
host-local IPAM where addresses make sense: ADD, then what a user of the
container would notice (`ip -d -j` inside it, and traffic where there is
any to show), CHECK with ADD's result as prevResult, DEL leaving nothing on
either side and the address released. Most need kinds this machine's kernel
lacks: they run in the full-kernel guest.

The host's NICs are veth ends in the sandbox: ``eth1`` (with ``eth1-p``, its
other end, as the wire or a second NIC), and ``eth2`` where a test makes it."""
import json
import os
import socket
import time

import pytest

from test_cni_plugin import Cni, addr_of

EX = os.path.join(os.path.dirname(__file__), "..", "..", "examples")
MARK = b"VNET-PLAINTEXT-MARKER"

# no skip when host-local is missing: scripts/setup.sh installs containernetworking-plugins, and the
# ADD then fails naming the IPAM plugin it cannot run, as in test_cni_plugin


@pytest.fixture
def cni(sandbox, tmp_path):
    return Cni(sandbox, tmp_path)


def info(link):
    return link.get("linkinfo", {}).get("info_data", {})


def kind(link):
    return link.get("linkinfo", {}).get("info_kind")


def records():
    """vnet's records of attachments and bridges (not the lock files)."""
    return sorted(f for f in os.listdir("/run/vnet") if f.endswith(".json")) if os.path.isdir("/run/vnet") else []


def record_of(conf, container, ifname="eth0"):
    """Does vnet keep a record of this attachment?"""
    from vnet.cni.config import attachment_name
    return os.path.exists(f"/run/vnet/{attachment_name(conf['name'], container, ifname)}.json")


def add(cni, conf, container="c1"):
    """ADD (on a new container unless it exists): its result, after CHECK
    passed with it."""
    if not os.path.exists(f"/run/netns/{container}"):
        cni.container(container)
    r = cni.ok("ADD", conf, container=container)
    assert r["cniVersion"] == conf["cniVersion"] and record_of(conf, container)
    cni.ok("CHECK", {**conf, "prevResult": r}, container=container)
    return r


def the_container_iface(r, container="c1"):
    """The index and entry of the container's eth0 in a result."""
    i = next(n for n, it in enumerate(r["interfaces"])
             if it["name"] == "eth0" and it.get("sandbox") == f"/run/netns/{container}")
    return i, r["interfaces"][i]


def gone(cni, sandbox, conf, host_before, container="c1", inside=("lo",)):
    """DEL: the container has nothing but lo (and what it had before, ``inside``),
    the host what it had before ADD, vnet keeps no record of the attachment;
    DEL again is done already."""
    cni.ok("DEL", conf, container=container)
    assert set(sandbox.links(container)) == set(inside)
    assert set(sandbox.links()) == set(host_before)
    assert not record_of(conf, container)
    cni.ok("DEL", conf, container=container)


def ping(ns, addr):
    from vnet.check.ping import ping
    return ping(ns, addr, timeout=2)


def capture(ns, dev, trigger):
    """The frames on ``dev`` in ``ns`` (None: the host) while ``trigger`` runs."""
    from vnet.check.capture import Capture
    from vnet.kernel.session import Kernel
    with Kernel() as k, Capture(k, ns, dev) as cap:
        trigger()
    return cap.frames


def udp(ns, dst, payload, n=3):
    from vnet.kernel.session import Kernel
    with Kernel() as k, k.entered(ns):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with s:
        for _ in range(n):
            s.sendto(payload, (dst, 9999))
            time.sleep(0.1)


# -- the reference plugins' keys ---------------------------------------------

@pytest.mark.needs("ipvlan", "veth")
@pytest.mark.parametrize("mode", ["l2", "l3"])
def test_ipvlan_two_containers_ping(cni, sandbox, mode):
    """ipvlan as the reference plugin writes it: ``"kind": "ipvlan"`` alone
    is its default l2 mode, ``"mode": "l3"`` says ipvlan by itself. Two
    containers on the host NIC reach each other."""
    host = set(sandbox.links())
    conf = cni.conf(kind="ipvlan", master="eth1") if mode == "l2" else cni.conf(master="eth1", mode="l3")
    r1, r2 = add(cni, conf, "c1"), add(cni, conf, "c2")
    i, it = the_container_iface(r1)
    assert r1["ips"] == [{"address": "10.30.0.2/24", "gateway": "10.30.0.1", "interface": i}]
    eth0 = sandbox.links("c1")["eth0"]
    assert kind(eth0) == "ipvlan" and info(eth0)["mode"] == mode, eth0
    assert eth0["address"] == it["mac"] == sandbox.links()["eth1"]["address"]   # an ipvlan has its lower's MAC
    assert addr_of(sandbox, "c1") == ["10.30.0.2"] and addr_of(sandbox, "c2") == ["10.30.0.3"]
    assert "default via 10.30.0.1 dev eth0" in sandbox.sh("ip -n c1 route")
    assert ping("c1", "10.30.0.3") and ping("c2", "10.30.0.2")
    gone(cni, sandbox, conf, host, "c1")
    assert cni.reserved() == ["10.30.0.3"]
    gone(cni, sandbox, conf, host, "c2")
    assert cni.reserved() == []


@pytest.mark.needs("vlan", "veth")
def test_vlan_two_containers_over_a_wire_ping_tagged(cni, sandbox):
    """``vlanId`` on each end of a wire (eth1 and eth1-p, two host NICs):
    the containers reach each other, and the wire carries their frames
    tagged 100."""
    host = set(sandbox.links())
    conf1, conf2 = cni.conf(master="eth1", vlanId=100, mtu=1400), cni.conf(master="eth1-p", vlanId=100, mtu=1400)
    r1, _ = add(cni, conf1, "c1"), add(cni, conf2, "c2")
    i, it = the_container_iface(r1)
    assert r1["ips"][0]["address"] == "10.30.0.2/24" and r1["ips"][0]["interface"] == i
    eth0 = sandbox.links("c1")["eth0"]
    assert kind(eth0) == "vlan" and info(eth0)["id"] == 100 and info(eth0)["protocol"] == "802.1Q", eth0
    assert eth0["mtu"] == 1400 and eth0["address"] == it["mac"]
    assert addr_of(sandbox, "c1") == ["10.30.0.2"] and addr_of(sandbox, "c2") == ["10.30.0.3"]
    assert ping("c1", "10.30.0.3") and ping("c2", "10.30.0.2")
    frames = capture(None, "eth1-p", lambda: udp("c1", "10.30.0.3", MARK))
    marked = [f for f in frames if MARK in f.data]
    assert len(marked) >= 3 and all(f.tags == [(0x8100, 100)] for f in marked), [f.tags for f in marked]
    gone(cni, sandbox, conf1, host, "c1")
    gone(cni, sandbox, conf2, host, "c2")
    assert cni.reserved() == []


@pytest.mark.needs("bridge_vlan_filtering", "veth")
def test_bridge_with_a_port_vlan(cni, sandbox):
    """The bridge plugin's ``vlan``: the bridge filters VLANs, each host port
    is an access port of its VLAN (pvid, untagged), and stays in VLAN 1
    unless ``preserveDefaultVlan`` is false. Two containers in VLAN 100
    reach each other; a third on the same bridge in VLAN 200 reaches
    neither."""
    host = set(sandbox.links())
    conf = cni.conf(bridge="cnibr0", vlan=100)
    r1, r2 = add(cni, conf, "c1"), add(cni, conf, "c2")
    other = cni.conf(bridge="cnibr0", vlan=200, preserveDefaultVlan=False)
    r3 = add(cni, other, "c3")
    assert [it["name"] for it in r1["interfaces"]][0::2] == ["cnibr0", "eth0"]
    port = r1["interfaces"][1]["name"]
    assert "sandbox" not in r1["interfaces"][1] and r1["ips"][0]["interface"] == 2
    links = sandbox.links()
    assert info(links["cnibr0"])["vlan_filtering"] == 1 and links[port]["master"] == "cnibr0"
    assert port_vlans(sandbox, port) == [{"vlan": 1, "flags": ["Egress Untagged"]},
                                         {"vlan": 100, "flags": ["PVID", "Egress Untagged"]}]
    assert port_vlans(sandbox, r3["interfaces"][1]["name"]) == [{"vlan": 200, "flags": ["PVID", "Egress Untagged"]}]
    assert kind(sandbox.links("c1")["eth0"]) == "veth" and addr_of(sandbox, "c1") == ["10.30.0.2"]
    assert ping("c1", "10.30.0.3") and ping("c2", "10.30.0.2")
    assert addr_of(sandbox, "c3") == ["10.30.0.4"] and not ping("c3", "10.30.0.2")
    cni.ok("DEL", conf, container="c1")
    assert set(sandbox.links("c1")) == {"lo"} and port not in sandbox.links()
    assert r2["interfaces"][1]["name"] in sandbox.links()
    cni.ok("DEL", conf, container="c2")
    cni.ok("DEL", other, container="c3")
    cni.ok("DEL", conf, container="c1")
    assert set(sandbox.links()) == host | {"cnibr0"}   # the bridge is shared: no attachment removes it
    assert [f for f in records() if not f.startswith("cni-bridge-")] == [] and cni.reserved() == []


def port_vlans(sandbox, port):
    return json.loads(sandbox.sh(f"bridge -j vlan show dev {port}"))[0]["vlans"]


def tap_queue(ns, name):
    """A file descriptor attached to tap ``name`` in ``ns`` as one queue of
    a multi-queue device (the kernel refuses a second queue otherwise)."""
    import fcntl
    import struct
    from vnet.kernel import tun_ioctl as t
    from vnet.kernel.session import Kernel
    with Kernel() as k, k.entered(ns):
        fd = t.open_dev()
    try:
        fcntl.ioctl(fd, t.TUNSETIFF, struct.pack("16sH22x", name.encode(), t.IFF_TAP | t.IFF_NO_PI | t.IFF_MULTI_QUEUE))
    except OSError:
        os.close(fd)
        raise
    return fd


@pytest.mark.needs("veth")
def test_tap_multi_queue(cni, sandbox):
    """The tap plugin's ``multiQueue``: a persistent multi-queue tap in the
    container with IPAM's address, which two processes' queues can attach
    to (its carrier comes up with them)."""
    host = set(sandbox.links())
    conf = cni.conf(multiQueue=True, mtu=1400)
    r = add(cni, conf)
    i, it = the_container_iface(r)
    assert r["ips"][0]["address"] == "10.30.0.2/24" and r["ips"][0]["interface"] == i
    eth0 = sandbox.links("c1")["eth0"]
    assert kind(eth0) == "tun" and info(eth0)["type"] == "tap" and info(eth0).get("multi_queue") is True, eth0
    assert eth0["mtu"] == 1400 and eth0["address"] == it["mac"] and addr_of(sandbox, "c1") == ["10.30.0.2"]
    fds = [tap_queue("c1", "eth0"), tap_queue("c1", "eth0")]
    try:
        assert "NO-CARRIER" not in sandbox.sh("ip -n c1 link show eth0")
    finally:
        for fd in fds:
            os.close(fd)
    cni.ok("CHECK", {**conf, "prevResult": r})
    gone(cni, sandbox, conf, host)
    assert cni.reserved() == []


@pytest.mark.needs("dummy")
def test_dummy(cni, sandbox):
    host = set(sandbox.links())
    conf = cni.conf(kind="dummy")
    r = add(cni, conf)
    i, it = the_container_iface(r)
    assert r["ips"] == [{"address": "10.30.0.2/24", "gateway": "10.30.0.1", "interface": i}]
    eth0 = sandbox.links("c1")["eth0"]
    assert kind(eth0) == "dummy" and eth0["address"] == it["mac"] and addr_of(sandbox, "c1") == ["10.30.0.2"]
    assert "default via 10.30.0.1 dev eth0" in sandbox.sh("ip -n c1 route")
    gone(cni, sandbox, conf, host)
    assert cni.reserved() == []


@pytest.mark.needs("vcan")
def test_vcan_without_ipam(cni, sandbox):
    """``"kind": "vcan"`` with no IPAM: a CAN bus in the container, on which
    one socket hears another's frame; the result has no IPs."""
    from vnet.check.can import frame_passes
    host = set(sandbox.links())
    conf = cni.conf(kind="vcan", subnet=None)
    r = add(cni, conf)
    assert [it["name"] for it in r["interfaces"]] == ["eth0"] and "ips" not in r
    eth0 = sandbox.links("c1")["eth0"]
    assert kind(eth0) == "vcan" and eth0["link_type"] == "can" and "UP" in eth0["flags"], eth0
    assert frame_passes(("c1", "eth0"), ("c1", "eth0"))
    gone(cni, sandbox, conf, host)


@pytest.mark.needs("macvtap", "veth")
def test_macvtap(cni, sandbox):
    """``"kind": "macvtap"`` on the host NIC (mode: the macvlan plugin's
    default, bridge): the device is in the container with IPAM's address,
    its tap queue named in the container's sysfs (the /dev/tapN node a VM
    opens is the host's business)."""
    host = set(sandbox.links())
    conf = cni.conf(kind="macvtap", master="eth1")
    r = add(cni, conf)
    i, it = the_container_iface(r)
    assert r["ips"][0]["address"] == "10.30.0.2/24" and r["ips"][0]["interface"] == i
    eth0 = sandbox.links("c1")["eth0"]
    assert kind(eth0) == "macvtap" and info(eth0)["mode"] == "bridge", eth0
    assert eth0["address"] == it["mac"] and addr_of(sandbox, "c1") == ["10.30.0.2"]
    assert sandbox.sh("ip netns exec c1 ls /sys/class/net/eth0/macvtap").split() == [f"tap{eth0['ifindex']}"]
    gone(cni, sandbox, conf, host)
    assert cni.reserved() == []


@pytest.mark.needs("ipvtap", "veth")
def test_ipvtap_on_a_nic_in_the_container(cni, sandbox):
    """``"kind": "ipvtap"`` (mode: the ipvlan plugin's default, l2) on a NIC
    already in the container (``linkInContainer``): the kernel does not say
    which namespace an ipvtap's lower device is in, so on a host NIC it is
    refused, with why, before anything is reserved."""
    cni.container("c1")
    rc, out, _ = cni.call("ADD", cni.conf(kind="ipvtap", master="eth1"))
    assert rc != 0 and out["code"] == 7 and "master: must be in the ipvtap's own namespace" in out["msg"], out
    assert cni.reserved() == [] and set(sandbox.links("c1")) == {"lo"}
    sandbox.sh("ip link set eth1-p netns c1 && ip -n c1 link set eth1-p up")
    host = set(sandbox.links())
    conf = cni.conf(kind="ipvtap", master="eth1-p", linkInContainer=True)
    r = add(cni, conf)
    i, it = the_container_iface(r)
    assert r["ips"][0]["address"] == "10.30.0.2/24" and r["ips"][0]["interface"] == i
    links = sandbox.links("c1")
    eth0 = links["eth0"]
    assert kind(eth0) == "ipvtap" and info(eth0)["mode"] == "l2" and eth0["link"] == "eth1-p", eth0
    assert eth0["address"] == it["mac"] == links["eth1-p"]["address"] and addr_of(sandbox, "c1") == ["10.30.0.2"]
    assert sandbox.sh("ip netns exec c1 ls /sys/class/net/eth0/ipvtap").split() == [f"tap{eth0['ifindex']}"]
    gone(cni, sandbox, conf, host, inside={"lo", "eth1-p"})
    assert cni.reserved() == []


# -- vnet's stacks -------------------------------------------------------------

def key_files(tmp):
    out = []
    for k in ("fig20-a.hex", "fig20-b.hex"):
        p = tmp / k
        p.write_text(open(os.path.join(EX, "keys", k)).read())
        out.append(str(p))
    return out


def secure(cni, lower, mine, theirs, tx_key, rx_key, tx_id, rx_id):
    """A VLAN of host NIC ``lower`` moved into the pod, with MACsec on it
    (the container's interface), as docs/cni.md writes it."""
    return cni.conf(name="secure", interfaces=[
        {"kind": "vlan", "name": "vl100", "link": lower, "id": 100, "mac": mine},
        {"kind": "macsec", "link": "vl100", "port": 1, "encrypt": True, "validate": "strict",
         "tx": {"an": 0, "key_id": tx_id, "key_file": tx_key},
         "rx": [{"mac": theirs, "port": 1, "sas": [{"an": 0, "key_id": rx_id, "key_file": rx_key}]}]}])


@pytest.mark.needs("vlan", "macsec", "veth")
def test_vlan_and_macsec_stacks_ping_encrypted(cni, sandbox, tmp_path):
    """Two containers, each with a VLAN+MACsec stack on one of two host NICs
    joined by a wire, ping each other; on the wire only frames tagged 100
    carrying MACsec, never the plaintext; the keys are in no result."""
    a, b = key_files(tmp_path)
    host = set(sandbox.links())
    mac1, mac2 = "02:00:00:00:20:01", "02:00:00:00:20:02"
    conf1 = secure(cni, "eth1", mac1, mac2, a, b, "01", "02")
    conf2 = secure(cni, "eth1-p", mac2, mac1, b, a, "02", "01")
    r1, r2 = add(cni, conf1, "c1"), add(cni, conf2, "c2")
    i, it = the_container_iface(r1)
    assert [x["name"] for x in r1["interfaces"]] == ["vl100", "eth0"] and i == 1
    assert all(x["sandbox"] == "/run/netns/c1" for x in r1["interfaces"])
    assert r1["ips"] == [{"address": "10.30.0.2/24", "gateway": "10.30.0.1", "interface": 1}]
    links = sandbox.links("c1")
    assert kind(links["vl100"]) == "vlan" and info(links["vl100"])["id"] == 100
    assert links["vl100"]["address"] == mac1 == links["eth0"]["address"] == it["mac"]
    assert kind(links["eth0"]) == "macsec" and links["eth0"]["link"] == "vl100"
    shown = sandbox.sh("ip -n c1 macsec show eth0")
    assert "encrypt on" in shown and "validate strict" in shown and "0200000020020001" in shown, shown
    assert addr_of(sandbox, "c1") == ["10.30.0.2"] and addr_of(sandbox, "c2") == ["10.30.0.3"]
    assert ping("c1", "10.30.0.3") and ping("c2", "10.30.0.2")
    frames = capture(None, "eth1-p", lambda: udp("c1", "10.30.0.3", MARK * 4))
    sealed = [f for f in frames if f.tags == [(0x8100, 100)] and f.ethertype == 0x88E5]
    assert len(sealed) >= 3 and not any(MARK in f.data for f in frames), len(sealed)
    keys = [open(k).read().strip() for k in (a, b)]
    assert not any(k in json.dumps([r1, r2]) for k in keys)
    gone(cni, sandbox, conf1, host, "c1")
    gone(cni, sandbox, conf2, host, "c2")
    assert cni.reserved("secure") == []


def switch(sandbox, vlan=None):
    """A second host NIC eth2, and both NICs' far ends in a switch (a bridge
    on the host) that holds the gateway 10.30.0.1, in VLAN ``vlan`` if given."""
    sandbox.external("eth2")
    sandbox.sh("ip link add sw0 type bridge && ip link set eth1-p master sw0 && ip link set eth2-p master sw0 && "
               "ip link set sw0 up")
    dev = "sw0"
    if vlan:
        dev = f"sw0.{vlan}"
        sandbox.sh(f"ip link add link sw0 name {dev} type vlan id {vlan} && ip link set {dev} up")
    sandbox.sh(f"ip addr add 10.30.0.1/24 dev {dev}")


def bond_ports(master):
    return [{"kind": "macvlan", "name": "bp0", "link": "eth1", "master": master},
            {"kind": "macvlan", "name": "bp1", "link": "eth2", "master": master}]


BOND = {"kind": "bond", "mode": "active-backup", "miimon": 50, "primary": "bp0"}


def assert_bonded(links, bond):
    assert kind(links[bond]) == "bond" and info(links[bond])["mode"] == "active-backup", links[bond]
    for p in ("bp0", "bp1"):
        assert kind(links[p]) == "macvlan" and links[p]["master"] == bond, links[p]
        assert links[p]["linkinfo"]["info_slave_kind"] == "bond"


@pytest.mark.needs("bond", "macvlan", "veth")
def test_a_bond_of_two_macvlans_is_the_containers_eth0(cni, sandbox):
    """The bond is eth0, its ports two macvlans on two host NICs; the
    gateway answers through it, and still does when the active port fails."""
    switch(sandbox)
    host = set(sandbox.links())
    conf = cni.conf(interfaces=[*bond_ports("eth0"), BOND])
    r = add(cni, conf)
    i, it = the_container_iface(r)
    assert [x["name"] for x in r["interfaces"]] == ["bp0", "bp1", "eth0"] and i == 2
    assert r["ips"] == [{"address": "10.30.0.2/24", "gateway": "10.30.0.1", "interface": 2}]
    links = sandbox.links("c1")
    assert_bonded(links, "eth0")
    assert links["eth0"]["address"] == it["mac"] and addr_of(sandbox, "c1") == ["10.30.0.2"]
    assert info(links["eth0"])["active_slave"] == "bp0"
    assert ping("c1", "10.30.0.1")
    sandbox.sh("ip link set eth1 down")   # the first NIC's link fails: the bond goes on through bp1
    deadline = time.monotonic() + 5
    while info(sandbox.links("c1")["eth0"]).get("active_slave") != "bp1" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert info(sandbox.links("c1")["eth0"])["active_slave"] == "bp1" and ping("c1", "10.30.0.1")
    sandbox.sh("ip link set eth1 up")
    gone(cni, sandbox, conf, host)
    assert cni.reserved() == []


@pytest.mark.needs("vlan", "bond", "macvlan", "veth")
def test_a_vlan_on_a_bond_in_the_pod(cni, sandbox):
    """A VLAN (eth0) on a bond of two macvlans, all in the pod: the gateway
    in VLAN 100 behind the switch answers; the frames on the NIC are tagged."""
    switch(sandbox, vlan=100)
    host = set(sandbox.links())
    conf = cni.conf(interfaces=[*bond_ports("bond0"), {**BOND, "name": "bond0"},
                                {"kind": "vlan", "link": "bond0", "id": 100}])
    r = add(cni, conf)
    i, it = the_container_iface(r)
    assert [x["name"] for x in r["interfaces"]] == ["bp0", "bp1", "bond0", "eth0"] and i == 3
    assert r["ips"][0]["interface"] == 3
    links = sandbox.links("c1")
    assert_bonded(links, "bond0")
    assert kind(links["eth0"]) == "vlan" and info(links["eth0"])["id"] == 100 and links["eth0"]["link"] == "bond0"
    assert addr_of(sandbox, "c1") == ["10.30.0.2"] and not addr_of(sandbox, "c1", "bond0")
    assert ping("c1", "10.30.0.1")
    frames = capture(None, "eth1-p", lambda: udp("c1", "10.30.0.1", MARK))
    marked = [f for f in frames if MARK in f.data]
    assert len(marked) >= 3 and all(f.tags == [(0x8100, 100)] for f in marked), [f.tags for f in marked]
    gone(cni, sandbox, conf, host)
    assert cni.reserved() == []


@pytest.mark.needs("vxcan")
def test_a_vxcan_pair_one_end_in_the_container(cni, sandbox):
    """A vxcan whose peer stays on the host (no IPAM: CAN has no addresses):
    a CAN frame crosses from the container to the host and back."""
    from vnet.check.can import frame_passes
    host = set(sandbox.links())
    conf = cni.conf(subnet=None, interfaces=[{"kind": "vxcan", "peer": {}}])
    r = add(cni, conf)
    i, it = the_container_iface(r)
    peer = [x["name"] for x in r["interfaces"] if "sandbox" not in x]
    assert len(r["interfaces"]) == 2 and len(peer) == 1 and "ips" not in r
    eth0, far = sandbox.links("c1")["eth0"], sandbox.links()[peer[0]]
    assert kind(eth0) == kind(far) == "vxcan" and eth0["link_type"] == far["link_type"] == "can"
    assert frame_passes(("c1", "eth0"), (None, peer[0])) and frame_passes((None, peer[0]), ("c1", "eth0"))
    gone(cni, sandbox, conf, host)


@pytest.mark.needs("vxlan", "veth")
def test_vxlan_in_the_container_over_the_hosts_nic(cni, sandbox):
    """``"kind": "vxlan"``: the container's eth0 a VXLAN whose underlay is
    the host's NIC (its UDP socket on the host), reaching a VXLAN end made
    by hand with ``ip`` on another machine (a namespace behind the wire):
    a ping over VNI 42, the wire carrying it as UDP to port 4789."""
    # the host's NIC eth1 (the fixture's), its other end eth1-p moved to the other machine as u2
    sandbox.sh("ip netns add peer && ip link set eth1-p netns peer name u2 && ip addr add 10.70.0.1/24 dev eth1"
               " && ip -n peer link set lo up && ip -n peer addr add 10.70.0.2/24 dev u2 && ip -n peer link set u2 up"
               " && ip -n peer link add vx type vxlan id 42 local 10.70.0.2 remote 10.70.0.1 dev u2 dstport 4789"
               " && ip -n peer addr add 10.71.0.100/24 dev vx && ip -n peer link set vx up")
    sandbox.settle("eth1")
    host = set(sandbox.links())
    conf = cni.conf(subnet="10.71.0.0/24", kind="vxlan", vni=42, local="10.70.0.1", remote="10.70.0.2", dev="eth1")
    r = add(cni, conf)
    i, it = the_container_iface(r)
    assert r["ips"][0]["address"] == "10.71.0.2/24" and r["ips"][0]["interface"] == i
    eth0 = sandbox.links("c1")["eth0"]
    assert kind(eth0) == "vxlan" and info(eth0)["id"] == 42 and info(eth0)["port"] == 4789, eth0
    assert set(sandbox.links()) == host   # nothing of the attachment's on the host but its socket
    frames = capture(None, "eth1", lambda: ping("c1", "10.71.0.100"))
    assert ping("c1", "10.71.0.100")
    # IPv4 (no options) then UDP: the destination port at 36; 0x12b5 = 4789
    assert any(f.ethertype == 0x0800 and f.data[23] == 17 and f.data[36:38] == b"\x12\xb5" for f in frames), \
        "no VXLAN (UDP to port 4789) on the wire"
    gone(cni, sandbox, conf, host)
    assert cni.reserved() == []
