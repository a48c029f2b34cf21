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
    ("10.50.0.1/24 peer 10.50.0.2/24", "10.50.0.1 peer 10.50.0.2/24"),
    ("10.51.0.1/24  noprefixroute", "10.51.0.1/24 noprefixroute"),
    ("10.52.0.1/24 metric 77 noprefixroute", "10.52.0.1/24 noprefixroute metric 77"),
    ("fd00:53::1 peer fd00:53::2/128", "fd00:53::1 peer fd00:53::2/128"),
    ("fd00:52::1/64 metric 300", "fd00:52::1/64 metric 300"),
    ("169.254.1.1/16 scope link", "169.254.1.1/16 scope link"),
    ("10.56.0.1/24 scope 7 metric 5", "10.56.0.1/24 metric 5 scope 7"),
    ("127.0.0.2/8 scope global", "127.0.0.2/8 scope global"),   # (`ip address add` would give host)
    ("10.57.0.1/24 brd 0.0.0.0", "10.57.0.1/24 brd 0.0.0.0"),       # none (as `ip address add` alone gives)
    ("10.57.0.1/24 brd -", "10.57.0.1/24 brd 10.57.0.0"),
    ("10.57.0.1/24 brd 10.57.0.127", "10.57.0.1/24 brd 10.57.0.127"),
    ("10.57.0.1 peer 10.58.0.2/24 brd +", "10.57.0.1 peer 10.58.0.2/24 brd 10.58.0.255"),   # the peer's subnet's
    ("10.57.0.1/31 brd 10.57.0.1", "10.57.0.1/31 brd 10.57.0.1"),
    ("10.57.0.1/24 label eth0:1", "10.57.0.1/24 label eth0:1"),
    ("10.57.0.1/24 label eth0:x scope link brd 0.0.0.0", "10.57.0.1/24 brd 0.0.0.0 scope link label eth0:x"),
    ("10.57.0.1/24 label 'eth0:a b'", "10.57.0.1/24 label 'eth0:a b'"),   # a space: quoted, as a shell quotes it
    ("fd00:55::1/64 mngtmpaddr home", "fd00:55::1/64 home mngtmpaddr"),
    ("fd00:55::1/48 noprefixroute home", "fd00:55::1/48 noprefixroute home"),
    ('10.57.0.1/24 label "it\'s"', "10.57.0.1/24 label 'it'\"'\"'s'"),
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
    ("10.0.0.1/24 peer 10.0.0.2/30", "the length is the peer's, /30"),
    ("10.0.0.1/24 peer 10.0.1.2", "the length is the peer's, /32 (as ip address add gives it), not /24"),
    ("0.0.0.0/24 noprefixroute", "means no address"),
    ("10.0.0.1 peer 224.0.0.1/32", "the peer 224.0.0.1 is multicast"),
    ("10.0.0.1/24 scope bogus", "scope 'bogus' is not one of global, site, link, host, nowhere or a number"),
    ("10.0.0.1/24 scope 256", "a number 0..255"),
    ("fd00::1/64 scope link", "an IPv6 address's scope is its address's own"),
    ("fd00::1/64 brd +", "an IPv6 address has no broadcast address: leave brd out"),
    ("fd00::1/64 label eth0:1", "an IPv6 address has no label: leave label out"),
    ("10.0.0.1/24 brd ten", "brd 'ten' is not an IPv4 address, + or -"),
    ("10.0.0.1/24 label eth0:123456789012", "label 'eth0:123456789012' is longer than 15 bytes"),
    ("10.0.0.1/24 label", "'label' needs a value"),
    ("10.0.0.1/24 label 'eth0:a b", "has a quote that is not closed"),
    ("10.0.0.1/24 home", "home is an IPv6 address's flag: leave it out"),
    ("fd00::1/48 mngtmpaddr", "mngtmpaddr needs a /64 (the kernel's rule), not /48"),
    ("fd00::1/64 home home", "'home' is given twice"),
])
def test_a_wrong_address_says_what_is_wrong_with_an_example(given, why):
    with pytest.raises(Invalid) as e:
        CIDR().parse(given)
    assert why in str(e.value) and repr(given) in str(e.value)
    assert "'10.0.0.1 peer 10.0.0.2/32'" in str(e.value) or "means no address" in str(e.value) \
        or "multicast" in str(e.value)


