"""plan() on the namespaces a stopped apply or destroy can leave: an entry
of /run/netns that is not a namespace (half made), and a namespace whose lo
is still down. No kernel: states built by hand, as observe() reports them."""
import pytest

from vnet.errors import PlanError
from vnet.state import Device, State
from vnet.topology.address import loopback_own
from vnet.ownership import Record
from vnet.planner import plan
from vnet.topofile.loader import load_text

TOPO = "name: lab\nnamespaces: [net1, net2]\n"


def state(namespaces=(), half_made=(), lo_down=()):
    st = State()
    st.namespaces = {None: {}}
    for ns in namespaces:
        up = ns not in lo_down   # (up, with the addresses the kernel gave it then)
        st.namespaces[ns] = {"lo": Device(netns=ns, name="lo", ifindex=1, up=up, loopback=True,
                                          addresses=sorted(loopback_own(), key=str) if up else [])}
    st.half_made = set(half_made)
    return st


def changes(st, owned=()):
    p = plan(load_text(TOPO, "lab.yaml"), st, Record("lab", {"namespaces": list(owned)}))
    return [(c.action, c.object, c.reason, c.op) for c in p.changes]


def test_a_half_made_namespace_the_record_owns_is_finished():
    assert changes(state(["net2"], half_made=["net1"]), owned=["net1", "net2"]) == [
        ("create", "netns net1", "half made (an apply was stopped making it)", ("ns_create", "net1", "finish"))]


def test_a_half_made_namespace_not_owned_is_a_conflict_naming_it():
    with pytest.raises(PlanError) as e:
        changes(state(half_made=["net1"]))
    assert "namespace 'net1': /run/netns/net1 is not a network namespace" in str(e.value)
    assert "not owned by topology 'lab': left alone" in str(e.value)


def test_a_half_made_namespace_no_longer_declared_is_deleted():
    assert changes(state(["net1", "net2"], half_made=["old"]), owned=["net1", "net2", "old"]) == [
        ("delete", "netns old", "no longer declared", ("ns_delete", "old"))]


def test_an_owned_namespace_with_lo_down_gets_it_up_and_a_strangers_does_not():
    assert changes(state(["net1", "net2"], lo_down=["net2"]), owned=["net1", "net2"]) == [
        ("modify", "netns net2", "its lo is down", ("ns_create", "net2", "lo"))]
    with pytest.raises(PlanError, match="namespace 'net2' exists and is not owned"):
        changes(state(["net1", "net2"], lo_down=["net2"]), owned=["net1"])


@pytest.mark.parametrize("ipv6", ["0", "1", None])
def test_the_kernel_s_own_addresses_of_lo_flushed_are_added_back_where_ipv6_is_on(ipv6):
    """lo flushed by hand in a namespace vnet made: 127.0.0.1/8 added back,
    and ::1 where IPv6 is on for lo (off, or a kernel without IPv6: none)."""
    st = state(["net1", "net2"])
    st.namespaces["net2"]["lo"] = st.namespaces["net2"]["lo"].replace(addresses=[])
    st.sysctls[("net2", "net.ipv6.conf.lo.disable_ipv6")] = ipv6
    got = [(c.object, c.reason) for c in plan(load_text(TOPO, "lab.yaml"), st,
                                              Record("lab", {"namespaces": ["net1", "net2"]})).changes]
    assert got == [("address 127.0.0.1/8 brd 0.0.0.0 on net2/lo", "lo's own address, flushed")] + \
        ([("address ::1/128 on net2/lo", "lo's own address, flushed")] if ipv6 == "0" else [])
