"""The CNI runtime (cniruntime) proven against the reference plugins
(Debian's containernetworking-plugins 1.1.1 in /usr/lib/cni, speaking CNI
up to 1.0.0): each container a fresh named namespace of the sandbox, the
"host NIC" one end of a veth pair there, host-local's data in tmp_path."""
import json
import os
import subprocess

import pytest

from cnisnapshot import ip_json, normalize_result, snapshot
from cniruntime import PluginError, Runtime, find_plugin, run_plugin

CNI_PATH = ["/usr/lib/cni"]
MAC = "02:11:22:33:44:55"


@pytest.fixture
def cni_path():
    for t in ("macvlan", "ipvlan", "vlan", "bridge", "host-local", "tuning"):
        assert os.access(f"/usr/lib/cni/{t}", os.X_OK), \
            f"no reference CNI plugin {t} (apt-get install containernetworking-plugins; scripts/setup.sh does it)"
    return CNI_PATH


def container(sandbox, name):
    sandbox.sh(f"ip netns add {name}")
    return f"/run/netns/{name}"


def host_local(tmp_path, subnet, **kw):
    return {"type": "host-local", "subnet": subnet, "dataDir": str(tmp_path / "ipam"), **kw}


def in_ns(path, cmd):
    return subprocess.run(["nsenter", f"--net={path}", *cmd], capture_output=True, text=True)


def macvlan_net(tmp_path, version="1.0.0"):
    """macvlan (bridge mode) on eth1 with host-local, then tuning (the mac
    capability, and a sysctl)."""
    return {"cniVersion": version, "name": "mvnet", "plugins": [
        {"type": "macvlan", "master": "eth1", "mode": "bridge",
         "ipam": host_local(tmp_path, "10.77.0.0/24", routes=[{"dst": "0.0.0.0/0", "gw": "10.77.0.1"}])},
        {"type": "tuning", "capabilities": {"mac": True}, "sysctl": {"net.ipv4.conf.eth0.arp_notify": "1"}}]}


@pytest.fixture
def mvnet(sandbox, tmp_path, cni_path):
    sandbox.external("eth1")
    return Runtime(macvlan_net(tmp_path), cni_path, tmp_path / "cache")


def macvlan_result(version, address):
    ip = {"interface": 0, "address": address, "gateway": "10.77.0.1"}
    return {"cniVersion": version, "interfaces": [{"name": "eth0", "mac": "<mac>", "sandbox": "<netns>"}],
            "ips": [{"version": "4", **ip} if version == "0.4.0" else ip],
            "routes": [{"dst": "0.0.0.0/0", "gw": "10.77.0.1"}], "dns": {}}


@pytest.mark.needs("macvlan", "veth")
@pytest.mark.parametrize("version", ["1.0.0", "0.4.0"])
def test_macvlan_add_gives_the_container_its_interface_and_address(sandbox, tmp_path, cni_path, version):
    sandbox.external("eth1")
    c1 = container(sandbox, "c1")
    rt = Runtime(macvlan_net(tmp_path, version), cni_path, tmp_path / "cache")
    result = rt.add("c1", c1, "eth0", capability_args={"mac": MAC})
    assert normalize_result(result) == macvlan_result(version, "10.77.0.2/24")
    assert result["interfaces"][0]["mac"] == MAC and result["interfaces"][0]["sandbox"] == c1
    box = snapshot(c1)["container"]
    assert box["links"]["eth0"] == {"kind": "macvlan", "mode": "bridge", "mtu": 1500, "up": True,
                                    "lower": "eth1", "addrs": ["10.77.0.2/24"]}
    assert {"dst": "default", "gateway": "10.77.0.1", "dev": "eth0"} in box["routes"]
    # tuning's work: the MAC the runtime's capability argument asked for, and the sysctl
    assert [ln["address"] for ln in ip_json(c1, "link", "show", "eth0")] == [MAC]
    assert in_ns(c1, ["cat", "/proc/sys/net/ipv4/conf/eth0/arp_notify"]).stdout == "1\n"


