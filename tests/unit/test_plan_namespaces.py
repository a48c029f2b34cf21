"""plan() on the namespaces a stopped apply or destroy can leave: an entry
of /run/netns that is not a namespace (half made), and a namespace whose lo
is still down. No kernel: states built by hand, as observe() reports them."""
import pytest

from vnet.errors import PlanError
from vnet.state import Device, State
from vnet.ownership import Record
from vnet.planner import plan
from vnet.topofile.loader import load_text

TOPO = "name: lab\nnamespaces: [net1, net2]\n"


def state(namespaces=(), half_made=(), lo_down=()):
    st = State()
    st.namespaces = {None: {}}
    for ns in namespaces:
        st.namespaces[ns] = {"lo": Device(netns=ns, name="lo", ifindex=1, up=ns not in lo_down, loopback=True)}
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
