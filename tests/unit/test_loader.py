"""Parsing valid topology files into the model: reference resolution,
defaults, YAML and JSON, and the JSON Schema of the format."""
import ipaddress
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vnet.errors import SpecError
from vnet.kinds import REGISTRY
from vnet.topology import HOST, Ref
from vnet.topofile.loader import load, load_text

ROOT = Path(__file__).resolve().parents[2]
ALL_KINDS = ROOT / "tests" / "golden" / "script" / "all-kinds.yaml"
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def parse(text, source="t.yaml"):
    return load_text(text, source)


def by_name(topo):
    return {(i.netns, i.name): i for i in topo.interfaces}


# ---- references ------------------------------------------------------------

REFS = """
name: refs
namespaces: [net1, net2]
interfaces:
  - {name: eth1, kind: external}
  - {name: eth1, kind: tap, netns: net2}
  - {name: br0, kind: bridge, netns: net1}
  - {name: eth1, kind: dummy, netns: net1}
  - {name: same, kind: macvlan, netns: net2, link: eth1}
  - {name: host, kind: macvlan, netns: net2, link: {name: eth1}}
  - {name: other, kind: macvlan, netns: net2, link: {name: eth1, netns: net1}}
  - name: veth1
    kind: veth
    peer: {name: p1, netns: net1, master: br0}
"""


def test_bare_name_refers_to_the_referrers_own_namespace():
    i = by_name(parse(REFS))[("net2", "same")]
    assert i.options["link"] == Ref("eth1", None, explicit=False)
    assert i.options["link"].resolve(i.netns) == ("net2", "eth1")


def test_name_without_netns_refers_to_the_namespace_vnet_runs_in():
    i = by_name(parse(REFS))[("net2", "host")]
    assert i.options["link"] == Ref("eth1", HOST, explicit=True)
    assert i.options["link"].resolve(i.netns) == (HOST, "eth1")


def test_name_and_netns_refer_to_that_namespace():
    i = by_name(parse(REFS))[("net2", "other")]
    assert i.options["link"].resolve(i.netns) == ("net1", "eth1")


def test_peer_master_resolves_in_the_peers_namespace():
    veth = by_name(parse(REFS))[(HOST, "veth1")]
    assert veth.netns is HOST
    assert veth.peer.master_key() == ("net1", "br0")
    assert ("peer.master", Ref("br0")) in veth.refs()


def test_bare_name_does_not_fall_back_to_the_host():
    # eth1 exists in the host only; `link: eth1` from net1 means net1/eth1
    text = "name: t\nnamespaces: [net1]\ninterfaces:\n" \
           "  - {name: eth1, kind: external}\n  - {name: mv, kind: macvlan, netns: net1, link: eth1}\n"
    with pytest.raises(SpecError) as e:
        parse(text)
    assert e.value.problems == ["t.yaml: interfaces[1] (mv).link: device 'eth1' in namespace net1 is "
                                "neither declared nor external"]


def test_peer_without_netns_is_in_the_host_not_the_first_ends_namespace():
    t = parse("name: t\nnamespaces: [net1]\ninterfaces:\n"
              "  - {name: v1, kind: veth, netns: net1, peer: {name: v2}}\n")
    assert t.interfaces[0].peer.key == (HOST, "v2")
    assert set(t.by_key()) == {("net1", "v1"), (HOST, "v2")}


# ---- defaults --------------------------------------------------------------

def test_defaults():
    t = parse("""
name: defaults
interfaces:
  - {name: br0, kind: bridge}
  - {name: eth0, kind: external}
  - {name: vx0, kind: vxlan, vni: 7, remote: 192.0.2.1}
  - {name: mv0, kind: macvlan, link: eth0}
  - {name: v0, kind: veth, peer: {name: v1}}
routes:
  - {to: 10.1.0.0/16, dev: br0}
""")
    i = by_name(t)
    assert i[(HOST, "br0")].up is True
    assert i[(HOST, "br0")].addresses == []
    assert i[(HOST, "br0")].mtu is None and i[(HOST, "br0")].mac is None
    assert i[(HOST, "v0")].peer.up is True
    assert i[(HOST, "vx0")].options["dstport"] == 4789
    assert i[(HOST, "vx0")].options["fdb"] == []
    assert i[(HOST, "mv0")].options["mode"] == "vepa"
    assert i[(HOST, "mv0")].options["source_macs"] is None
    assert t.routes[0].metric == 0 and t.routes[0].netns is HOST
    assert t.namespaces == [] and t.sysctls == []