@pytest.mark.needs("macvlan", "veth")
def test_macvlan_check_passes_and_a_second_container_reaches_the_first(sandbox, mvnet):
    c1, c2 = container(sandbox, "c1"), container(sandbox, "c2")
    first = mvnet.add("c1", c1, "eth0")["ips"][0]["address"].split("/")[0]
    mvnet.add("c2", c2, "eth0")
    mvnet.check("c1", c1, "eth0")
    mvnet.check("c2", c2, "eth0")
    ping = in_ns(c2, ["ping", "-c", "1", "-W", "5", first])
    assert ping.returncode == 0, ping.stdout + ping.stderr


@pytest.mark.needs("macvlan", "veth")
def test_macvlan_check_fails_when_what_the_result_lists_is_gone(sandbox, mvnet):
    c1 = container(sandbox, "c1")
    address = mvnet.add("c1", c1, "eth0")["ips"][0]["address"]
    sandbox.sh(f"ip -n c1 addr del {address} dev eth0")
    with pytest.raises(PluginError) as e:
        mvnet.check("c1", c1, "eth0")
    assert (e.value.plugin, e.value.command, e.value.code) == ("macvlan", "CHECK", 999)
    assert e.value.msg == f"Failed to match addr {address} on interface eth0"


@pytest.mark.needs("macvlan", "veth")
def test_macvlan_del_removes_the_interface_and_releases_the_address(sandbox, tmp_path, mvnet):
    c1 = container(sandbox, "c1")
    mvnet.add("c1", c1, "eth0", capability_args={"mac": MAC})
    lease = tmp_path / "ipam" / "mvnet" / "10.77.0.2"
    assert lease.read_text().split() == ["c1", "eth0"]
    assert os.path.exists("/run/cni/tuning/c1_eth0.json")   # tuning keeps what it changed, to undo it
    mvnet.delete("c1", c1, "eth0")
    assert [ln["ifname"] for ln in ip_json(c1, "link", "show")] == ["lo"]
    assert not lease.exists() and not os.path.exists("/run/cni/tuning/c1_eth0.json")
    assert mvnet.cached("c1", "eth0") is None
    mvnet.delete("c1", c1, "eth0")   # the spec: a second DEL succeeds
    assert "eth1" in sandbox.links()


@pytest.mark.needs("macvlan", "veth")
def test_macvlan_del_succeeds_when_the_container_is_gone(sandbox, tmp_path, mvnet):
    c1 = container(sandbox, "c1")
    mvnet.add("c1", c1, "eth0")
    sandbox.sh("ip netns del c1")
    mvnet.delete("c1", None, "eth0")
    assert not (tmp_path / "ipam" / "mvnet" / "10.77.0.2").exists()


@pytest.mark.needs("macvlan", "veth")
def test_gc_deletes_what_is_no_longer_valid(sandbox, tmp_path, mvnet):
    c1, c2 = container(sandbox, "c1"), container(sandbox, "c2")
    mvnet.add("c1", c1, "eth0")
    mvnet.add("c2", c2, "eth0")
    mvnet.gc([("c1", "eth0")])
    assert mvnet.attachments() == [("c1", "eth0")]
    assert "eth0" in {ln["ifname"] for ln in ip_json(c1, "link", "show")}
    assert "eth0" not in {ln["ifname"] for ln in ip_json(c2, "link", "show")}
    assert sorted(p.name for p in (tmp_path / "ipam" / "mvnet").glob("10.*")) == ["10.77.0.2"]


@pytest.mark.needs("veth")
def test_macvlan_with_a_missing_master_is_a_plugin_error(sandbox, tmp_path, cni_path):
    c1 = container(sandbox, "c1")
    rt = Runtime(macvlan_net(tmp_path), cni_path, tmp_path / "cache")   # no eth1
    with pytest.raises(PluginError) as e:
        rt.add("c1", c1, "eth0")
    assert (e.value.plugin, e.value.command, e.value.code, e.value.msg) == ("macvlan", "ADD", 999, "Link not found")
    assert e.value.exit_status == 1
    assert rt.cached("c1", "eth0") is None and not (tmp_path / "ipam").exists()


