"""Property-based: whatever document the loader is given, it returns a
topology or raises SpecError (exit code 2 with a message), never anything
else. Documents are built from the format's own vocabulary, so that many
are nearly valid and reach the deep checks."""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vnet.errors import SpecError
from vnet.kinds import REGISTRY
from vnet.topofile.loader import load_text, parse

WORDS = ["name", "kind", "netns", "peer", "master", "link", "dev", "mode", "id", "vni", "addresses", "mtu",
         "mac", "up", "tx", "rx", "sas", "an", "key", "key_id", "runner", "tunnel", "listen", "vlans", "vid",
         "protocol", "remote", "local", "fdb", "dst", "checks", "ping", "from", "to", "expect", "capture", "during"]
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 70000), st.floats(allow_nan=True),
    st.sampled_from(["br0", "veth1", "net1", "net2", "eth0", "10.0.0.1/24", "10.0.0.1", "::1", "fe80::1/64",
                     "02:00:00:00:00:01", "bridge", "private", "l3", "802.1ad", "default", "1.2.3.4:5",
                     "00112233445566778899aabbccddeeff", "***", "x" * 20, "", "a/b", "reachable"]
                    + [k.name for k in REGISTRY]),
    st.text(max_size=8))
NAMES = st.sampled_from(WORDS)


def _docs():
    leaf = VALUES
    return st.recursive(leaf, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(NAMES, inner, max_size=6)), max_leaves=30)


def _topologies():
    iface = st.fixed_dictionaries({"name": st.sampled_from(["br0", "veth1", "vx0", "eth1", "m0", "t0"]),
                                   "kind": st.sampled_from([k.name for k in REGISTRY])},
                                  optional={w: _docs() for w in ("netns", "peer", "master", "link", "mode",
                                                                   "addresses", "mtu", "vni", "id", "tx")})
    return st.fixed_dictionaries({"name": st.sampled_from(["lab", "t", "Bad Name"])},
                                 optional={"namespaces": st.lists(st.sampled_from(["net1", "net2", "x"]), max_size=3),
                                           "interfaces": st.lists(iface, max_size=5),
                                           "routes": _docs(), "sysctls": _docs(), "checks": _docs()})


def _only_spec_errors(doc):
    try:
        parse(doc, "fuzz.yaml")
    except SpecError as e:
        assert str(e).startswith("fuzz.yaml"), str(e)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_docs())
def test_any_document_gives_a_topology_or_a_spec_error(doc):
    _only_spec_errors(doc)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_topologies())
def test_nearly_valid_topologies_give_a_topology_or_a_spec_error(doc):
    _only_spec_errors(doc)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_give_a_topology_or_a_spec_error(data):
    try:
        load_text(data, "fuzz.yaml")
    except SpecError:
        pass
