"""Sysctls vnet set are put back as it found them, whatever order they
are written in: writing ip_forward sets every device's forwarding, so a
device's value read after it is not the one found before the apply."""
import pytest


def _read(sandbox, key):
    return sandbox.sh(f"sysctl -n {key}").strip()


@pytest.mark.needs("veth")
def test_a_device_s_forwarding_is_restored_as_found_beside_ip_forward(sandbox):
    sandbox.sh("ip link add x0 type veth peer name x1")
    assert (_read(sandbox, "net.ipv4.ip_forward"), _read(sandbox, "net.ipv4.conf.x0.forwarding")) == ("0", "0")
    f = sandbox.write("s1.yaml", "name: s1\ninterfaces:\n  - {name: x0, kind: external}\nsysctls:\n"
                                 "  - {key: net.ipv4.conf.x0.forwarding, value: 0}\n"
                                 "  - {key: net.ipv4.ip_forward, value: 1}\n")
    sandbox.vnet("apply", f)
    assert (_read(sandbox, "net.ipv4.ip_forward"), _read(sandbox, "net.ipv4.conf.x0.forwarding")) == ("1", "0")
    sandbox.vnet("destroy", "s1")
    assert (_read(sandbox, "net.ipv4.ip_forward"), _read(sandbox, "net.ipv4.conf.x0.forwarding")) == ("0", "0")
