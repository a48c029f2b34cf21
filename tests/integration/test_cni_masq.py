"""ipMasq of the bridge plugin, vnet beside the reference (Debian's
containernetworking-plugins 1.1.1): the same conflist (bridge with
isGateway and ipMasq, host-local with an IPv4 and an IPv6 range, tuning
after it) through each, in a sandbox of its own; the nat tables
(`iptables -t nat -S`, `ip6tables -t nat -S`) compared with the chain
names set aside (vnet names its chain for the attachment: src/vnet/cni/masq.py);
CHECK passes, DEL leaves the tables as they were.

Then what a user would notice: a container behind the bridge reaches an
"outside" namespace that has no route back to the containers' subnet, and
the outside sees the host's address as the source; CHECK names a rule
someone removed; DEL succeeds when the rules or the container's namespace
are gone first (the reference, there, leaves its rules behind); an ADD
that cannot make its rules leaves nothing; Podman's default network works
with its `type` changed. With macspoofchk too (test_cni_spoofchk.py has
its own comparison): fifty ADDs at once, an ADD killed at any moment then
DEL, and GC, each leaving exactly the rules of the attachments that stay.

Everything in the test's sandbox namespaces: no rule in the machine's own."""
import json
import os
import re
import subprocess

import pytest

from cniruntime import PluginError, Runtime
from conftest import sandboxed
from test_cni_plugin import cni, kill_each_add_then_del  # noqa: F401  (cni: the fixture)
from test_cni_side_by_side import C1, REFERENCE, SYSCTL, as_vnet, vnet_bin  # noqa: F401  (the fixture)

NETWORK, SUBNET, SUBNET6 = "sbs", "10.88.0.0/24", "fd88::/64"
PLUGIN = {"type": "bridge", "bridge": "cni0", "isGateway": True, "ipMasq": True}
OUTSIDE, HOST_OUT = "192.0.2.2", "192.0.2.1"


def conflist(plugin, ipam_dir, v6=True, routes=True):
    ranges = [[{"subnet": SUBNET}]] + ([[{"subnet": SUBNET6}]] if v6 else [])
    ipam = {"type": "host-local", "ranges": ranges, "dataDir": str(ipam_dir)}
    if routes:
        ipam["routes"] = [{"dst": "0.0.0.0/0"}]
    return {"cniVersion": "1.0.0", "name": NETWORK, "plugins": [{**plugin, "ipam": ipam}, {"type": "tuning", **SYSCTL}]}


def nat():
    """Both nat tables, as iptables -S lists them, chain names CNI-<chain>."""
    out = {}
    for tool in ("iptables", "ip6tables"):
        text = subprocess.run([tool, "-w", "-t", "nat", "-S"], capture_output=True, text=True, check=True).stdout
        out[tool] = re.sub(r"\bCNI-[0-9a-f]{24}\b", "CNI-<chain>", text).splitlines()
    return out


def run(tmp, plugin, cni_path):
    """ADD, the nat tables, CHECK, DEL, the nat tables again, DEL again."""
    with sandboxed(tmp) as sb:
        sb.sh("ip netns add c1")
        rt = Runtime(conflist(plugin, tmp / "ipam"), cni_path, tmp / "cache")
        before = nat()
        rt.add("c1", C1, "eth0")
        made = nat()
        rt.check("c1", C1, "eth0")
        rt.delete("c1", C1, "eth0")
        after = nat()
        rt.delete("c1", C1, "eth0")
        return before, made, after


@pytest.mark.needs("veth", "bridge")
def test_the_same_nat_rules_as_the_reference(tmp_path, vnet_bin):  # noqa: F811
    ref = run(tmp_path / "reference", PLUGIN, [REFERENCE])
    vn = run(tmp_path / "vnet", as_vnet(PLUGIN), [vnet_bin, REFERENCE])
    assert vn == ref
    before, made, after = vn
    comment = '-m comment --comment "name: \\"sbs\\" id: \\"c1\\""'
    assert f"-A POSTROUTING -s 10.88.0.2/32 {comment} -j CNI-<chain>" in made["iptables"]
    assert f"-A CNI-<chain> ! -d 224.0.0.0/4 {comment} -j MASQUERADE" in made["iptables"]
    assert f"-A CNI-<chain> -d fd88::/64 {comment} -j ACCEPT" in made["ip6tables"]
    assert after == before


