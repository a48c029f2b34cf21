"""`vnet script`: a topology as iproute2 commands in the reference article's
notation, compared with a golden file (regenerate with VNET_REGEN_GOLDEN=1
and review the diff)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vnet.kinds import REGISTRY
from vnet.render.iproute2 import script
from vnet.topofile.loader import load, load_text

ROOT = Path(__file__).resolve().parents[2]
CASE = ROOT / "tests" / "golden" / "script" / "all-kinds.yaml"
GOLDEN = CASE.with_suffix(".txt")
REGEN = os.environ.get("VNET_REGEN_GOLDEN") == "1"


@pytest.fixture(scope="module")
def lines():
    return script(load(str(CASE)))


def test_script_of_every_kind_matches_the_golden():
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    r = subprocess.run([sys.executable, "-m", "vnet", "script", str(CASE)], env=env, capture_output=True,
                       text=True, timeout=60)
    assert (r.returncode, r.stderr) == (0, "")
    if REGEN:
        GOLDEN.write_text(r.stdout)
    assert r.stdout == GOLDEN.read_text()


def test_the_golden_topology_uses_every_kind():
    used = {i.kind for i in load(str(CASE)).interfaces}
    # net_failover is made by the kernel only: declaring one is an error
    assert used == {k.name for k in REGISTRY} - {"net_failover"}, \
        "give the new kind a `sample`, run scripts/kind_tables.py (it writes all-kinds.yaml) and regenerate"


@pytest.mark.parametrize("line", [
    "ip link add veth1 type veth peer name eth0 netns net1",
    "ip link add link eth1 mv1 netns net2 type macvlan mode bridge",
    "ip link add vx0 type vxlan id 100 local 1.1.1.1 remote 2.2.2.2 dev eth0 dstport 4789",
    "ip tuntap add dev tap0 mode tap user 1000",
    "ip -n net1 tuntap add dev tun0 mode tun multi_queue",
    "ip link add br0 type bridge stp_state 0 hello_time 300 max_age 3000 group_fwd_mask 0x4000 mcast_snooping 0",
    "ip link set dev tap0 type bridge_slave hairpin on learning off isolated on cost 10 priority 5",
    "ip route add 10.8.0.0/24 via 10.0.0.1 dev br0 table 100 src 10.0.0.254 onlink",
    "ip route add 10.7.0.0/24 dev br0 scope host",
    "ip -n net1 addr add fd00::1/64 dev tun0 nodad",
    "ip link add link eth1 mvt0 type macvtap mode source macaddr set 02:00:00:00:00:0a",
    "bridge fdb append 00:00:00:00:00:00 dev vx1 dst 192.0.2.1",
    "ip link set veth1 master br0 up",
    "ip -n net1 addr add 10.0.0.1/24 brd + dev eth0",
    "ip -n net1 route add default via 10.0.0.254",
    "ip route add 10.9.0.0/24 via 10.0.0.1 metric 10",
    "ip netns exec net1 sysctl -w net.ipv6.conf.all.forwarding=1",
])
def test_reference_notation(lines, line):
    assert line in lines


BR0 = "ip link add br0 type bridge stp_state 0 hello_time 300 max_age 3000 group_fwd_mask 0x4000 mcast_snooping 0"


def test_order_builds_from_nothing(lines):
    at = lines.index
    assert at("ip netns add net1") < at("ip link add veth1 type veth peer name eth0 netns net1")
    assert at(BR0) < at("ip link set veth1 master br0 up")
    assert at(BR0) < at("ip link set tap0 master br0 up")
    adds = [i for i, ln in enumerate(lines) if " link add " in ln or " tuntap add " in ln]
    first_set = min(i for i, ln in enumerate(lines) if " link set " in ln and " lo " not in ln
                    and "mtu" not in ln)
    assert max(adds) < first_set, "every device exists before ports join masters"
    assert at("ip link set tap0 master br0 up") < at("ip link set dev tap0 type bridge_slave hairpin on learning off "
                                                     "isolated on cost 10 priority 5"), "port options once it joined"
    # the namespace-wide sysctls before any device (as apply: ip_forward sets every device's)
    assert at("ip netns exec net1 sysctl -w net.ipv6.conf.all.forwarding=1") < min(adds)


def test_external_devices_are_never_created(lines):
    assert not any(ln.startswith(("ip link add eth0 ", "ip link add eth1 ")) for ln in lines)


def test_device_left_down_is_not_set_up(lines):
    assert not any(ln.startswith("ip -n net1 link set tun0") for ln in lines)


def test_macvlan_in_the_host_on_a_lower_device_in_a_namespace():
    t = load_text("name: t\nnamespaces: [net1]\ninterfaces:\n"
                  "  - {name: eth1, kind: dummy, netns: net1}\n"
                  "  - {name: mv1, kind: macvlan, link: {name: eth1, netns: net1}, mode: private}\n")
    # created through the lower device's namespace, then moved to pid 1's (the host)
    assert "ip -n net1 link add link eth1 mv1 netns 1 type macvlan mode private" in script(t)


def test_veth_in_a_namespace_with_its_peer_in_the_host():
    t = load_text("name: t\nnamespaces: [net1]\ninterfaces:\n"
                  "  - {name: veth1, kind: veth, netns: net1, peer: {name: veth2}}\n")
    lines = script(t)
    assert "ip link add veth1 netns net1 type veth peer name veth2" in lines
    assert "ip link set veth2 up" in lines