def test_a_version_the_plugin_lacks_is_error_code_1(sandbox, tmp_path, cni_path):
    c1 = container(sandbox, "c1")
    rt = Runtime(macvlan_net(tmp_path, "1.1.0"), cni_path, tmp_path / "cache")
    with pytest.raises(PluginError) as e:
        rt.add("c1", c1, "eth0")
    assert (e.value.code, e.value.msg) == (1, "incompatible CNI versions")
    assert e.value.details == 'config is "1.1.0", plugin supports ' \
        '["0.1.0" "0.2.0" "0.3.0" "0.3.1" "0.4.0" "1.0.0"]'


@pytest.mark.parametrize("plugin", ["macvlan", "ipvlan", "vlan", "bridge", "host-local", "tuning"])
def test_version_reports_the_spec_versions_up_to_1_0_0(tmp_path, cni_path, plugin):
    rt = Runtime(macvlan_net(tmp_path), cni_path, tmp_path)
    # asked with 1.1.0, they answer 1.0.0, the newest they know
    assert rt.version(plugin) == {"cniVersion": "1.0.0",
                                  "supportedVersions": ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0"]}


ADD_ENV = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1", "CNI_NETNS": "/run/netns/c1", "CNI_IFNAME": "eth0",
           "CNI_PATH": "/usr/lib/cni"}


@pytest.mark.parametrize("stdin, env, code, msg", [
    ("garbage", ADD_ENV, 6,
     "error unmarshall network config: invalid character 'g' looking for beginning of value"),
    ('{"cniVersion": "1.0.0", "name": "n", "type": "macvlan"}', {"CNI_COMMAND": "ADD"}, 4,
     "required env variables [CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH] missing"),
    ('{"cniVersion": "1.0.0", "type": "macvlan"}', {"CNI_COMMAND": "STATUS"}, 7, "missing network name"),
], ids=["bad-json", "no-env", "no-name"])
def test_bad_input_is_an_error_object_on_stdout(cni_path, stdin, env, code, msg):
    done = run_plugin(find_plugin("macvlan", cni_path), stdin, env)
    assert done.exit_status == 1 and json.loads(done.stdout) == {"code": code, "msg": msg}


def bridge_net(tmp_path, version="1.0.0", **extra):
    return {"cniVersion": version, "name": "brnet", "plugins": [
        {"type": "bridge", "bridge": "cni0", "isGateway": True, **extra,
         "ipam": host_local(tmp_path, "10.78.0.0/24", routes=[{"dst": "0.0.0.0/0"}])}]}


BRIDGE_HOST = {"cni0": {"kind": "bridge", "mtu": 1500, "up": True, "addrs": ["10.78.0.1/24"]},
               "<veth peer of eth0>": {"kind": "veth", "mtu": 1500, "up": True, "master": "cni0",
                                       "lower": "eth0", "addrs": []}}


def bridge_result(version):
    ip = {"interface": 2, "address": "10.78.0.2/24", "gateway": "10.78.0.1"}
    return {"cniVersion": version,
            "interfaces": [{"name": "cni0", "mac": "<mac>"}, {"name": "<veth0>", "mac": "<mac>"},
                           {"name": "eth0", "mac": "<mac>", "sandbox": "<netns>"}],
            "ips": [{"version": "4", **ip} if version == "0.4.0" else ip],
            "routes": [{"dst": "0.0.0.0/0"}], "dns": {}}


