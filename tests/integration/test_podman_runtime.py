"""A real container runtime, podman 4.3 (CNI backend), against the reference
CNI plugins, all inside the test's sandbox: a container sees its interface
and address, reaches another container, and after removal nothing is left
(no host-side interface, no IPAM reservation, no namespace, no cache).
The harness vnet's own CNI plugin will be run with."""
import pytest

from podman import REFERENCE_PLUGINS, Podman, make_rootfs, missing

pytestmark = [pytest.mark.root, pytest.mark.skipif(bool(missing()), reason=missing() or "")]


@pytest.fixture(scope="session")
def rootfs(tmp_path_factory):
    return make_rootfs(tmp_path_factory.mktemp("busybox-rootfs"))


def host_local(tmp_path, subnet):
    return {"type": "host-local", "dataDir": str(tmp_path / "ipam"), "ranges": [[{"subnet": subnet}]]}


def bridge_net(tmp_path, sandbox):
    plugin = {"type": "bridge", "bridge": "cnitest0", "isGateway": True, "ipam": host_local(tmp_path, "10.99.0.0/24")}
    return {"cniVersion": "0.4.0", "name": "cnibr", "plugins": [plugin]}, ["cnitest0", "lo"]


def macvlan_net(tmp_path, sandbox):
    sandbox.external("cnimv0")   # a veth pair, both ends up: the master
    plugin = {"type": "macvlan", "master": "cnimv0", "mode": "bridge", "ipam": host_local(tmp_path, "10.98.0.0/24")}
    return {"cniVersion": "0.4.0", "name": "cnimv", "plugins": [plugin]}, ["cnimv0", "cnimv0-p", "lo"]


@pytest.mark.parametrize("make_net", [bridge_net, macvlan_net], ids=["bridge", "macvlan"])
def test_container_addressed_reachable_and_gone(sandbox, tmp_path, rootfs, make_net):
    net, host_links = make_net(tmp_path, sandbox)
    name, subnet = net["name"], net["plugins"][0]["ipam"]["ranges"][0][0]["subnet"]
    with Podman(tmp_path, [REFERENCE_PLUGINS], {name: net}, rootfs) as pm:
        addr = pm.run(["ip", "-o", "-4", "addr", "show", "eth0"], network=name)
        assert f"inet {subnet.rsplit('.', 1)[0]}." in addr, addr
        a = pm.start("a", network=name)
        during = pm.leftovers()
        assert during["reservations"] == {name: [a]} and len(during["netns"]) == 1, during
        assert "1 packets received" in pm.ping(a, network=name)
        pm.remove("a")
        assert pm.leftovers() == {"reservations": {name: []}, "links": host_links, "netns": [],
                                  "cni_cache": [], "containers": []}
