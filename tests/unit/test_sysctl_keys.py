"""A per-device sysctl key names a device whose name may hold dots (a
VLAN's eth0.10): the setting is the key's last part, the device what lies
between net.ipvX.conf. (or .neigh.) and it; sysctl(8) takes such a key with
slashes, the kernel's /proc/sys path keeps the dots in the name."""
import pytest

from vnet.kernel import sysctl
from vnet.topology.model import Sysctl


@pytest.mark.parametrize("key,device,command,path", [
    ("net.ipv4.conf.eth0.10.rp_filter", "eth0.10", "net/ipv4/conf/eth0.10/rp_filter",
     "/proc/sys/net/ipv4/conf/eth0.10/rp_filter"),
    ("net.ipv6.neigh.a.b.base_reachable_time_ms", "a.b", "net/ipv6/neigh/a.b/base_reachable_time_ms",
     "/proc/sys/net/ipv6/neigh/a.b/base_reachable_time_ms"),
    ("net.ipv6.conf.veth2.disable_ipv6", "veth2", "net.ipv6.conf.veth2.disable_ipv6",
     "/proc/sys/net/ipv6/conf/veth2/disable_ipv6"),
    ("net.ipv4.conf.all.rp_filter", None, "net.ipv4.conf.all.rp_filter", "/proc/sys/net/ipv4/conf/all/rp_filter"),
    ("net.ipv4.ip_forward", None, "net.ipv4.ip_forward", "/proc/sys/net/ipv4/ip_forward"),
])
def test_a_keys_device_may_hold_dots(key, device, command, path):
    s = Sysctl(key=key, value="1")
    assert (s.device, s.command_key, sysctl._path(key)) == (device, command, path)


def test_a_dotted_devices_key_is_known_by_its_default_twin():
    assert sysctl.unknown("net.ipv4.conf.eth0.10.rp_filter", "eth0.10") is None
    assert sysctl.unknown("net.ipv4.conf.eth0.10.rp_filtr", "eth0.10") == "net.ipv4.conf.eth0.10.rp_filter"