class Net:
    """A sandbox (the host) with vnet's bridge network: container c1 behind
    cni0 with ipMasq and a default route through it, and an "outside"
    namespace on a veth from the host (192.0.2.0/24), with no route back
    to the containers' subnet."""

    def __init__(self, sb, tmp, vnet_bin, plugin=PLUGIN):  # noqa: F811
        self.sb, self.tmp = sb, tmp
        sb.sh("ip netns add c1 && ip netns add out")
        sb.sh(f"ip link add wan type veth peer name eth0 netns out && ip addr add {HOST_OUT}/24 dev wan && "
              f"ip link set wan up && ip -n out addr add {OUTSIDE}/24 dev eth0 && ip -n out link set eth0 up && "
              "ip -n out link set lo up")
        self.rt = Runtime(conflist(as_vnet(plugin), tmp / "ipam", v6=False), [vnet_bin, REFERENCE], tmp / "cache")

    def source_seen_outside(self):
        """The source address a TCP connection from c1 has at the outside
        (None: no connection)."""
        server = subprocess.Popen(
            ["ip", "netns", "exec", "out", "python3", "-c",
             "import socket; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
             "s.bind(('0.0.0.0', 7000)); s.listen(); s.settimeout(8); print('ready', flush=True); "
             "c, peer = s.accept(); c.sendall(peer[0].encode()); c.close()"],
            stdout=subprocess.PIPE, text=True)
        try:
            assert server.stdout.readline().strip() == "ready"
            client = subprocess.run(
                ["nsenter", f"--net={C1}", "python3", "-c",
                 f"import socket; s = socket.create_connection(('{OUTSIDE}', 7000), timeout=3); "
                 "print(s.recv(100).decode())"], capture_output=True, text=True)
            return client.stdout.strip() if client.returncode == 0 else None
        finally:
            server.kill()
            server.wait()


@pytest.mark.needs("veth", "bridge")
def test_the_outside_sees_the_host_address(tmp_path, vnet_bin):  # noqa: F811
    with sandboxed(tmp_path) as sb:
        net = Net(sb, tmp_path, vnet_bin)
        net.rt.add("c1", C1, "eth0")
        assert net.source_seen_outside() == HOST_OUT
        net.rt.delete("c1", C1, "eth0")
        assert nat()["iptables"] == ["-P PREROUTING ACCEPT", "-P INPUT ACCEPT", "-P OUTPUT ACCEPT",
                                     "-P POSTROUTING ACCEPT"]


@pytest.mark.needs("veth", "bridge")
def test_without_ipmasq_the_outside_cannot_answer(tmp_path, vnet_bin):  # noqa: F811
    """The control: the same network without ipMasq; the outside has no
    route back to 10.88.0.0/24, so no connection."""
    with sandboxed(tmp_path) as sb:
        net = Net(sb, tmp_path, vnet_bin, {**PLUGIN, "ipMasq": False})
        net.rt.add("c1", C1, "eth0")
        assert net.source_seen_outside() is None
        assert not any("CNI-" in ln for ln in nat()["iptables"])


@pytest.mark.needs("veth", "bridge")
def test_check_names_a_rule_removed_and_del_still_succeeds(tmp_path, vnet_bin):  # noqa: F811
    with sandboxed(tmp_path) as sb:
        net = Net(sb, tmp_path, vnet_bin)
        net.rt.add("c1", C1, "eth0")
        jump = next(ln for ln in subprocess.run(["iptables", "-t", "nat", "-S", "POSTROUTING"], capture_output=True,
                                                text=True, check=True).stdout.splitlines() if "CNI-" in ln)
        sb.sh("iptables -t nat " + jump.replace("-A", "-D", 1))
        with pytest.raises(PluginError) as e:
            net.rt.check("c1", C1, "eth0")
        assert (e.value.plugin, e.value.code) == ("vnet", 101)
        assert "ipMasq" in e.value.msg and "-s 10.88.0.2 " in e.value.msg
        net.rt.delete("c1", C1, "eth0")
        assert not any("CNI-" in ln for ln in nat()["iptables"])
        assert not [f for f in os.listdir("/run/vnet") if f.endswith(".masq")]