def test_vxlan_fdb_mac_defaults_to_all_zero():
    t = parse("name: t\ninterfaces:\n  - {name: vx0, kind: vxlan, vni: 7, fdb: [{dst: 192.0.2.1}]}\n")
    assert t.interfaces[0].options["fdb"] == [{"mac": "00:00:00:00:00:00",
                                               "dst": ipaddress.ip_address("192.0.2.1")}]


def test_values_are_typed():
    t = parse("""
name: typed
interfaces:
  - {name: t0, kind: tap, mac: "02:AB:00:00:00:01", mtu: 1400, up: false,
     addresses: [10.0.0.1/24, "fd00::1/64"]}
routes:
  - {to: default, via: "fd00::ff"}
  - {to: 10.2.0.0/16, via: 10.0.0.254, metric: 20}
sysctls:
  - {key: net.ipv4.ip_forward, value: 1}
""")
    tap = t.interfaces[0]
    assert tap.mac == "02:ab:00:00:00:01"          # normalized to lower case
    assert (tap.mtu, tap.up) == (1400, False)
    assert tap.addresses == [ipaddress.ip_interface("10.0.0.1/24"), ipaddress.ip_interface("fd00::1/64")]
    assert t.routes[0].to == ipaddress.ip_network("::/0")   # default takes the gateway's family
    assert t.routes[1].to == ipaddress.ip_network("10.2.0.0/16") and t.routes[1].metric == 20
    assert t.sysctls[0].value == "1"


def test_unquoted_colon_numbers_stay_strings():
    """YAML 1.1 reads 52:54:00:12:34:56 (QEMU's MAC prefix) and an IPv6
    address without '::' or letters as base-60 integers."""
    t = parse("""
name: t
interfaces:
  - {name: tap0, kind: tap, mac: 52:54:00:12:34:56, addresses: [10.0.0.1/24]}
routes:
  - {to: default, via: 2001:0:0:0:0:0:0:1, dev: tap0}
""")
    assert t.interfaces[0].mac == "52:54:00:12:34:56"
    assert t.routes[0].via == ipaddress.ip_address("2001::1")


def test_yaml_numbers_still_parse():
    t = parse("name: t\ninterfaces:\n  - {name: vx0, kind: vxlan, vni: 0x10, remote: 192.0.2.1, ttl: 64}\n")
    assert t.interfaces[0].options["vni"] == 16
    assert t.interfaces[0].options["ttl"] == 64


# ---- files -----------------------------------------------------------------

def test_json_file_is_accepted_and_equals_the_yaml(tmp_path):
    doc = yaml.safe_load(ALL_KINDS.read_text())
    j = tmp_path / "all-kinds.json"
    j.write_text(json.dumps(doc))
    from_json, from_yaml = load(str(j)), load(str(ALL_KINDS))
    assert from_json.source == str(j)
    assert from_json.name == from_yaml.name == "allkinds"
    for a, b in zip(from_json.interfaces, from_yaml.interfaces, strict=True):
        assert (a.key, a.kind, a.options, a.addresses, a.master, a.up, a.mtu) == \
               (b.key, b.kind, b.options, b.addresses, b.master, b.up, b.mtu)
    assert [r.key for r in from_json.routes] == [r.key for r in from_yaml.routes]


def test_json_with_byte_order_mark(tmp_path):
    j = tmp_path / "bom.json"
    j.write_bytes(b"\xef\xbb\xbf" + json.dumps({"name": "bom"}).encode())
    assert load(str(j)).name == "bom"


def test_yaml_content_in_a_json_file_is_a_json_error(tmp_path):
    j = tmp_path / "t.json"
    j.write_text("name: t\n")
    with pytest.raises(SpecError, match=r"t\.json: invalid JSON: "):
        load(str(j))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_examples_load(path):
    t = load(str(path))
    assert t.interfaces


