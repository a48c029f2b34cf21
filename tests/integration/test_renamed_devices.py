"""Devices of vnet's renamed or moved by hand (or in the file): the pair
whose declared end went under another name is made again, never refused by
the kernel's EEXIST; a renamed device that carries the topology's tag goes
on the next apply and on destroy, never left holding the addresses of the
one made again; and a device of another topology that happens to share the
tag (two names, one 24-bit hash) is never taken for one of them."""
import json

import pytest

PAIR = """name: pair
namespaces: [net1, net2]
interfaces:
  - name: {first}
    kind: veth
    netns: {ns}
    addresses: [10.0.9.1/24]
    peer: {{name: veth2, netns: net2, addresses: [10.0.9.2/24]}}
"""


def _names(sandbox, ns):
    return sorted(d["ifname"] for d in sandbox.ip_json(ns) if d["ifname"] != "lo")


def _addresses(sandbox, ns=None):
    return sorted(f"{d['ifname']} {a['local']}/{a['prefixlen']}" for d in sandbox.ip_json(ns, "addr")
                  for a in d["addr_info"] if a["family"] == "inet" and d["ifname"] != "lo")


def _empty_plan(sandbox, path):
    assert json.loads(sandbox.vnet("plan", "--json", path).stdout)["changes"] == []


@pytest.mark.needs("veth")
@pytest.mark.parametrize("by_hand", ["ip -n net1 link set veth1 name vethX",
                                     "ip netns add net3 && ip -n net1 link set veth1 netns net3"],
                         ids=["renamed", "moved"])
def test_a_pair_whose_declared_end_was_renamed_or_moved_by_hand_is_made_again(sandbox, by_hand):
    path = sandbox.write("pair.yaml", PAIR.format(first="veth1", ns="net1"))
    sandbox.vnet("apply", path)
    sandbox.sh(by_hand)
    plan = json.loads(sandbox.vnet("plan", "--json", path).stdout)["changes"]
    assert ("delete", "link net2/veth2") in [(c["action"], c["object"]) for c in plan], plan
    sandbox.vnet("apply", path)
    _empty_plan(sandbox, path)
    assert _names(sandbox, "net1") == ["veth1"] and _names(sandbox, "net2") == ["veth2"]
    sandbox.sh("ip netns exec net1 ping -c1 -W2 10.0.9.2")
    if "net3" in by_hand:
        assert _names(sandbox, "net3") == []   # the moved end went with its pair
    sandbox.vnet("destroy", "pair")
    assert sandbox.sh("ip netns list | grep -v net3 || true").strip() == ""


@pytest.mark.needs("veth")
def test_the_first_end_of_a_pair_renamed_in_the_file_is_made_again(sandbox):
    path = sandbox.write("pair.yaml", PAIR.format(first="veth1", ns="net1"))
    sandbox.vnet("apply", path)
    path = sandbox.write("pair.yaml", PAIR.format(first="vethA", ns="net1"))
    sandbox.vnet("apply", path)
    _empty_plan(sandbox, path)
    assert _names(sandbox, "net1") == ["vethA"] and _names(sandbox, "net2") == ["veth2"]
    sandbox.vnet("destroy", "pair")


BRIDGE = """name: {name}
interfaces:
  - {{name: {br}, kind: bridge, addresses: [{addr}]}}
  - {{name: {tap}, kind: tap, master: {br}}}
"""


@pytest.mark.needs("bridge")
def test_a_device_renamed_by_hand_goes_on_apply_and_on_destroy(sandbox):
    path = sandbox.write("t6.yaml", BRIDGE.format(name="t6", br="br0", tap="tp0", addr="10.66.0.1/24"))
    sandbox.vnet("apply", path)
    sandbox.sh("ip link set br0 name brX")
    sandbox.vnet("apply", path)
    assert _addresses(sandbox) == ["br0 10.66.0.1/24"]   # not twice: brX went
    _empty_plan(sandbox, path)
    sandbox.sh("ip link set br0 name brY")
    sandbox.vnet("destroy", "t6")
    assert _names(sandbox, None) == []


@pytest.mark.needs("bridge")
def test_a_device_of_another_topology_sharing_the_tag_is_never_taken(sandbox):
    """t188781 and t326020 hash to the same link group: one's device
    missing never makes the other's its own, on apply or destroy."""
    one = sandbox.write("one.yaml", BRIDGE.format(name="t188781", br="bra", tap="tpa", addr="10.67.0.1/24"))
    two = sandbox.write("two.yaml", BRIDGE.format(name="t326020", br="brb", tap="tpb", addr="10.68.0.1/24"))
    sandbox.vnet("apply", one)
    sandbox.vnet("apply", two)
    groups = {d["ifname"]: d.get("group") for d in sandbox.ip_json(None, "link")}
    assert groups["bra"] == groups["brb"], groups   # the premise: one tag
    sandbox.sh("ip link del tpa")
    plan = json.loads(sandbox.vnet("plan", "--json", one).stdout)["changes"]
    assert [(c["action"], c["object"]) for c in plan] == [("create", "link tpa")], plan
    sandbox.vnet("apply", one)
    sandbox.sh("ip link del bra")
    sandbox.vnet("destroy", "t188781")
    assert _names(sandbox, None) == ["brb", "tpb"]
    _empty_plan(sandbox, two)
    sandbox.vnet("destroy", "t326020")
    assert _names(sandbox, None) == []
