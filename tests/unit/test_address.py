"""A device's address beyond address/prefix (vnet.topology.address): the
text `ip address` prints parses to an address that compares, hashes,
prints and pickles with its peer, noprefixroute and metric; the plain
address stays ipaddress's own and differs from any flavoured one."""
import ipaddress
import pickle

import pytest

from vnet.topology.address import Flavoured4, Flavoured6, parse, plain, text
from vnet.topology.problems import Invalid
from vnet.topology.scalars import CIDR


@pytest.mark.parametrize("given,printed", [
    ("10.50.0.1 peer 10.50.0.2/32", "10.50.0.1 peer 10.50.0.2/32"),
    ("10.50.0.1/32 peer 10.50.0.2", "10.50.0.1 peer 10.50.0.2/32"),
    ("10.50.0.1 peer 10.50.0.2", "10.50.0.1 peer 10.50.0.2/32"),     # as `ip address add A peer B`: a host's
    ("10.51.0.1/24  noprefixroute", "10.51.0.1/24 noprefixroute"),
    ("10.52.0.1/24 metric 77 noprefixroute", "10.52.0.1/24 noprefixroute metric 77"),
    ("fd00:53::1 peer fd00:53::2/128", "fd00:53::1 peer fd00:53::2/128"),
    ("fd00:52::1/64 metric 300", "fd00:52::1/64 metric 300"),
])
def test_the_text_parses_and_prints_back_as_iproute2_writes_it(given, printed):
    a = parse(given)
    assert str(a) == text(a) == printed
    assert parse(str(a)) == a and hash(parse(str(a))) == hash(a)
    assert pickle.loads(pickle.dumps(a)) == a
    assert isinstance(a, Flavoured4 if a.version == 4 else Flavoured6)
    assert isinstance(a, ipaddress.IPv4Interface if a.version == 4 else ipaddress.IPv6Interface)


def test_a_flavoured_address_is_another_address_than_the_plain_one():
    bare = ipaddress.ip_interface("10.52.0.1/24")
    metric = parse("10.52.0.1/24 metric 77")
    assert metric != bare and bare != metric and not (bare == metric)
    assert metric not in {bare} and bare not in {metric}
    assert {bare, metric, parse("10.52.0.1/24 metric 78")} == {bare, metric, parse("10.52.0.1/24 metric 78")}
    assert len({bare, metric, parse("10.52.0.1/24 metric 77")}) == 2
    assert plain(metric) == bare and type(plain(metric)) is ipaddress.IPv4Interface
    assert parse("10.52.0.1/24") == bare and type(parse("10.52.0.1/24")) is ipaddress.IPv4Interface
    assert sorted([metric, bare], key=str) == [bare, metric]


@pytest.mark.parametrize("given,why", [
    ("10.0.0.1/24 peer fd00::1", "not an IPv4 address"),
    ("10.0.0.1/24 bogus", "unknown word 'bogus'"),
    ("10.0.0.1/24 metric", "'metric' needs a value"),
    ("10.0.0.1/24 metric 0", "not a number 1..4294967295"),
    ("10.0.0.1/24 metric 4294967296", "not a number 1..4294967295"),
    ("10.0.0.1/24 metric 5 metric 6", "'metric' is given twice"),
    ("10.0.0.1 noprefixroute", "has no prefix length"),
    ("10.0.0.1/24 peer 10.0.0.2/30", "two prefix lengths"),
    ("0.0.0.0/24 noprefixroute", "means no address"),
    ("10.0.0.1 peer 224.0.0.1/32", "the peer 224.0.0.1 is multicast"),
])
def test_a_wrong_address_says_what_is_wrong_with_an_example(given, why):
    with pytest.raises(Invalid) as e:
        CIDR().parse(given)
    assert why in str(e.value) and repr(given) in str(e.value)
    assert "'10.0.0.1 peer 10.0.0.2/32'" in str(e.value) or "means no address" in str(e.value) \
        or "multicast" in str(e.value)