# ---- never anything but SpecError --------------------------------------------

KEYS = ["name", "kind", "netns", "namespaces", "interfaces", "routes", "sysctls", "peer", "master",
        "link", "dev", "mode", "vni", "fdb", "dst", "mac", "addresses", "to", "via", "key", "value",
        "source_macs", "group", "remote", "local", "mtu", "up", "stp"]
KINDS = [k.name for k in REGISTRY]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 2**25), st.floats(allow_nan=False),
                    st.sampled_from(KINDS + ["net1", "br0", "eth0", "10.0.0.1/24", "10.0.0.1", "fd00::1",
                                             "02:00:00:00:00:01", "default", "source", "host", "", "a b"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=6)), max_leaves=20)
interface = st.fixed_dictionaries({"name": st.sampled_from(["br0", "eth0", "eth1", "v0"]),
                                   "kind": st.sampled_from(KINDS)},
                                  optional={k: values for k in KEYS if k not in ("name", "kind")})
documents = st.fixed_dictionaries({"name": st.just("fuzz")}, optional={
    "namespaces": st.one_of(values, st.lists(st.sampled_from(["net1", "net2", None]), max_size=3)),
    "interfaces": st.one_of(values, st.lists(interface, max_size=5)),
    "routes": values, "sysctls": values})


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_any_document_is_a_topology_or_a_spec_error(doc):
    from vnet.topofile.loader import parse as parse_doc
    try:
        parse_doc(doc, "fuzz.yaml")
    except SpecError as e:
        assert e.problems and all(p.startswith("fuzz.yaml: ") for p in e.problems)


# ---- the JSON Schema ---------------------------------------------------------