@pytest.mark.needs("bridge", "veth")
@pytest.mark.parametrize("version", ["1.0.0", "0.4.0"])
def test_bridge_with_is_gateway(sandbox, tmp_path, cni_path, version):
    c1 = container(sandbox, "c1")
    rt = Runtime(bridge_net(tmp_path, version), cni_path, tmp_path / "cache")
    assert normalize_result(rt.add("c1", c1, "eth0")) == bridge_result(version)
    snap = snapshot(c1)
    assert snap["host"]["links"] == BRIDGE_HOST
    assert snap["container"]["links"]["eth0"] == {"kind": "veth", "mtu": 1500, "up": True,
                                                  "lower": "<veth peer of eth0>", "addrs": ["10.78.0.2/24"]}
    assert {"dst": "default", "gateway": "10.78.0.1", "dev": "eth0"} in snap["container"]["routes"]
    rt.check("c1", c1, "eth0")
    ping = in_ns(c1, ["ping", "-c", "1", "-W", "5", "10.78.0.1"])
    assert ping.returncode == 0, ping.stdout + ping.stderr


@pytest.mark.needs("bridge", "veth")
def test_bridge_del_removes_the_veth_and_leaves_the_bridge(sandbox, tmp_path, cni_path):
    c1 = container(sandbox, "c1")
    rt = Runtime(bridge_net(tmp_path), cni_path, tmp_path / "cache")
    rt.add("c1", c1, "eth0")
    rt.delete("c1", c1, "eth0")
    assert [ln["ifname"] for ln in ip_json(c1, "link", "show")] == ["lo"]
    assert {n: ln.get("linkinfo", {}).get("info_kind") for n, ln in sandbox.links().items()} == \
        {"lo": None, "cni0": "bridge"}


@pytest.mark.needs("bridge", "veth")
def test_two_runs_compare_equal_and_a_change_that_matters_shows(sandbox, tmp_path, cni_path):
    def run(name, **extra):
        path = container(sandbox, name)
        rt = Runtime(bridge_net(tmp_path / name, **extra), cni_path, tmp_path / name)
        result = normalize_result(rt.add(name, path, "eth0"), sandboxes={path: "<c>"})
        snap = snapshot(path)
        rt.delete(name, path, "eth0")
        return snap, result
    one, two, small = run("c1"), run("c2"), run("c3", mtu=1400)
    assert one == two
    assert small[0]["container"]["links"]["eth0"]["mtu"] == 1400
    assert small[1] == one[1] and small[0] != one[0]


def one_plugin_net(tmp_path, plugin):
    return {"cniVersion": "1.0.0", "name": "net1", "plugins": [
        {**plugin, "master": "eth1", "ipam": host_local(tmp_path, "10.79.0.0/24")}]}


def add_check_del(sandbox, tmp_path, cni_path, plugin):
    """ADD, CHECK and DEL of one plugin on eth1: the container's eth0 as ADD left it."""
    sandbox.external("eth1")
    c1 = container(sandbox, "c1")
    rt = Runtime(one_plugin_net(tmp_path, plugin), cni_path, tmp_path / "cache")
    rt.add("c1", c1, "eth0")
    got = snapshot(c1)["container"]["links"]["eth0"]
    rt.check("c1", c1, "eth0")
    rt.delete("c1", c1, "eth0")
    assert [ln["ifname"] for ln in ip_json(c1, "link", "show")] == ["lo"]
    return got


@pytest.mark.needs("ipvlan", "veth")
def test_ipvlan_add_check_del(sandbox, tmp_path, cni_path):
    got = add_check_del(sandbox, tmp_path, cni_path, {"type": "ipvlan", "mode": "l2"})
    assert (got["kind"], got["mode"], got["lower"], got["addrs"]) == ("ipvlan", "l2", "eth1", ["10.79.0.2/24"])


@pytest.mark.needs("vlan", "veth")
def test_vlan_add_check_del(sandbox, tmp_path, cni_path):
    got = add_check_del(sandbox, tmp_path, cni_path, {"type": "vlan", "vlanId": 100})
    assert (got["kind"], got["id"], got["protocol"], got["lower"], got["addrs"]) == \
        ("vlan", 100, "802.1Q", "eth1", ["10.79.0.2/24"])