@pytest.mark.needs("veth", "bridge")
def test_del_after_the_namespace_went_removes_the_rules(tmp_path, vnet_bin):  # noqa: F811
    """The runtime deleted the container's namespace first: vnet's DEL
    removes the rules from its record. Meant difference: the reference
    reads the addresses to unmasquerade from the container's interface,
    and with the namespace gone its rules stay."""
    for side, path in (("reference", [REFERENCE]), ("vnet", None)):
        with sandboxed(tmp_path / side) as sb:
            sb.sh("ip netns add c1")
            plugin = PLUGIN if side == "reference" else as_vnet(PLUGIN)
            rt = Runtime(conflist(plugin, tmp_path / side / "ipam", v6=False), path or [vnet_bin, REFERENCE],
                         tmp_path / side / "cache")
            rt.add("c1", C1, "eth0")
            sb.sh("ip netns del c1")
            rt.delete("c1", "", "eth0")
            left = [ln for ln in nat()["iptables"] if "CNI-" in ln]
            assert bool(left) == (side == "reference"), left


@pytest.mark.needs("veth", "bridge")
def test_an_add_that_cannot_make_its_rules_leaves_nothing(tmp_path, vnet_bin, monkeypatch):  # noqa: F811
    """No iptables where the plugin looks (PATH without the sbin
    directories): ADD fails naming what it needs, the veth is gone, the
    address released, nothing recorded."""
    with sandboxed(tmp_path) as sb:
        sb.sh("ip netns add c1")
        rt = Runtime(conflist(as_vnet(PLUGIN), tmp_path / "ipam", v6=False), [vnet_bin, REFERENCE],
                     tmp_path / "cache")
        monkeypatch.setenv("PATH", "/nonexistent")
        monkeypatch.setenv("VNET_CNI_SERVER", "0")
        with pytest.raises(PluginError) as e:
            rt.add("c1", C1, "eth0")
        monkeypatch.undo()
        assert (e.value.plugin, e.value.code) == ("vnet", 100)
        assert "ipMasq needs iptables" in e.value.msg
        links = json.loads(subprocess.run(["ip", "-n", "c1", "-j", "link"], capture_output=True, text=True,
                                          check=True).stdout)
        assert [ln["ifname"] for ln in links] == ["lo"]
        assert not [ln for ln in json.loads(sb.sh("ip -j link")) if ln["ifname"].startswith("veth")]
        assert sorted(os.listdir(tmp_path / "ipam" / NETWORK)) == ["last_reserved_ip.0", "lock"]
        assert not [f for f in os.listdir("/run/vnet") if f.endswith(".masq")]
        assert not any("CNI-" in ln for ln in nat()["iptables"])


@pytest.mark.needs("veth", "bridge")
def test_podmans_default_network_with_type_changed(tmp_path, vnet_bin):  # noqa: F811
    """Podman 4's default network (87-podman-bridge.conflist: bridge with
    isGateway, ipMasq and hairpinMode, then portmap, firewall and tuning),
    `type` changed to vnet: ADD, CHECK, DEL through the whole chain; the
    container reaches the outside, masqueraded, and DEL leaves the nat and
    filter tables as the reference plugins' DELs leave them."""
    first = {"type": "vnet", "bridge": "cni-podman0", "isGateway": True, "ipMasq": True, "hairpinMode": True,
             "ipam": {"type": "host-local", "routes": [{"dst": "0.0.0.0/0"}], "dataDir": str(tmp_path / "ipam"),
                      "ranges": [[{"subnet": "10.88.0.0/16", "gateway": "10.88.0.1"}]]}}
    conf = {"cniVersion": "0.4.0", "name": "podman",
            "plugins": [first, {"type": "portmap", "capabilities": {"portMappings": True}}, {"type": "firewall"},
                        {"type": "tuning"}]}
    with sandboxed(tmp_path) as sb:
        net = Net(sb, tmp_path, vnet_bin)
        net.rt = Runtime(conf, [vnet_bin, REFERENCE], tmp_path / "cache")
        net.rt.add("c1", C1, "eth0")
        assert net.source_seen_outside() == HOST_OUT
        net.rt.check("c1", C1, "eth0")
        masq = [ln for ln in nat()["iptables"] if "CNI-" in ln and "comment" in ln and "podman" in ln]
        assert len(masq) == 3, masq
        net.rt.delete("c1", C1, "eth0")
        assert not [ln for ln in nat()["iptables"] if "10.88.0.2" in ln or "name: \\\"podman\\\"" in ln]
        assert not [f for f in os.listdir("/run/vnet") if f.endswith(".masq")]


