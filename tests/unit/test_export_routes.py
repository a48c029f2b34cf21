"""The routes section of an export: observed routes as the file writes
them (defaults left out), the kernel's own never written."""
import ipaddress

from vnet.export import exported_routes, route_doc
from vnet.state import Route, State
from vnet.topofile.loader import load_text

ip, net = ipaddress.ip_address, ipaddress.ip_network


def _state():
    st = State()
    st.routes = {"n1": [
        Route("n1", net("10.1.0.0/24"), None, "a0", 0, 2, 254, ip("10.1.0.1"), 253),          # an address's subnet
        Route("n1", net("10.1.0.1/32"), None, "a0", 0, 2, 255, ip("10.1.0.1"), 254),          # local table
        Route("n1", net("fe80::/64"), None, "a0", 256, 2),                                     # kernel, IPv6
        Route("n1", net("::/0"), ip("fe80::1"), "a0", 1024, 9),                                # router advertisement
        Route("n1", net("0.0.0.0/0"), ip("192.0.2.1"), "a0", 0, 4, 200, None, 0, True),
        Route("n1", net("10.8.0.0/16"), None, "a0", 5, 3, 254, ip("10.1.0.1"), 254),
        Route("n1", net("fd09::/64"), ip("fd01::254"), "a0", 1024, 4, 254, ip("fd01::1")),
        Route("n1", net("10.7.0.0/16"), None, "a0", 0, 4, 254, None, 253)],
        "n2": [Route("n2", net("10.9.0.0/16"), ip("10.1.0.254"), "b0", 0, 4)]}
    return st


def test_the_kernels_own_routes_are_not_exported_and_defaults_are_left_out():
    docs = [route_doc(r) for r in exported_routes(_state(), ["n1"])]
    assert docs == [{"netns": "n1", "to": "default", "via": "192.0.2.1", "dev": "a0", "table": 200, "onlink": True},
                    {"netns": "n1", "to": "10.8.0.0/16", "dev": "a0", "metric": 5, "src": "10.1.0.1",
                     "scope": "host"},
                    {"netns": "n1", "to": "fd09::/64", "via": "fd01::254", "dev": "a0", "src": "fd01::1"},
                    {"netns": "n1", "to": "10.7.0.0/16", "dev": "a0"}]


def test_exported_routes_read_back_as_the_same_routes():
    docs = [route_doc(r) for r in exported_routes(_state(), ["n1", "n2"])]
    text = "name: t\nnamespaces: [n1, n2]\ninterfaces:\n" \
           "  - {name: a0, kind: veth, netns: n1, addresses: [10.1.0.1/24, 'fd01::1/64'], peer: {name: b0, netns: n2, " \
           "addresses: [10.1.0.2/24]}}\nroutes:\n" + "".join(f"  - {d}\n".replace("'", '"') for d in docs)
    t = load_text(text.replace("True", "true"), "t.yaml")
    st = _state()
    live = {r.key: r for rs in st.routes.values() for r in rs}
    from vnet.planner.routes import _route_attrs_as_declared
    for r in t.routes:   # as a plan compares them (a protocol the file does not give: any)
        assert r.key in live and _route_attrs_as_declared(live[r.key], r) == r.attrs, r


def test_next_hops_keep_their_order_and_compare_in_any():
    """The kernel keeps a multipath route's next hops in the order it is
    given (it shares the flows out by it): a file's order is the one made,
    an observed order the one an undo puts back; two orders are one route."""
    from vnet.topology.model import same_attrs
    t = load_text("name: t\ninterfaces:\n  - {name: a0, kind: veth, addresses: [10.1.0.1/24], peer: {name: b0}}\n"
                  "routes:\n  - {to: 10.9.0.0/16, nexthops: [{via: 10.1.0.9, dev: a0}, {via: 10.1.0.3, dev: a0}]}\n")
    r = t.routes[0]
    assert r.attrs[4] == (("10.1.0.9", "a0", 1), ("10.1.0.3", "a0", 1))
    live = Route(None, net("10.9.0.0/16"), None, None, 0, 4, nexthops=((ip("10.1.0.3"), "a0", 1), (ip("10.1.0.9"), "a0", 1)))
    assert live.attrs[4] == (("10.1.0.3", "a0", 1), ("10.1.0.9", "a0", 1))
    from vnet.planner.routes import _route_attrs_as_declared
    seen = _route_attrs_as_declared(live, r)
    assert same_attrs(seen, r.attrs) and not same_attrs(seen, r.attrs[:4] + (r.attrs[4][:1],) + r.attrs[5:])


def test_a_route_of_protocol_kernel_is_the_kernel_s_own_only_where_it_would_make_it():
    """An address's prefix route as the kernel makes it (its device, subnet,
    metric, src) is its own; the same route of an address given
    noprefixroute (NetworkManager adds it itself), or with another metric,
    src or device, is someone's. The local table's entries, IPv6's
    fe80::/64 and an expiring IPv6 one (a router advertisement's prefix)
    are the kernel's."""
    from vnet.observer import _PrefixRoutes, kernel_made
    from vnet.state import Device
    from vnet.topology.address import parse

    def dev(name, *addresses):
        return Device("n1", name, 1, addresses=[parse(a) for a in addresses])

    made = _PrefixRoutes({"a0": dev("a0", "10.0.0.5/24", "fd00::1/64", "10.2.0.1/24 metric 50"),
                          "a1": dev("a1", "10.1.0.5/24 noprefixroute", "fd01::1/64 noprefixroute")})

    def own(to, dev, metric=0, src=None, table=254, proto=2, scope=253, rtype="unicast", expires=False):
        return kernel_made(net(to), dev, metric, proto, table, src and ip(src), scope, rtype, expires, made)

    assert own("10.0.0.0/24", "a0", src="10.0.0.5") and own("fd00::/64", "a0", 256, scope=0)
    assert own("10.2.0.0/24", "a0", 50, "10.2.0.1") and not own("10.2.0.0/24", "a0", 0, "10.2.0.1")
    assert not own("10.1.0.0/24", "a1", 100, "10.1.0.5") and not own("fd01::/64", "a1", 100, scope=0)
    assert not own("10.0.0.0/24", "a0", src="10.0.0.6") and not own("10.0.0.0/24", "a1", src="10.0.0.5")
    assert not own("10.0.0.0/24", "a0", src="10.0.0.5", proto=4)   # someone's, of another protocol
    assert own("10.9.0.1/32", "a0", table=255, rtype="local") and own("fe80::/64", "a1", 256, scope=0)
    assert own("fd66::/64", "a1", 256, scope=0, expires=True) and own("::/0", "a1", 1024, proto=9)
    assert not own("10.9.0.0/24", "lo", table=255, proto=3, rtype="local")   # ip route add local ... table local
