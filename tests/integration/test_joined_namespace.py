"""A namespace joined by the path of its file (a container's, made by a
runtime): vnet puts devices, addresses and routes in it, finds them there
again, and on destroy removes only those, never the namespace itself."""

LAB = """name: joined
interfaces:
  - {name: up0, kind: veth, peer: {name: up1, netns: /run/netns/c1, addresses: [10.9.1.2/24]}}
  - {name: mv0, kind: macvlan, link: {name: up0}, netns: /run/netns/c1, addresses: [10.9.0.2/24]}
  - {name: tap0, kind: tap, netns: /run/netns/c1}
routes:
  - {to: 10.99.0.0/16, via: 10.9.0.1, netns: /run/netns/c1}
"""


def test_devices_go_into_a_joined_namespace_and_only_they_leave_it(sandbox):
    sandbox.sh("ip netns add c1 && ip -n c1 link add mine type veth peer name mine2")
    f = sandbox.write("joined.yaml", LAB)
    sandbox.vnet("apply", f)
    links = sandbox.links("c1")
    assert {"mv0", "up1", "tap0", "mine", "mine2"} <= set(links)
    assert links["mv0"]["linkinfo"]["info_kind"] == "macvlan"
    assert "10.99.0.0/16 via 10.9.0.1 dev mv0" in sandbox.sh("ip -n c1 route")
    assert "no changes" in sandbox.vnet("plan", f).stdout
    sandbox.sh("ip -n c1 addr del 10.9.0.2/24 dev mv0")   # drift is seen in a joined namespace too
    assert "create  address 10.9.0.2/24 on /run/netns/c1/mv0" in sandbox.vnet("plan", f).stdout
    sandbox.vnet("destroy", "joined")
    assert set(sandbox.links("c1")) == {"lo", "mine", "mine2"}   # the runtime's own devices stay
    assert "up0" not in sandbox.links()
    assert sandbox.sh("ip netns list").split()[0] == "c1"


def test_a_joined_namespace_that_is_gone_is_a_conflict_and_nothing_changes(sandbox):
    f = sandbox.write("joined.yaml", LAB)
    before = sandbox.dump_all()
    r = sandbox.vnet("apply", f, check=False)
    assert r.returncode == 6, r.stderr
    assert "namespace /run/netns/c1 does not exist" in r.stderr
    assert sandbox.dump_all() == before


def test_destroy_after_the_joined_namespace_went_removes_the_host_side(sandbox):
    sandbox.sh("ip netns add c1")
    sandbox.vnet("apply", sandbox.write("joined.yaml", LAB))
    sandbox.sh("ip netns del c1")
    sandbox.vnet("destroy", "joined")
    assert "up0" not in sandbox.links()
