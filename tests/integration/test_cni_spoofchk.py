"""macspoofchk of the bridge plugin, vnet beside the reference (Debian's
containernetworking-plugins 1.1.1): the same conflist through each, in a
sandbox of its own; the nftables table `bridge nat` compared (nft's JSON,
the rule handles, the veth's host-end name and the container's MAC set
aside); the container reaches its gateway with its own MAC and not with
another one; CHECK passes, and names a rule removed (vnet; the
reference's CHECK does not look); DEL leaves the table as the reference's
does (the table and its base chain stay, shared). Everything in the
test's sandbox namespaces."""
import json
import re
import subprocess

import pytest

from cniruntime import PluginError, Runtime
from conftest import sandboxed
from test_cni_side_by_side import C1, GATEWAY, REFERENCE, SYSCTL, as_vnet, conflist, vnet_bin  # noqa: F401

PLUGIN = {"type": "bridge", "bridge": "cni0", "isGateway": True, "macspoofchk": True}


def table():
    """`nft -j list table bridge nat`, handles, port and MAC set aside (None: no table)."""
    r = subprocess.run(["nft", "-j", "list", "table", "bridge", "nat"], capture_output=True, text=True)
    if r.returncode != 0:
        return None
    text = json.dumps([i for i in json.loads(r.stdout)["nftables"] if "metainfo" not in i])
    text = re.sub(r'"handle": \d+', '"handle": 0', text)
    text = re.sub(r'"veth[0-9a-f]{8}"', '"<port>"', text)
    return json.loads(re.sub(r'"([0-9a-f]{2}:){5}[0-9a-f]{2}"', '"<mac>"', text))


def reaches_gateway():
    ping = ["nsenter", f"--net={C1}", "ping", "-c1", "-W2", GATEWAY]
    return subprocess.run(ping, capture_output=True).returncode == 0


def run(tmp, plugin, cni_path):
    with sandboxed(tmp) as sb:
        sb.sh("ip netns add c1")
        rt = Runtime(conflist(plugin, SYSCTL, tmp / "ipam"), cni_path, tmp / "cache")
        before = table()
        rt.add("c1", C1, "eth0")
        made = table()
        own = reaches_gateway()
        mac = json.loads(sb.sh("ip -n c1 -j link show eth0"))[0]["address"]
        sb.sh("ip -n c1 neigh flush all && ip -n c1 link set eth0 address 02:00:00:00:66:66")
        spoofed = reaches_gateway()
        sb.sh(f"ip -n c1 neigh flush all && ip -n c1 link set eth0 address {mac}")
        rt.check("c1", C1, "eth0")
        rt.delete("c1", C1, "eth0")
        after = table()
        rt.delete("c1", C1, "eth0")
        return {"before": before, "made": made, "own MAC reaches": own, "other MAC reaches": spoofed,
                "after": after}


@pytest.mark.needs("veth", "bridge")
def test_the_same_mac_filter_as_the_reference(tmp_path, vnet_bin):  # noqa: F811
    ref = run(tmp_path / "reference", PLUGIN, [REFERENCE])
    vn = run(tmp_path / "vnet", as_vnet(PLUGIN), [vnet_bin, REFERENCE])
    assert vn == ref
    assert vn["own MAC reaches"] and not vn["other MAC reaches"]
    assert vn["before"] is None and len([i for i in vn["made"] if "rule" in i]) == 4
    assert [i for i in vn["after"] if "rule" in i or "chain" in i and i["chain"]["name"] != "PREROUTING"] == []


@pytest.mark.needs("veth", "bridge")
def test_without_macspoofchk_another_mac_reaches_the_gateway(tmp_path, vnet_bin):  # noqa: F811
    """The control: the filter is what stops the other MAC."""
    vn = run(tmp_path, as_vnet({**PLUGIN, "macspoofchk": False}), [vnet_bin, REFERENCE])
    assert vn["own MAC reaches"] and vn["other MAC reaches"] and vn["made"] is None


@pytest.mark.needs("veth", "bridge")
def test_check_names_a_filter_rule_removed_and_del_still_succeeds(tmp_path, vnet_bin):  # noqa: F811
    with sandboxed(tmp_path) as sb:
        sb.sh("ip netns add c1")
        rt = Runtime(conflist(as_vnet(PLUGIN), SYSCTL, tmp_path / "ipam"), [vnet_bin, REFERENCE], tmp_path / "cache")
        rt.add("c1", C1, "eth0")
        sb.sh("nft flush chain bridge nat cni-br-iface-c1-eth0-mac")
        with pytest.raises(PluginError) as e:
            rt.check("c1", C1, "eth0")
        assert (e.value.plugin, e.value.code) == ("vnet", 101)
        assert "macspoofchk" in e.value.msg and "cni-br-iface-c1-eth0-mac" in e.value.msg
        sb.sh("nft delete chain bridge nat cni-br-iface-c1-eth0-mac", check=False)
        rt.delete("c1", C1, "eth0")
        assert [i for i in table() if "rule" in i or "chain" in i and i["chain"]["name"] != "PREROUTING"] == []


def test_macspoofchk_outside_the_bridge_form_is_refused(tmp_path, vnet_bin):  # noqa: F811
    with sandboxed(tmp_path) as sb:
        sb.external("eth1")
        sb.sh("ip netns add c1")
        rt = Runtime(conflist({"type": "vnet", "master": "eth1", "macspoofchk": True}, SYSCTL, tmp_path / "ipam"),
                     [vnet_bin, REFERENCE], tmp_path / "cache")
        with pytest.raises(PluginError) as e:
            rt.add("c1", C1, "eth0")
        assert (e.value.plugin, e.value.code) == ("vnet", 2) and "macspoofchk" in e.value.msg
        assert table() is None