@pytest.mark.needs("veth", "bridge")
def test_fifty_adds_at_once_with_ipmasq_and_macspoofchk(cni, sandbox):
    """Fifty ADDs at once on one bridge, each making its NAT rules and MAC
    filter beside the others' (iptables-nft and nft commit their
    transactions one at a time): each gets its three rules and four, and
    DEL takes them all, nothing else left."""
    conf = cni.conf(subnet="10.31.0.0/24", bridge="cnibr1", isGateway=True, ipMasq=True, macspoofchk=True)
    names = [f"p{i}" for i in range(50)]
    results = cni.add_at_once(conf, names)
    rules = [ln for ln in nat()["iptables"] if "CNI-" in ln and not ln.startswith("-N")]
    assert len(rules) == 150
    for r in results:
        assert f"-A POSTROUTING -s {r['ips'][0]['address'].split('/')[0]}/32" in "\n".join(rules)
    filters = [i for i in json.loads(sandbox.sh("nft -j list table bridge nat"))["nftables"] if "rule" in i]
    assert len(filters) == 200
    procs = [cni.start("DEL", conf, n) for n in names]
    assert [p.wait() for p in procs] == [0] * 50
    assert not [ln for ln in nat()["iptables"] if "CNI-" in ln]
    assert not [i for i in json.loads(sandbox.sh("nft -j list table bridge nat"))["nftables"] if "rule" in i]
    assert cni.reserved() == [] and not [f for f in os.listdir("/run/vnet") if f.endswith((".masq", ".spoofchk"))]


@pytest.mark.needs("veth", "bridge")
def test_an_add_killed_at_any_moment_leaves_no_rule_after_del(cni, sandbox):
    """SIGKILL at a spread of moments of an ADD with ipMasq and macspoofchk
    (before IPAM, mid-apply, while the rules are made, after): the runtime's
    DEL then leaves no rule, no record, no device, no reservation."""
    def no_rule(delay):
        assert not [ln for ln in nat()["iptables"] if "CNI-" in ln], delay
        nft = subprocess.run(["nft", "-j", "list", "table", "bridge", "nat"], capture_output=True, text=True)
        assert nft.returncode != 0 or not [i for i in json.loads(nft.stdout)["nftables"] if "rule" in i], delay
    kill_each_add_then_del(cni, sandbox, cni.conf(bridge="cnibr2", isGateway=True, ipMasq=True, macspoofchk=True),
                           [0.0, 0.02, 0.04, 0.06, 0.08, 0.1, 0.12, 0.15, 0.2, 0.3, 0.5], then=no_rule)
    assert cni.reserved() == []
    assert not [n for n in sandbox.links() if n.startswith("veth")]
    assert not [f for f in os.listdir("/run/vnet") if ".masq" in f or ".spoofchk" in f]


@pytest.mark.needs("veth", "bridge")
def test_gc_removes_the_rules_of_the_attachments_it_removes(cni, sandbox):
    conf = cni.conf(version="1.1.0", subnet="10.32.0.0/24", bridge="cnibr3", isGateway=True, ipMasq=True,
                    macspoofchk=True)
    kept, gone = cni.add_at_once(conf, ["g0", "g1"])
    cni.ok("GC", {**conf, "cni.dev/valid-attachments": [{"containerID": "g0", "ifname": "eth0"}]})
    left = "\n".join(ln for ln in nat()["iptables"] if "CNI-" in ln)
    assert f"-s {kept['ips'][0]['address'].split('/')[0]}/32" in left
    assert f"-s {gone['ips'][0]['address'].split('/')[0]}/32" not in left
    comments = {i["rule"]["comment"] for i in json.loads(sandbox.sh("nft -j list table bridge nat"))["nftables"]
                if "rule" in i}
    assert comments == {"macspoofchk-g0-eth0"}