def test_a_peer_that_is_the_address_itself_is_none_as_the_kernel_holds_it():
    assert parse("10.0.0.1 peer 10.0.0.1/32") == ipaddress.ip_interface("10.0.0.1/32")
    assert type(parse("10.0.0.1 peer 10.0.0.1/32 metric 5")) is Flavoured4
    assert parse("10.0.0.1 peer 10.0.0.1/32 metric 5").peer is None


@pytest.mark.parametrize("addresses,twice", [
    (["fd00::1/64", "fd00::1 peer fd00::2/64"], True),            # IPv6: the address alone
    (["fd00::1/64", "fd00::1/48"], True),
    (["10.0.0.1/24", "10.0.0.1/24 metric 5"], True),              # IPv4: address, length, subnet
    (["10.0.0.1 peer 10.0.0.2/24", "10.0.0.1 peer 10.0.0.3/24"], True),
    (["10.0.0.1/24", "10.0.0.1/24 peer 10.0.1.2/24"], False),     # another subnet: another address
    (["10.0.0.1/24", "10.0.0.1/16"], False),
])
def test_two_addresses_the_kernel_takes_for_one_are_refused_as_listed_twice(addresses, twice):
    from vnet.errors import SpecError
    from vnet.topofile.loader import load_text
    text = "name: t\ninterfaces:\n  - {name: d0, kind: dummy, addresses: [%s]}\n" % ", ".join(f"'{a}'" for a in addresses)
    if twice:
        with pytest.raises(SpecError) as e:
            load_text(text, "t.yaml")
        assert "is listed twice" in str(e.value) and "interfaces[0] (d0).addresses" in str(e.value)
    else:
        load_text(text, "t.yaml")


def test_lo_s_own_address_in_another_flavour_is_refused():
    from vnet.errors import SpecError
    from vnet.topofile.loader import load_text
    with pytest.raises(SpecError) as e:
        load_text("name: t\nnamespaces: [n1]\ninterfaces:\n"
                  "  - {name: lo, kind: external, netns: n1, addresses: ['127.0.0.1/8 metric 5']}\n", "t.yaml")
    assert "the kernel gives it" in str(e.value)


@pytest.mark.parametrize("address,via,reached", [
    ("fd00::1 peer fd00::2/128 noprefixroute", "fd00::2", True),   # IPv6: the peer's /128, noprefixroute or not
    ("fd00::1 peer fd00:1::2/64", "fd00::5", True),               # ... and the address's own subnet
    ("fd00::1 peer fd00:1::2/64", "fd00:1::7", False),
    ("10.0.0.1 peer 10.9.0.2/32", "10.9.0.2", True),              # IPv4: the peer's subnet alone
    ("10.0.0.1 peer 10.9.0.2/32", "10.0.0.5", False),
    ("10.0.0.1/24 noprefixroute", "10.0.0.5", False),
])
def test_a_gateway_is_reached_through_the_routes_the_kernel_makes_for_an_address(address, via, reached):
    from vnet.errors import SpecError
    from vnet.topofile.loader import load_text
    text = (f"name: t\nnamespaces: [n1]\ninterfaces:\n  - {{name: d0, kind: dummy, netns: n1, addresses: ['{address}']}}\n"
            f"routes:\n  - {{netns: n1, to: '{'10.70.0.0/16' if '.' in via else 'fd70::/64'}', via: '{via}'}}\n")
    if reached:
        load_text(text, "t.yaml")
    else:
        with pytest.raises(SpecError) as e:
            load_text(text, "t.yaml")
        assert "is on no subnet" in str(e.value)


class _Dumping:
    """A socket whose address dump is the given messages."""

    def __init__(self, bodies):
        self.bodies = bodies

    def dump(self, mtype, body):
        from vnet.kernel import rtnl
        return [(rtnl.RTM_NEWADDR, b) for b in self.bodies]


