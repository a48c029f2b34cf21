"""The CNI plugin's configuration read into a topology document: the
reference plugins' defaults where vnet's own kind defaults differ."""
import pytest

from vnet.cni import config
from vnet.cni.commands import Env

ENV = Env({"CNI_CONTAINERID": "c1", "CNI_NETNS": "/run/netns/c1", "CNI_IFNAME": "eth0"})


def container_iface(conf):
    net = config.read({"cniVersion": "1.0.0", "name": "n", "type": "vnet", **conf}, ENV)
    return net.doc["interfaces"][-1]


@pytest.mark.parametrize("conf,mode", [
    ({"kind": "ipvlan", "master": "eth1"}, "l2"),     # the reference ipvlan plugin's default (vnet's: l3)
    ({"kind": "ipvtap", "master": "eth1"}, "l2"),
    ({"master": "eth1", "mode": "l3"}, "l3"),
    ({"kind": "ipvlan", "master": "eth1", "mode": "l3s"}, "l3s"),
    ({"master": "eth1"}, "bridge"),                   # macvlan: the reference plugin's default (vnet's: vepa)
    ({"kind": "macvtap", "master": "eth1"}, "bridge"),
])
def test_the_reference_plugins_default_modes(conf, mode):
    it = container_iface(conf)
    assert it["mode"] == mode and it["link"] == {"name": "eth1"} and it["netns"] == "/run/netns/c1"
