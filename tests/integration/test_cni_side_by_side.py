"""vnet and the reference plugins side by side: the same network
configuration list (the main plugin, host-local IPAM, then `tuning`) run
through Debian's reference plugins (containernetworking-plugins 1.1.1 in
/usr/lib/cni) and through vnet with nothing changed but the main plugin's
`type` ("vnet"), by the spec's runtime (cniruntime), each in a sandbox of
its own: the same "host NIC" eth1 there, a fresh container namespace c1,
host-local's reservations in a directory of its own (same subnet, so the
same addresses).

Compared, normalized by cnisnapshot (MACs, ifindexes, veth host names and
IPv6 link-local addresses left out): the result JSON; the container's
links, addresses and routes and the host devices they lead to (kind, mode,
VLAN id, MTU, master, addresses, routes: `ip -d -j link/addr/route`); what
that leaves out and a user still meets: the sysctls the plugins set
(arp_notify, forwarding...), a bridge port's hairpin and VLANs, whether a
gateway bridge keeps a MAC of its own. Then CHECK through the runtime
passes for both, DEL leaves both as clean as they were (the container
with lo only, host-local's reservation and the runtime's cache gone, the
host as before but for the bridge, which neither removes), and a second
DEL succeeds.

Where vnet differs from the reference on purpose, the comparison says so
(static_routes, vnet_state_files, arp_notify_on_vlan, and the cases'
comments) and asserts the difference is there before it sets it aside:
when one goes away, its exception must go too. The differences no
comparison can set aside have tests of their own, at the end.

Kernel features by the names tests/kernel_features.py probes: ipvlan,
vlan and bridge_vlan_filtering (not in this host's kernel) run in the
full-kernel guest."""
import json
import os
import re
import subprocess
import sys

import pytest

from cnisnapshot import dump, involved, kind_of, normalize_result, side, snapshot
from cniruntime import PluginError, Runtime
from conftest import sandboxed

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REFERENCE = "/usr/lib/cni"
NETWORK, SUBNET, GATEWAY = "sbs", "10.88.0.0/24", "10.88.0.1"
C1 = "/run/netns/c1"   # each side's own: every sandbox has a /run of its own

# no skip when the reference plugins are missing: scripts/setup.sh installs
# containernetworking-plugins, and a missing one is a failure to see

# tuning after the main plugin: a sysctl the main plugins do not touch, or an MTU
SYSCTL = {"sysctl": {"net.ipv4.conf.eth0.log_martians": "1"}}
MTU = {"mtu": 1300}

# name: (the main plugin as written for the reference, what tuning does, the kernel features it needs)
CASES = {
    "macvlan-bridge": ({"type": "macvlan", "master": "eth1", "mode": "bridge",
                        "dns": {"nameservers": ["10.88.0.53"], "search": ["example.test"]}}, SYSCTL, ("macvlan",)),
    "macvlan-private": ({"type": "macvlan", "master": "eth1", "mode": "private", "mtu": 1400}, SYSCTL,
                        ("macvlan",)),
    "macvlan-vepa": ({"type": "macvlan", "master": "eth1", "mode": "vepa"}, MTU, ("macvlan",)),
    # the kernel's, iproute2's, the reference's and vnet's word alike: "passthru"
    "macvlan-passthru": ({"type": "macvlan", "master": "eth1", "mode": "passthru"}, SYSCTL, ("macvlan",)),
    # no mode: the reference's default, bridge. (vnet's own default for a
    # macvlan in a topology file is vepa, the kernel's; its CNI form takes
    # the reference's.)
    "macvlan-default-mode": ({"type": "macvlan", "master": "eth1"}, MTU, ("macvlan",)),
    "ipvlan-l2": ({"type": "ipvlan", "master": "eth1", "mode": "l2"}, SYSCTL, ("ipvlan",)),
    "ipvlan-l3": ({"type": "ipvlan", "master": "eth1", "mode": "l3"}, MTU, ("ipvlan",)),
    # no mode: the reference's default, l2 (vnet's own in a file: l3). With
    # `type` changed only, vnet would make a macvlan: see
    # test_an_ipvlan_without_mode_needs_its_kind_said
    "ipvlan-default-mode": ({"type": "ipvlan", "master": "eth1"}, SYSCTL, ("ipvlan",)),
    "vlan": ({"type": "vlan", "master": "eth1", "vlanId": 100, "mtu": 1400}, SYSCTL, ("vlan",)),
    "bridge-gateway": ({"type": "bridge", "bridge": "cni0", "isGateway": True}, {**SYSCTL, **MTU}, ("bridge",)),
    "bridge-default-gateway": ({"type": "bridge", "bridge": "cni0", "isDefaultGateway": True, "mtu": 1400,
                                "hairpinMode": True}, SYSCTL, ("bridge",)),
    "bridge-port-vlan": ({"type": "bridge", "bridge": "cni0", "vlan": 100}, SYSCTL, ("bridge_vlan_filtering",)),
    "bridge-promisc": ({"type": "bridge", "bridge": "cni0", "isGateway": True, "promiscMode": True}, SYSCTL,
                       ("bridge",)),
}


