"""`vnet diagram` of the live kernel: an applied example drawn from what the
kernel holds, with a device vnet did not create, a device set down by hand,
a VXLAN tunnel joined across namespaces, and a TUN device linked to the
process that holds it."""
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "unit"))
from test_diagram import Drawn  # noqa: E402  (the same reading of DOT through Graphviz)

EX = ROOT / "examples"


def live(sandbox, *args):
    r = sandbox.vnet("diagram", *args)
    return Drawn(r.stdout)


def test_live_machine_with_a_stranger_and_a_down_device(sandbox):
    sandbox.vnet("apply", EX / "fig10-bridge.yaml")
    sandbox.sh("ip link add stranger type bridge && ip link set stranger up && ip addr add 192.0.2.1/24 dev stranger"
               " && ip -n net2 link set eth0 down")
    d = live(sandbox, "--live")
    assert d.clusters == {"host (vnet's namespace)": ["br0", "stranger", "veth1", "veth2"],
                          "netns net1": ["eth0"], "netns net2": ["eth0"]}
    assert d.relations() == {("peer", "host/veth1", "ns_net1/eth0"), ("peer", "host/veth2", "ns_net2/eth0"),
                             ("port", "host/veth1", "host/br0"), ("port", "host/veth2", "host/br0")}
    assert d.lines("host/stranger") == ["stranger", "bridge", "192.0.2.1/24"]
    assert d.lines("ns_net1/eth0") == ["eth0", "veth", "10.0.10.1/24"]
    assert d.lines("ns_net2/eth0") == ["eth0", "veth (down)", "10.0.10.2/24"]
    assert d.nodes["ns_net2/eth0"]["fillcolor"] == "#eeeeee"
    assert "lo" not in str(d.clusters)
    # the same topology by name: its own devices only, the stranger left out
    d = live(sandbox, "fig10")
    assert "stranger" not in d.clusters["host (vnet's namespace)"]
    assert d.clusters["netns net1"] == ["eth0"]
    # and an image of it
    out = sandbox.tmp / "live.svg"
    sandbox.vnet("diagram", "--live", "-o", out)
    assert b"stranger" in out.read_bytes()


def test_live_vxlan_tunnel_is_joined_end_to_end(sandbox):
    sandbox.vnet("apply", EX / "fig8-vxlan.yaml")
    d = live(sandbox, "--live")
    assert [(a, b, lbl) for a, b, rel, lbl in d.edges if rel == "tunnel"] == [
        ("ns_host1/vx0", "ns_host2/vx0", "VXLAN VNI 100, UDP 4789\\n192.168.8.1 - 192.168.8.2")]
    assert ("ns_host2/vx0", "ns_host2/eth0", "lower", "underlay") in d.edges
    assert d.lines("ns_host2/vx0") == ["vx0", "vxlan · VNI 100", "10.8.0.2/24"]


def test_a_tun_device_is_linked_to_the_process_holding_it(sandbox):
    sandbox.sh("ip netns add app")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time, vnet.tun as t; q = t.open('tun7', netns='app'); "
         "print('ok', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    try:
        assert holder.stdout.readline() == "ok\n"
        d = live(sandbox, "--live", "--netns", "app")
        name = os.path.basename(sys.executable)
        assert d.clusters == {"netns app": sorted(["tun7", f"{name} [{holder.pid}]"])}
        assert ("ns_app/tun7/process0", "ns_app/tun7", "process", "") in d.edges
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    d = live(sandbox, "--live", "--netns", "app")
    assert d.clusters == {"netns app": ["(no devices)"]}   # the device went with its last holder