@pytest.fixture(scope="module")
def schema():
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    r = subprocess.run([sys.executable, "-m", "vnet", "schema"], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _objects(s):
    """Every object schema inside ``s``."""
    if isinstance(s, dict):
        if s.get("type") == "object":
            yield s
        for v in s.values():
            yield from _objects(v)
    elif isinstance(s, list):
        for v in s:
            yield from _objects(v)


def test_schema_structure(schema):
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert schema["required"] == ["name"]
    assert set(schema["properties"]) == {"name", "namespaces", "interfaces", "routes", "rules", "neighbours", "sysctls", "checks"}
    variants = schema["properties"]["interfaces"]["items"]["oneOf"]
    assert sorted(v["properties"]["kind"]["enum"][0] for v in variants) == sorted(KINDS)
    for v in variants:
        assert v["required"][:1] == ["name"] and "kind" in v["required"]
    objs = list(_objects(schema))
    assert len(objs) > len(KINDS)
    assert all(o.get("additionalProperties") is False for o in objs)


def test_schema_kind_options(schema):
    variants = {v["title"]: v for v in schema["properties"]["interfaces"]["items"]["oneOf"]}
    assert variants["vxlan"]["properties"]["vni"]["maximum"] == 16777215
    assert variants["vxlan"]["properties"]["dstport"]["default"] == 4789
    assert variants["macvlan"]["properties"]["mode"]["default"] == "vepa"
    assert "peer" in variants["veth"]["required"]
    assert set(variants["external"]["properties"]) == {"name", "netns", "kind", "addresses"}   # addresses: lo's only


import jsonschema  # noqa: E402  (a test dependency: pyproject's test extra)


@pytest.fixture(scope="module")
def validator(schema):
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


VALID_DOCS = [ALL_KINDS] + EXAMPLES


@pytest.mark.parametrize("path", VALID_DOCS, ids=[p.name for p in VALID_DOCS])
def test_valid_files_validate_against_the_schema(validator, path):
    errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
    assert errors == []


# structural mistakes the schema catches as well as vnet does
SCHEMA_REJECTS = ["unknown-top-key", "unknown-interface-key", "unknown-kind", "missing-kind",
                  "missing-topology-name", "missing-interface-name", "bad-topology-name", "ifname-too-long",
                  "ifname-slash", "ifname-colon", "ifname-whitespace", "vni-zero", "vni-too-large", "bad-mac",
                  "wrong-type-string-for-int", "wrong-type-list-for-mapping", "sysctl-not-net",
                  "address-without-prefix", "external-with-settings", "unknown-ref-key", "unknown-option-value",
                  "interfaces-not-a-list", "top-level-list", "kind-not-a-string", "type-for-kind"]


@pytest.mark.parametrize("case", SCHEMA_REJECTS)
def test_schema_rejects_what_vnet_rejects(validator, case):
    doc = yaml.safe_load((ROOT / "tests" / "golden" / "errors" / f"{case}.yaml").read_text())
    assert not validator.is_valid(doc)


def test_only_lo_of_a_namespace_the_file_makes_takes_addresses_among_externals():
    """lo of a namespace the file makes is made and goes with it: the file
    may give it addresses. Any other external device, and lo of vnet's own
    namespace or of one the file joins, is only referred to."""
    t = load_text("name: t\nnamespaces: [n1]\ninterfaces:\n"
                  "  - {name: lo, kind: external, netns: n1, addresses: [192.0.2.1/32, '2001:db8::1/128']}\n")
    assert [str(a) for a in t.interfaces[0].addresses] == ["192.0.2.1/32", "2001:db8::1/128"]
    for dev, ns in (("lo", None), ("eth0", None), ("eth0", "n1")):
        netns = f", netns: {ns}" if ns else ""
        with pytest.raises(SpecError) as e:
            load_text(f"name: t\nnamespaces: [n1]\ninterfaces:\n"
                      f"  - {{name: {dev}, kind: external{netns}, addresses: [192.0.2.1/32]}}\n", "t.yaml")
        assert f"t.yaml: interfaces[0] ({dev}).addresses: an external device is only referred to, never changed: " \
               "vnet sets addresses only on lo of a namespace the file creates" in str(e.value)
    with pytest.raises(SpecError) as e:   # the kernel's own: there once lo is up (vnet brings it up)
        load_text("name: t\nnamespaces: [n1]\ninterfaces:\n"
                  "  - {name: lo, kind: external, netns: n1, addresses: [127.0.0.1/8]}\n", "t.yaml")
    assert "t.yaml: interfaces[0] (lo).addresses: 127.0.0.1/8 is lo's own: the kernel gives it, and vnet never " \
           "takes it away; leave it out" in str(e.value)


def test_a_route_that_drops_takes_no_via_or_dev():
    t = load_text("name: t\nroutes:\n  - {to: 10.70.0.0/16, type: blackhole}\n"
                  "  - {to: 'fd00::/48', type: prohibit, metric: 5, table: 100}\n")
    assert [(r.type, r.key) for r in t.routes] == [("blackhole", (None, "10.70.0.0/16", None, None, 0, 254)),
                                                    ("prohibit", (None, "fd00::/48", None, None, 5, 100))]
    assert t.routes[0].attrs == (None, 0, False, "blackhole", (), (), None, None, None)   # scope global, as `ip route add blackhole` gives
    for route, said in (("{to: 10.0.0.0/8, type: unreachable, via: 10.1.1.1}",
                         "routes[0].via: an unreachable route drops what it matches: it has no via"),
                        ("{to: 10.0.0.0/8, type: blackhole, dev: eth0}",
                         "routes[0].dev: a blackhole route drops what it matches: it has no dev"),
                        ("{to: 10.0.0.0/8, type: drop}", "routes[0].type: 'drop' is not one of unicast, blackhole")):
        with pytest.raises(SpecError) as e:
            load_text(f"name: t\nroutes:\n  - {route}\n", "t.yaml")
        assert f"t.yaml: {said}" in str(e.value)


def test_a_multipath_route_gives_each_next_hop_its_via_and_dev():
    t = load_text("name: t\nroutes:\n  - {to: default, nexthops: [{via: 'fd00::1'}, {via: 'fd00::2', dev: e1, weight: 3}]}\n"
                  "interfaces:\n  - {name: e1, kind: external}\n")
    r = t.routes[0]
    assert str(r.to) == "::/0" and r.via is None and r.dev is None   # the family of default from the next hops
    assert [(str(v), d, w) for v, d, w in r.nexthops] == [("fd00::1", None, 1), ("fd00::2", "e1", 3)]
    assert r.scope_number == 0 and [h[0] for h in r.hops] == ["routes[0].nexthops[0]", "routes[0].nexthops[1]"]
    for route, said in (("{to: 10.0.0.0/8, via: 10.1.1.1, nexthops: [{via: 10.1.1.2}, {via: 10.1.1.3}]}",
                         "routes[0].via: a route with nexthops gives each its via and dev, not the route"),
                        ("{to: 10.0.0.0/8, nexthops: [{via: 10.1.1.2}]}",
                         "routes[0].nexthops: a multipath route has two next hops or more"),
                        ("{to: 10.0.0.0/8, nexthops: [{via: 10.1.1.2}, {weight: 2}]}",
                         "routes[0].nexthops[1]: a next hop needs via, dev, or both"),
                        ("{to: 10.0.0.0/8, nexthops: [{via: 10.1.1.2}, {via: 'fd00::1'}]}",
                         "routes[0].nexthops[1].via: fd00::1 cannot be a gateway to 10.0.0.0/8"),
                        ("{to: 10.0.0.0/8, nexthops: [{via: 10.1.1.2}, {via: 10.1.1.2}]}",
                         "routes[0].nexthops: a next hop is listed twice"),
                        ("{to: 10.0.0.0/8, nexthops: [{via: 10.1.1.2}, {via: 10.1.1.3, weight: 300}]}",
                         "routes[0].nexthops[1].weight"),
                        ("{to: 'fd00::/48', nexthops: [{via: 'fd01::1'}, {dev: e1}]}",
                         "routes[0].nexthops[1]: an IPv6 next hop needs via"),
                        ("{to: 10.0.0.0/8, nexthops: [{via: 10.1.1.2}, {dev: nosuch}]}",
                         "routes[0].nexthops[1].dev: device 'nosuch' in namespace host is neither declared")):
        with pytest.raises(SpecError) as e:
            load_text(f"name: t\nroutes:\n  - {route}\n", "t.yaml")
        assert f"t.yaml: {said}" in str(e.value), str(e.value)


E0 = "name: t\ninterfaces:\n  - {name: e0, kind: external}\n"


def test_a_route_s_metrics_are_read_with_their_locks_and_bounds():
    from vnet.render.iproute2 import script
    t = load_text(E0 + "routes:\n  - {to: 10.70.0.0/16, dev: e0, metrics: {mtu: 1400, initcwnd: 10, rtt: 12, "
                  "rto_min: 200, quickack: true, congctl: reno, lock: [mtu]}}\n"
                  "  - {to: 'fd00::/48', dev: e0, metrics: {hoplimit: 9, fastopen_no_cookie: false}}\n", "t.yaml")
    assert t.routes[0].metrics == (("congctl", "reno", False), ("initcwnd", 10, False), ("mtu", 1400, True),
                                   ("quickack", 1, False), ("rto_min", 200, True), ("rtt", 12, False))
    assert t.routes[1].metrics == (("hoplimit", 9, False),)   # a flag off is no metric: the kernel keeps none
    # the equivalent `ip` commands take them in iproute2's words (rto_min locked by ip itself)
    assert "ip route add 10.70.0.0/16 dev e0 congctl reno initcwnd 10 mtu lock 1400 quickack 1 rto_min 200ms " \
           "rtt 12ms" in "\n".join(script(t))
    for route, said in (("{to: 10.0.0.0/8, dev: e0, metrics: {mtu: 1400, lock: [advmss]}}",
                         "t.yaml: routes[0].metrics.lock[0]: locks advmss, which the route's metrics do not give"),
                        ("{to: 10.0.0.0/8, dev: e0, metrics: {mtu: 70000}}",
                         "t.yaml: routes[0].metrics.mtu: 70000 is out of range 1..65520"),
                        ("{to: 10.0.0.0/8, dev: e0, metrics: {hoplimit: 256}}",
                         "t.yaml: routes[0].metrics.hoplimit: 256 is out of range 1..255"),
                        ("{to: 10.0.0.0/8, dev: e0, metrics: {mtu: 1400, lock: [quickack]}}",
                         "t.yaml: routes[0].metrics.lock[0]: 'quickack' is not one of"),
                        ("{to: 10.0.0.0/8, dev: e0, metrics: {mut: 1400}}", "t.yaml: routes[0].metrics.mut")):
        with pytest.raises(SpecError) as e:
            load_text(E0 + f"routes:\n  - {route}\n", "t.yaml")
        assert said in str(e.value), str(e.value)
    with pytest.raises(SpecError) as e:
        load_text(E0 + "routes:\n  - {to: 10.0.0.0/8, dev: e0, metrics: {mut: 1400}}\n", "t.yaml")
    assert "mtu" in str(e.value)   # the close word named


NH = ("name: t\nnamespaces: [n1]\ninterfaces:\n  - {name: a0, kind: veth, netns: n1, addresses: [10.1.0.1/24], "
      "peer: {name: b0, netns: n1}}\n  - {name: c0, kind: veth, netns: n1, peer: {name: d0, netns: n1, up: false}}\n")


def test_nexthop_objects_and_the_routes_through_them_are_checked_before_anything_runs():
    t = load_text(NH + "nexthops:\n  - {netns: n1, id: 5, via: 10.1.0.254, dev: a0}\n  - {netns: n1, id: 6, dev: a0, "
                  "family: ipv6}\n  - {netns: n1, id: 7, group: [{id: 5}, {id: 6, weight: 2}]}\n  - {netns: n1, id: 8, "
                  "blackhole: true}\nroutes:\n  - {netns: n1, to: default, nhid: 6}\n  - {netns: n1, to: 10.9.0.0/16, "
                  "nhid: 7}\n", "t.yaml")
    assert [(n.id, n.attrs) for n in t.nexthops] == [(5, (4, "10.1.0.254", "a0", False, False, (), False)),
                                                     (6, (6, None, "a0", False, False, (), False)),
                                                     (7, (None, None, None, False, False, ((5, 1), (6, 2)), False)),
                                                     (8, (4, None, None, False, True, (), False))]
    # default takes the nexthop's family (an IPv4 route through an IPv6 one says 0.0.0.0/0)
    assert str(t.routes[0].to) == "::/0" and t.routes[1].key == ("n1", "10.9.0.0/16", None, None, 0, 254)
    assert t.routes[1].scope_number == 0   # global, as `ip route add ... nhid` gives
    for body, said in (
            ("nexthops:\n  - {netns: n1, id: 5, via: 10.1.0.254}\n", "nexthops[0]: a nexthop is one of: dev (with via "
             "or without), blackhole, or group"),
            ("nexthops:\n  - {netns: n1, id: 5, dev: a0, blackhole: true}\n", "nexthops[0]: a nexthop is one of: dev "
             "(with via or without), blackhole, or group; it gives dev and blackhole"),
            ("nexthops:\n  - {netns: n1, id: 5, dev: d0}\n", "nexthops[0].dev: 'd0' is declared down: the kernel keeps "
             "no nexthop through a device that is down"),
            ("nexthops:\n  - {netns: n1, id: 5, dev: c0}\n", "nexthops[0].dev: 'c0' has no carrier (its peer is "
             "declared down)"),
            ("nexthops:\n  - {netns: n1, id: 5, via: 10.9.9.9, dev: a0}\n", "nexthops[0].via: 10.9.9.9 is on no subnet "
             "of 'a0'"),
            ("nexthops:\n  - {netns: n1, id: 5, dev: a0}\n  - {netns: n1, id: 6, blackhole: true}\n  - {netns: n1, "
             "id: 7, group: [{id: 5}, {id: 6}]}\n", "nexthops[2].group[1].id: nexthop 6 is a blackhole: the kernel "
             "takes one in a group of it alone"),
            ("nexthops:\n  - {netns: n1, id: 5, dev: a0}\n  - {netns: n1, id: 6, dev: a0, family: ipv6}\n  - {netns: "
             "n1, id: 7, group: [{id: 5}, {id: 6}]}\nroutes:\n  - {netns: n1, to: 'fd09::/64', nhid: 7}\n",
             "routes[0].nhid: nexthop 7 is IPv4: an IPv6 route cannot go through it"),
            ("nexthops:\n  - {netns: n1, id: 5, dev: a0}\nroutes:\n  - {netns: n1, to: 10.9.0.0/16, nhid: 5, scope: "
             "link}\n", "routes[0].scope: a route through a nexthop object (nhid) has no scope"),
            ("nexthops:\n  - {netns: n1, id: 5, dev: e0}\n", "nexthops[0].dev: device 'e0' in namespace n1 is neither "
             "declared nor external"),
            ("nexthops:\n  - {netns: n1, id: 5, dev: a0}\n  - {netns: n1, id: 5, blackhole: true}\n",
             "nexthops[1].id: nexthop 5 is declared twice in namespace n1 (nexthops[0])"),
            ("nexthops:\n  - {netns: n1, id: 5, dev: a0}\n  - {netns: n1, id: 6, group: [{id: 5}]}\n  - {netns: n1, "
             "id: 7, group: [{id: 6}, {id: 9}]}\n", "nexthops[2].group[0].id: nexthop 6 is a group: a group's members "
             "are not groups (the kernel's rule)"),
            ("nexthops:\n  - {netns: n1, id: 5, dev: a0}\n  - {netns: n1, id: 7, group: [{id: 9}]}\n",
             "nexthops[1].group[0].id: nexthop 9 is not declared in namespace n1"),
            ("nexthops:\n  - {netns: n1, id: 5, dev: a0}\n  - {netns: n1, id: 7, group: [{id: 5}, {id: 5}]}\n",
             "nexthops[1].group: names a nexthop twice"),
            ("nexthops:\n  - {netns: n1, id: 5, via: 10.1.0.254, dev: a0, family: ipv6}\n",
             "nexthops[0].family: the gateway 10.1.0.254 is IPv4: leave family out"),
            ("nexthops:\n  - {netns: n1, id: 5, dev: a0, onlink: true}\n", "nexthops[0].onlink: says the gateway (via) "
             "is on the link of dev: give via"),
            ("nexthops:\n  - {netns: n1, id: 0, dev: a0}\n", "nexthops[0].id: 0 is out of range"),
            ("nexthops:\n  - {netns: n1, id: 5, dev: a0}\nroutes:\n  - {netns: n1, to: 10.9.0.0/16, nhid: 6}\n",
             "routes[0].nhid: nexthop 6 is not declared in namespace n1"),
            ("nexthops:\n  - {netns: n1, id: 5, dev: a0}\nroutes:\n  - {netns: n1, to: 10.9.0.0/16, nhid: 5, dev: a0}\n",
             "routes[0].dev: a route through a nexthop object (nhid) has no dev"),
            ("nexthops:\n  - {netns: n1, id: 5, via: 10.1.0.254, dev: a0}\nroutes:\n  - {netns: n1, to: 'fd09::/64', "
             "nhid: 5}\n", "routes[0].nhid: nexthop 5 is IPv4: an IPv6 route cannot go through it"),
            ("nexthops:\n  - {netns: n2, id: 5, dev: a0}\n", "nexthops[0].netns: namespace 'n2' is not declared")):
        with pytest.raises(SpecError) as e:
            load_text(NH + body, "t.yaml")
        assert f"t.yaml: {said}" in str(e.value), str(e.value)


def test_a_vxlan_fdb_entry_takes_a_vni_and_port_of_its_own_not_the_devices():
    t = parse("name: t\ninterfaces:\n  - {name: vx0, kind: vxlan, vni: 7, fdb: [{dst: 192.0.2.1, vni: 8, port: 5555}]}\n")
    assert t.interfaces[0].options["fdb"][0]["vni"] == 8 and t.interfaces[0].options["fdb"][0]["port"] == 5555
    for entry, path in (("{dst: 192.0.2.1, vni: 7}", "fdb[0].vni"), ("{dst: 192.0.2.1, port: 4789}", "fdb[0].port")):
        with pytest.raises(SpecError, match=re.escape(path) + r".*the device's own: leave it out"):
            parse(f"name: t\ninterfaces:\n  - {{name: vx0, kind: vxlan, vni: 7, fdb: [{entry}]}}\n")