def case_params():
    return [pytest.param(plugin, tuning, id=name, marks=pytest.mark.needs("veth", *needs))
            for name, (plugin, tuning, needs) in CASES.items()]


def conflist(plugin, tuning, ipam_dir):
    """The network: the main plugin with host-local, then tuning. host-local
    gives a default route through the gateway, unless the plugin makes
    that itself (isDefaultGateway: both would, and the reference fails
    ADD on the second)."""
    ipam = {"type": "host-local", "subnet": SUBNET, "dataDir": str(ipam_dir)}
    if not plugin.get("isDefaultGateway"):
        ipam["routes"] = [{"dst": "0.0.0.0/0"}]
    return {"cniVersion": "1.0.0", "name": NETWORK, "plugins": [{**plugin, "ipam": ipam}, {"type": "tuning", **tuning}]}


def as_vnet(plugin):
    """The configuration a user gives vnet: the same, `type` changed (and,
    where the type was all that said which interface, the kind: only an
    ipvlan without a mode, which vnet would read as a macvlan)."""
    said = {"kind": "ipvlan"} if plugin["type"] == "ipvlan" and "mode" not in plugin else {}
    return {**plugin, "type": "vnet", **said}


@pytest.fixture
def vnet_bin(tmp_path):
    """A CNI_PATH directory holding the installed vnet plugin (searched
    before the reference plugins' directory, which has host-local and tuning)."""
    d = tmp_path / "vnet-bin"
    subprocess.run([sys.executable, "-m", "vnet", "cni", "install", "--dir", str(d)], check=True,
                   capture_output=True, env={**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")})
    return str(d)


# ---- what a container got, beyond cnisnapshot's view ----------------------------------------------------

def sysctl(netns, key):
    """A sysctl's value in a namespace (None: this kernel or device has none)."""
    path = "/proc/sys/" + key.replace(".", "/")
    cmd = (["nsenter", f"--net={netns}"] if netns else []) + ["cat", path]
    r = subprocess.run(cmd, capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


def sysctls(plugin, tuning):
    """The sysctls the plugins may set: arp_notify and (bridge) accept_dad
    of the container's interface, tuning's; on the host, forwarding and
    (bridge) the bridge's accept_ra."""
    box = ["net.ipv4.conf.eth0.arp_notify", "net.ipv6.conf.eth0.accept_dad", *tuning.get("sysctl", {})]
    host = ["net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"]
    if plugin.get("bridge"):
        host.append(f"net.ipv6.conf.{plugin['bridge']}.accept_ra")
    return {"container": {k: sysctl(C1, k) for k in box}, "host": {k: sysctl(None, k) for k in host}}


def bridging(box_links, host_links):
    """Of the host devices the container leads to: each bridge's VLAN
    filtering, whether its MAC is its own (not one of its ports', which
    a bridge takes when none was set, and changes as ports come and go)
    and whether it is promiscuous (the PROMISC flag, and the count of
    those who asked); each bridge port's hairpin and (filtering bridge) VLANs."""
    labels = involved(box_links, host_links)
    mine = [ln for ln in host_links if ln["ifindex"] in labels]
    filtering = {ln["ifname"] for ln in mine if kind_of(ln) == "bridge"
                 and ln["linkinfo"].get("info_data", {}).get("vlan_filtering")}
    vlans = {}
    if filtering:
        vlans = {e["ifname"]: sorted((v["vlan"], *sorted(v.get("flags", []))) for v in e["vlans"])
                 for e in json.loads(subprocess.run(["bridge", "-j", "vlan", "show"], capture_output=True,
                                                    text=True, check=True).stdout or "[]")}
    out = {}
    for ln in mine:
        view = {}
        if kind_of(ln) == "bridge":
            ports = {p["address"] for p in host_links if p.get("master") == ln["ifname"]}
            view["vlan_filtering"] = bool(ln["linkinfo"].get("info_data", {}).get("vlan_filtering"))
            view["mac"] = "a port's" if ln["address"] in ports else "its own"
            view["promisc"] = ("PROMISC" in ln["flags"], ln["promiscuity"])
        if ln.get("master"):
            view["hairpin"] = bool((ln["linkinfo"].get("info_slave_data") or {}).get("hairpin"))
        if ln["ifname"] in filtering or ln.get("master") in filtering:
            view["vlans"] = vlans.get(ln["ifname"], [])
        if view:
            out[labels[ln["ifindex"]]] = view
    return out


def whole(netns=None):
    """Every link of a namespace by name, with its addresses, and its routes."""
    d = dump(netns)
    return settled(side(d, {ln["ifindex"]: ln["ifname"] for ln in d["links"]}, {}))


def settled(view):
    """A side's view without its routes' "linkdown" flag: the carrier of a
    bridge whose last port comes or goes, which the kernel's link watch
    sets a moment later (up to a second), not what a plugin did."""
    for r in view["routes"]:
        if "linkdown" in r.get("flags", ()):
            r["flags"] = [f for f in r["flags"] if f != "linkdown"]
            if not r["flags"]:
                del r["flags"]
    return view


def run_files():
    """The files under /run (the sandbox's), but for the namespaces'."""
    out = []
    for top, _dirs, files in os.walk("/run"):
        out += [os.path.relpath(os.path.join(top, f), "/run") for f in files if not top.startswith("/run/netns")]
    return sorted(out)


class Side:
    """One plugin's run of a configuration: ADD, look, CHECK, DEL, look, DEL again."""

    def __init__(self, tmp, conf, cni_path, ping=None, setup=None):
        with sandboxed(tmp) as sb:
            sb.external("eth1")
            sb.sh("ip netns add c1")
            if setup:
                sb.sh(setup)
            rt = Runtime(conf, cni_path, tmp / "cache")
            before, files_before = whole(), run_files()
            self.raw = rt.add("c1", C1, "eth0")
            self.result = normalize_result(self.raw, sandboxes={C1: "<c1>"})
            plugin, tuning = conf["plugins"]
            self.got = {"snapshot": {w: settled(v) for w, v in snapshot(C1).items()},
                        "sysctls": sysctls(plugin, tuning),
                        "bridging": bridging(dump(C1)["links"], dump()["links"])}
            if ping:
                r = subprocess.run(["nsenter", f"--net={C1}", "ping", "-c1", "-W5", ping], capture_output=True)
                self.got["reaches " + ping] = r.returncode == 0
            try:
                rt.check("c1", C1, "eth0")
                self.check = "passed"
            except PluginError as e:
                self.check = e
            rt.delete("c1", C1, "eth0")
            self.after = {"container": whole(C1), "host": whole(),
                          "reserved": sorted(os.listdir(tmp / "ipam" / NETWORK)),
                          "cached": rt.cached("c1", "eth0")}
            self.new_files = [f for f in run_files() if f not in files_before]
            self.before = before
            rt.delete("c1", C1, "eth0")   # the spec: DEL of what is gone succeeds


def side_by_side(tmp_path, vnet_bin, plugin, tuning, ping=None, setup=None):
    """Each side's run; ``setup``, a shell command, first in each sandbox."""
    ref = Side(tmp_path / "reference", conflist(plugin, tuning, tmp_path / "reference" / "ipam"), [REFERENCE], ping,
               setup)
    vn = Side(tmp_path / "vnet", conflist(as_vnet(plugin), tuning, tmp_path / "vnet" / "ipam"),
              [vnet_bin, REFERENCE], ping, setup)
    return ref, vn


# ---- the differences that are meant ---------------------------------------------------------------------

def static_routes(ref, vn):
    """vnet marks every route it adds `proto static` (RTPROT_STATIC, in
    src/vnet/kernel/rtnl.py, for all its topologies); the reference plugins
    add theirs as `ip route add` does, `proto boot` (which `ip -j route`
    leaves out). `ip route` in the container shows "proto static" after
    vnet's routes."""
    for which in ("container", "host"):
        theirs = ref["snapshot"][which]["routes"]
        ours = vn["snapshot"][which]["routes"]
        for r in ours:
            if r.get("protocol") == "static":
                plain = {k: v for k, v in r.items() if k != "protocol"}
                assert plain in theirs, f"vnet's route {r} is not one the reference made"
                r.pop("protocol")
        ours.sort(key=lambda r: json.dumps(r, sort_keys=True))


def vnet_state_files(new_files):
    """What vnet keeps in its state directory after DEL: for a bridge, the
    record and lock file of the bridge, which outlives every attachment (the
    reference keeps no record, and removes no bridge either), and the warm
    vnet's socket (or, while the warm vnet the first call started is still
    importing, the mark of its start, gone when it listens). Nothing else
    under /run."""
    rest = [f for f in new_files if not f.startswith("vnet/")]
    for f in new_files:
        if f.startswith("vnet/"):
            # the bridge's lock file stays with its record; an attachment's goes with it; the
            # warm vnet's socket (docs/cni.md) stays until it leaves, idle
            assert f.startswith("vnet/cni-bridge-") and f.endswith((".json", ".lock")) or \
                re.fullmatch(r"vnet/cni-[0-9a-f]{8}\.sock(\.starting)?", f), f
    return rest


def arp_notify_on_vlan(plugin, ref, vn):
    """The reference vlan plugin leaves the container's arp_notify as it is
    (0), where its macvlan, ipvlan and bridge plugins turn it on; vnet turns
    it on for every interface IPAM gives addresses (a gratuitous ARP as the
    interface comes up, so that neighbours forget the MAC of an earlier
    holder of its address), a vlan's too."""
    if plugin["type"] == "vlan":
        key = "net.ipv4.conf.eth0.arp_notify"
        assert (ref["sysctls"]["container"][key], vn["sysctls"]["container"][key]) == ("0", "1")
        vn["sysctls"]["container"][key] = "0"


def compare(plugin, ref, vn):
    """Assert the two runs give the user the same, but for what is meant."""
    assert vn.result == ref.result
    static_routes(ref.got, vn.got)
    arp_notify_on_vlan(plugin, ref.got, vn.got)
    assert vn.got == ref.got
    assert ref.check == "passed", ref.check
    assert vn.check == "passed", vn.check
    assert ref.after["container"]["links"].keys() == {"lo"}
    assert vn.after == ref.after
    assert ref.after["reserved"] == ["last_reserved_ip.0", "lock"] and ref.after["cached"] is None
    assert vnet_state_files(vn.new_files) == ref.new_files == []


@pytest.mark.parametrize("plugin, tuning", case_params())
def test_same_configuration_same_container(tmp_path, vnet_bin, plugin, tuning):
    ref, vn = side_by_side(tmp_path, vnet_bin, plugin, tuning,
                           ping=GATEWAY if plugin.get("isGateway") or plugin.get("isDefaultGateway") else None)
    compare(plugin, ref, vn)
    # the host as before but for a bridge, kept by both
    keep = {plugin.get("bridge")} if plugin["type"] == "bridge" else set()
    assert {n: v for n, v in ref.after["host"]["links"].items() if n not in keep} == ref.before["links"]


@pytest.mark.needs("veth", "bridge")
def test_promisc_mode_on_a_bridge_someone_else_made(tmp_path, vnet_bin):
    """promiscMode with a bridge that exists already and is not vnet's:
    the reference makes the bridge it finds promiscuous, and so does vnet
    (and, as the reference, leaves it so after DEL: the bridge is not the
    attachment's). The bridge is made with accept_ra 0: the reference
    also turns off router advertisements on a bridge it finds, vnet leaves
    a bridge it did not make as it is (but for promiscMode), a difference
    of its own."""
    plugin = {"type": "bridge", "bridge": "br9", "promiscMode": True}
    ref, vn = side_by_side(tmp_path, vnet_bin, plugin, SYSCTL, setup="ip link add br9 type bridge && "
                           "sysctl -qw net.ipv6.conf.br9.accept_ra=0 && ip link set br9 up")
    compare(plugin, ref, vn)
    assert [v["promisc"] for v in vn.got["bridging"].values() if "promisc" in v] == [(True, 1)], vn.got["bridging"]
    assert ref.after["host"]["links"] == ref.before["links"]


# ---- the differences a comparison cannot set aside -------------------------------------------------------

@pytest.mark.needs("veth", "macvlan")
def test_check_after_tuning_changed_an_mtu_the_plugin_set(tmp_path, vnet_bin):
    """A conflicting chain: the plugin asks for MTU 1400, tuning then sets
    1300. Both containers get 1300 and the same result; the reference
    macvlan plugin's CHECK does not look at the MTU and passes, vnet's CHECK
    verifies everything its configuration asked for and names the MTU
    (code 101). Meant: the reference vlan plugin's CHECK fails alike
    ("Tuning configured MTU of eth0 is 1400, current value is 1300")."""
    plugin = {"type": "macvlan", "master": "eth1", "mode": "bridge", "mtu": 1400}
    ref, vn = side_by_side(tmp_path, vnet_bin, plugin, MTU)
    assert vn.result == ref.result
    assert ref.got["snapshot"]["container"]["links"]["eth0"]["mtu"] == 1300 == \
        vn.got["snapshot"]["container"]["links"]["eth0"]["mtu"]
    assert ref.check == "passed"
    assert (vn.check.plugin, vn.check.code) == ("vnet", 101)
    assert "link /run/netns/c1/eth0: mtu 1300 -> 1400" in vn.check.msg
    assert vn.after == ref.after


@pytest.mark.needs("veth", "macvlan")
def test_an_ipvlan_without_mode_needs_its_kind_said(tmp_path, vnet_bin):
    """{"type": "ipvlan", "master": ...} with no mode is an l2 ipvlan to the
    reference; with only `type` changed nothing says ipvlan any more, and
    vnet reads a `master` alone as a macvlan (bridge), as it reads one
    written for the reference macvlan plugin. Meant (the kind is inferred
    from the keys: docs of the one-interface form); "kind": "ipvlan" makes
    it the reference's (case ipvlan-default-mode)."""
    plugin = {"type": "vnet", "master": "eth1"}
    with sandboxed(tmp_path) as sb:
        sb.external("eth1")
        sb.sh("ip netns add c1")
        Runtime(conflist(plugin, SYSCTL, tmp_path / "ipam"), [vnet_bin, REFERENCE], tmp_path / "cache") \
            .add("c1", C1, "eth0")
        eth0 = snapshot(C1)["container"]["links"]["eth0"]
        assert (eth0["kind"], eth0["mode"]) == ("macvlan", "bridge")


@pytest.mark.needs("veth", "bridge_vlan_filtering")
def test_a_gateway_in_a_port_vlan(tmp_path, vnet_bin):
    """isGateway with `vlan`: the reference gives the gateway address to a
    veth of its own, cni0.100 in the host, its other end a port of the
    bridge in VLAN 100, and lists it last among the result's interfaces.
    vnet does not make that veth: it refuses the configuration (code 2,
    before IPAM reserves anything) rather than put the gateway on the
    bridge, outside the containers' VLAN."""
    plugin = {"type": "bridge", "bridge": "cni0", "isGateway": True, "vlan": 100}
    with sandboxed(tmp_path / "reference") as sb:
        sb.sh("ip netns add c1")
        rt = Runtime(conflist(plugin, SYSCTL, tmp_path / "reference" / "ipam"), [REFERENCE],
                     tmp_path / "reference" / "cache")
        result = rt.add("c1", C1, "eth0")
        assert [i["name"] for i in result["interfaces"]][-1] == "cni0.100"
        assert whole()["links"]["cni0.100"]["addrs"] == [f"{GATEWAY}/24"]
        ping = subprocess.run(["nsenter", f"--net={C1}", "ping", "-c1", "-W5", GATEWAY], capture_output=True)
        assert ping.returncode == 0
        rt.delete("c1", C1, "eth0")
    with sandboxed(tmp_path / "vnet") as sb:
        sb.sh("ip netns add c1")
        rt = Runtime(conflist(as_vnet(plugin), SYSCTL, tmp_path / "vnet" / "ipam"), [vnet_bin, REFERENCE],
                     tmp_path / "vnet" / "cache")
        with pytest.raises(PluginError) as e:
            rt.add("c1", C1, "eth0")
        assert (e.value.plugin, e.value.code) == ("vnet", 2) and "isGateway with vlan" in e.value.msg
        assert not (tmp_path / "vnet" / "ipam").exists()
        assert whole(C1)["links"].keys() == {"lo"}