def _newaddr(text, index=7, flags_attr=None):
    """The RTM_NEWADDR the kernel sends for the address ``text`` (as the add
    request's body: IFA_LOCAL, IFA_ADDRESS, IFA_FLAGS, IFA_RT_PRIORITY)."""
    from vnet.kernel import rtnl
    log = []

    class Rec:
        def request(self, mtype, body, flags=0):
            log.append(body)
    rtnl.add_addr(Rec(), index, parse(text))
    return log[0]


def test_the_address_dump_reads_each_flavour_back_and_never_hands_a_plain_one_for_it():
    from vnet.kernel import rtnl
    from vnet.topology.address import make
    texts = ["10.52.0.1/24", "10.52.0.1/24 metric 77", "10.50.0.1 peer 10.50.0.2/32", "10.51.0.1/24 noprefixroute",
             "fd00:52::1/64 noprefixroute", "fd00:53::1 peer fd00:53::2/128", "fd00:54::1/64 metric 300",
             "169.254.1.1/16 scope link", "127.0.0.2/8", "127.0.0.3/8 scope global"]
    sock = _Dumping([_newaddr(t) for t in texts])
    plain_first = rtnl.dump_addrs(sock)   # a reader that takes addresses alone (the CNI bridge's)...
    assert [str(a) for _i, a, _s in plain_first] == [t.split()[0] if " peer " not in t else t.split()[0] + "/" +
                                                    t.split("/")[-1] for t in texts]
    got = rtnl.dump_addrs(sock, make)     # ... does not make the next one's flavoured addresses plain
    assert [str(a) for _i, a, _s in got] == texts
    assert [type(a).__name__ for _i, a, _s in got] == ["IPv4Interface", "Flavoured4", "Flavoured4", "Flavoured4",
                                                       "Flavoured6", "Flavoured6", "Flavoured6", "Flavoured4",
                                                       "IPv4Interface", "Flavoured4"]
    assert all(i == 7 and not s for i, _a, s in got)


def test_the_address_dump_reads_a_label_by_its_device_s_name_and_the_broadcast_by_vnet_s_default():
    from vnet.kernel import rtnl
    from vnet.topology.address import make
    texts = ["10.57.0.1/24 label eth0:1", "10.57.0.2/24 brd 0.0.0.0", "10.57.0.3/24 brd 10.57.0.127",
             "10.57.0.4/24", "10.57.0.5/31", "10.57.0.6 peer 10.57.0.7/32"]
    sock = _Dumping([_newaddr(t) for t in texts])
    got = rtnl.dump_addrs(sock, make, {7: "eth0"})
    assert [str(a) for _i, a, _s in got] == texts
    assert [str(a) for _i, a, _s in rtnl.dump_addrs(sock, make, {7: "eth1"})][0] == texts[0]
    # the kernel's label for an address given none is the device's name: the address alone
    named = _Dumping([_newaddr("10.57.0.1/24 label eth0")])
    assert [type(a) for _i, a, _s in rtnl.dump_addrs(named, make, {7: "eth0"})] == [ipaddress.IPv4Interface]
    assert [str(a) for _i, a, _s in rtnl.dump_addrs(named, make, {7: "eth9"})] == ["10.57.0.1/24 label eth0"]


@pytest.mark.parametrize("given,printed", [
    ("10.0.0.1/24 scope global", "10.0.0.1/24"), ("127.0.0.2/8 scope host", "127.0.0.2/8"),
    ("10.0.0.1 peer 10.0.0.1/32", "10.0.0.1/32"), ("10.0.0.1/24 brd +", "10.0.0.1/24"),
    ("10.0.0.1/24 brd 10.0.0.255", "10.0.0.1/24"), ("10.0.0.1/31 brd +", "10.0.0.1/31"),
    ("10.0.0.1/32 brd 0.0.0.0", "10.0.0.1/32")])
def test_words_that_say_what_the_kernel_gives_anyway_make_a_plain_address(given, printed):
    # as `ip address` prints them: a user pastes them
    a = CIDR().parse(given)
    assert type(a) is ipaddress.IPv4Interface and str(a) == printed
