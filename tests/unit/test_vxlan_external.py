"""A flow-based VXLAN device (`ip link add ... type vxlan external`): no
VNI needed, `external` in the request and in `vnet script`, the kernel's
VNI 0 of such a device read as none, and a classic one still needing its VNI."""
import pytest

from vnet.errors import SpecError
from vnet.kernel import netlink as nl
from vnet.kinds import get
from vnet.render.iproute2 import script
from vnet.topofile.loader import load_text

TOPO = """name: lab
interfaces:
  - {name: vxfb, kind: vxlan, external: true, dstport: 8472, mtu: 1450}
  - {name: vx9, kind: vxlan, vni: 9, mtu: 1450}
"""


def test_a_flow_based_device_needs_no_vni_and_says_external():
    t = load_text(TOPO, "lab.yaml")
    assert [ln for ln in script(t) if "type vxlan" in ln] == [
        "ip link add vxfb mtu 1450 type vxlan external dstport 8472",
        "ip link add vx9 mtu 1450 type vxlan id 9 dstport 4789"]
    vx = get("vxlan")
    fb = next(i for i in t.interfaces if i.name == "vxfb")
    a = nl.parse(vx.info_data(fb, None))
    assert a[25] == b"\x01" and 1 not in a   # IFLA_VXLAN_COLLECT_METADATA, no IFLA_VXLAN_ID
    assert vx.exported_options({"vni": 9, "external": False}, None) == {"vni": 9}


def test_a_classic_device_still_needs_its_vni():
    with pytest.raises(SpecError) as e:
        load_text(TOPO.replace("vni: 9, ", ""), "lab.yaml")
    assert "interfaces[1] (vx9).vni: is required (1-16777215), unless the device is flow based (external: true)" \
        in str(e.value)


def test_a_flow_based_device_with_a_vni_is_refused_as_iproute2_refuses_it():
    with pytest.raises(SpecError) as e:
        load_text(TOPO.replace("external: true,", "external: true, vni: 7,"), "lab.yaml")
    assert "interfaces[0] (vxfb).vni: a flow based device (external: true) has no vni" in str(e.value)
    # beside a classic device of the same VNI and port: the kernel takes both
    load_text(TOPO.replace("vni: 9", "vni: 7, dstport: 8472"), "lab.yaml")
