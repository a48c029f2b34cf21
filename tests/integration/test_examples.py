"""Every example of the reference article's figures: applied, proven with
real traffic (and isolation where the figure promises it), idempotent,
destroyed without a trace."""
import json
import os

import pytest

from vnet.check.ping import ping

EX = os.path.join(os.path.dirname(__file__), "..", "..", "examples")

EXAMPLES = sorted(f for f in os.listdir(EX) if f.endswith(".yaml"))
# examples that need what only some machines have (a net_failover group):
# tested where that exists, in test_failover.py
ELSEWHERE = {"fig4-net-failover.yaml"}


def needs(example):
    """What an example needs of the kernel: what its kinds say they need."""
    import vnet
    t = vnet.load(os.path.join(EX, example))
    return sorted(set().union(*(i.kind_module.kernel_features(i) for i in t.interfaces)))


def test_every_example_has_checks():
    import vnet
    without = [e for e in EXAMPLES if e not in ELSEWHERE and not vnet.load(os.path.join(EX, e)).checks]
    assert without in ([], ["fig19-macvtap.yaml"]), f"examples without checks: {without}"


@pytest.mark.parametrize("example", [pytest.param(e, marks=pytest.mark.needs(*needs(e)))
                                     for e in EXAMPLES if e not in ELSEWHERE])
def test_example(sandbox, example):
    """Applied, its checks passed (reachability and isolation with real
    traffic), idempotent, destroyed without a trace."""
    path = os.path.join(EX, example)
    before = sandbox.dump_all()
    r = sandbox.vnet("apply", "--check", "--json", path, check=False)
    out = json.loads(r.stdout)
    failed = [c for c in out.get("checks", []) if not c["ok"]]
    assert r.returncode == 0 and not failed, f"{example}: {failed or r.stderr}"
    plan = json.loads(sandbox.vnet("plan", "--json", path).stdout)
    assert plan["changes"] == [], f"second plan not empty: {plan}"
    again = json.loads(sandbox.vnet("apply", "--json", path).stdout)
    assert again["applied"] == [] and again["requests"] == 0
    sandbox.vnet("destroy", path)
    assert sandbox.dump_all() == before


def _broken(sandbox, example, old, new):
    text = open(os.path.join(EX, example)).read()
    assert old in text
    os.makedirs(os.path.join(sandbox.tmp, "keys"), exist_ok=True)
    for k in os.listdir(os.path.join(EX, "keys")):
        with open(os.path.join(sandbox.tmp, "keys", k), "w") as f:
            f.write(open(os.path.join(EX, "keys", k)).read())
    return sandbox.write(example, text.replace(old, new))


@pytest.mark.needs("vlan", "bridge", "veth")
def test_a_wrong_vlan_id_fails_the_check_with_a_table(sandbox):
    f = _broken(sandbox, "fig6-vlan.yaml", "{name: eth0.2, kind: vlan, netns: h2, link: eth0, id: 2,",
                "{name: eth0.2, kind: vlan, netns: h2, link: eth0, id: 4,")
    sandbox.vnet("apply", f)
    r = sandbox.vnet("check", f, check=False)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "vlan2: ping h1 -> 10.6.2.2" in r.stdout and "FAILED" in r.stdout
    assert "checks passed; failed: vlan2: ping h1 -> 10.6.2.2" in r.stdout
    sandbox.vnet("destroy", f)


@pytest.mark.needs("macsec", "veth")
def test_a_wrong_macsec_key_fails_the_check(sandbox):
    f = _broken(sandbox, "fig20-macsec.yaml",
                'sas: [{an: 0, key_id: "02", key_file: keys/fig20-b.hex}]',
                'sas: [{an: 0, key_id: "02", key_file: keys/fig20-a.hex}]')
    sandbox.vnet("apply", f)
    r = sandbox.vnet("check", "--json", f, check=False)
    assert r.returncode == 1
    res = {c["check"]: c for c in json.loads(r.stdout)["checks"]}
    assert not res["protected: ping net1 -> 10.20.0.2"]["ok"]
    assert res["protected: ping net1 -> 10.20.0.2"]["observed"] == "unreachable"
    sandbox.vnet("destroy", f)


@pytest.mark.needs("veth")
def test_fig1b_without_its_keys_fails_the_sealed_check(sandbox):
    """The example's last check sees the inner addresses on the underlay once
    the tunnel runs without a key: the check can tell sealed from plain."""
    f = _broken(sandbox, "fig1b-tun-tunnel.yaml", ", key_file: keys/tunnel.hex}", "}")
    sandbox.vnet("apply", f)
    r = sandbox.vnet("check", "--json", f, check=False)
    assert r.returncode == 1, r.stdout + r.stderr
    failed = [c for c in json.loads(r.stdout)["checks"] if not c["ok"]]
    assert len(failed) == 1 and "contains" in failed[0]["check"], failed
    sandbox.vnet("destroy", f)


@pytest.mark.needs("vxlan", "veth")
def test_fig8_vxlan_carries_overlay_in_udp(sandbox):
    """The overlay ping crosses the underlay as VXLAN (UDP 4789), proven by
    the underlay's counters moving while the direct path does not exist."""
    path = os.path.join(EX, "fig8-vxlan.yaml")
    sandbox.vnet("apply", path)
    routes = sandbox.sh("ip -n host1 route")
    assert "10.8.0.0/24 dev vx0" in routes
    def tx(dev):
        return json.loads(sandbox.sh(f"ip -n host1 -j -s link show {dev}"))[0]["stats64"]["tx"]["packets"]
    before = tx("vx0"), tx("eth0")
    for _ in range(3):
        assert ping("host1", "10.8.0.2")
    assert tx("vx0") >= before[0] + 3
    assert tx("eth0") >= before[1] + 3   # each overlay packet went out on the underlay


@pytest.mark.needs("macvtap", "bridge", "veth")
def test_fig19_show_reports_tap_devices(sandbox):
    path = os.path.join(EX, "fig19-macvtap.yaml")
    sandbox.vnet("apply", path)
    shown = json.loads(sandbox.vnet("show", "--json", path).stdout)["devices"]
    taps = {d["name"]: d for d in shown if d["kind"] == "macvtap"}
    links = sandbox.links()
    for name in ("macvtap0", "macvtap1"):
        assert taps[name]["tap_device"] == f"/dev/tap{links[name]['ifindex']}"
    assert links["tap0"]["master"] == "br0"
    human = sandbox.vnet("show", path).stdout
    assert f"/dev/tap{links['macvtap0']['ifindex']}" in human


@pytest.mark.needs("macvlan", "bridge", "veth")
def test_vepa_without_hairpin_isolates_and_validate_warns(sandbox):
    f = _broken(sandbox, "fig13-macvlan-vepa.yaml", "hairpin: true", "hairpin: false")
    r = sandbox.vnet("apply", "--check", f, check=False)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "are VEPA macvlans of 'uplink'" in r.stderr            # the lint said so before
    assert "via-switch: ping net1 -> 10.0.13.2" in r.stdout and "FAILED" in r.stdout
    assert ping("net1", "10.0.13.254")                            # the switch itself is reachable
    # turning hairpin on, in place, lets them talk
    f = _broken(sandbox, "fig13-macvlan-vepa.yaml", "hairpin: true", "hairpin: true")
    plan = json.loads(sandbox.vnet("plan", "--json", f).stdout)["changes"]
    assert [(c["action"], c["object"]) for c in plan] == [("modify", "port switch/down0")]
    r = sandbox.vnet("apply", "--check", f, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    sandbox.vnet("destroy", f)
