"""What this kernel can do, probed for real: each interface kind is created
in a throwaway network namespace (the kernel loads its module on demand, as
for a user). Tests declare what they need with @pytest.mark.needs(...), and
run here when this kernel has it, in the full-kernel guest otherwise."""
import json
import os
import subprocess
import sys

KINDS = ("bridge", "veth", "vxlan", "macvlan", "macvtap", "vlan", "bond", "ipvlan", "ipvtap", "dummy",
         "team", "macsec", "vcan", "vxcan")

_PROBE = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from vnet.kernel import netlink as nl, rtnl
s = nl.Socket()
ok = {}
def attempt(name, attrs):
    try:
        rtnl.new_link(s, up=False, attrs=rtnl.link_attrs(name=name) + attrs)
        return True
    except OSError:
        return False
rtnl.new_link(s, up=False, attrs=rtnl.link_attrs(name="lower0") + rtnl.linkinfo("veth", nl.attr(1, rtnl.ifinfo() + rtnl.link_attrs(name="lower1"))))
low = rtnl.get_link(s, "lower0").ifindex
for kind in json.loads(sys.argv[2]):
    data = b""
    extra = b""
    if kind in ("macvlan", "macvtap", "ipvlan", "ipvtap", "vlan", "macsec"):
        extra = nl.u32(5, low)
    if kind == "vlan":
        data = nl.u16(1, 7)
    if kind == "vxlan":
        data = nl.u32(1, 7)
    if kind in ("veth", "vxcan"):
        data = nl.attr(1, rtnl.ifinfo() + rtnl.link_attrs(name="p" + kind[:6]))
    ok[kind] = attempt("t" + kind[:10], extra + rtnl.linkinfo(kind, data))
# a bridge with VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING)
ok["bridge_vlan_filtering"] = attempt("tbrvf", rtnl.linkinfo("bridge", nl.u8(7, 1)))
print(json.dumps(ok))
"""

_cache = None


def available():
    """{need: bool} for this kernel (probed once per process)."""
    global _cache
    if _cache is None:
        src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
        r = subprocess.run(["unshare", "--net", sys.executable, "-c", _PROBE, src, json.dumps(KINDS)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"kernel feature probe failed: {r.stderr}")
        _cache = json.loads(r.stdout)
        # a net_failover group exists only where a hypervisor offered a
        # virtio-net STANDBY device (the test guest does): look, don't create
        sys.path.insert(0, src)
        from vnet.kernel.ethtool import driver
        _cache["net_failover"] = any(driver(n) == "net_failover" for n in os.listdir("/sys/class/net"))
    return _cache


def missing(needs):
    have = available()
    return [n for n in needs if not have.get(n, False)]
