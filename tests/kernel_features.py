"""What this kernel can do, probed for real: each interface kind of the
registry is created in a throwaway network namespace, as its ``probes``
says (the kernel loads its module on demand, as for a user). Tests declare
what they need with @pytest.mark.needs(...), and run here when this kernel
has it, in the full-kernel guest otherwise; a need nothing probes is an
error, never a silent trip to the guest."""
import json
import os
import subprocess
import sys

_PROBE = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from vnet.kernel import netlink as nl, rtnl
from vnet.kinds import REGISTRY
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
# each kind says how to make a throwaway device with each feature it may need
for kind in REGISTRY:
    for feature, attrs in kind.probes(low).items():
        ok[feature] = attempt(f"t{len(ok)}", attrs)
sys.path.insert(0, sys.argv[2])
from kernel_features import udp_gso_refused_without_csum
ok["udp_gso_refused_without_csum"] = udp_gso_refused_without_csum()
# UDP segmentation offload for TUN/TAP (TUN_F_USO4/6, Linux 6.2)
from vnet import tun
try:
    tun.open("tuso0", offload=True, udp_offload=True).close()
    ok["tun_uso"] = True
except OSError:
    ok["tun_uso"] = False
print(json.dumps(ok))
"""


def tx_checksum(name, on):
    """Turn a device's transmit checksum offload on or off (ETHTOOL_STXCSUM),
    in the caller's namespace."""
    import ctypes
    import fcntl
    import socket
    import struct
    val = ctypes.create_string_buffer(struct.pack("II", 0x17, 1 if on else 0))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s, 0x8946, struct.pack("16sP", name.encode(), ctypes.addressof(val)) + bytes(16))   # SIOCETHTOOL


def udp_gso_refused_without_csum():
    """Whether this kernel refuses a UDP GSO send (EIO) through a device
    without transmit checksum offload, as Debian 12's 6.1 does (6.18 segments
    it anyway). Probed in the caller's throwaway namespace."""
    import socket
    import struct
    subprocess.run("ip link add gso0 type veth peer name gso1 && ip addr add 10.254.0.1/24 dev gso0 && "
                   "ip link set gso0 up && ip link set gso1 up && "
                   "ip neigh add 10.254.0.2 lladdr 02:00:00:00:00:02 dev gso0", shell=True, check=True)
    tx_checksum("gso0", False)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.sendmsg([b"x" * 2000], [(17, 103, struct.pack("=H", 1000))], 0, ("10.254.0.2", 9))   # UDP_SEGMENT
        except OSError as e:
            return e.errno == 5
    return False

_cache = None


def available():
    """{need: bool} for this kernel (probed once per process)."""
    global _cache
    if _cache is None:
        src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
        r = subprocess.run(["unshare", "--net", sys.executable, "-c", _PROBE, src,
                            os.path.dirname(os.path.abspath(__file__))],
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


class UnknownFeature(Exception):
    pass


def missing(needs):
    """The features of ``needs`` this kernel lacks."""
    have = available()
    unknown = [n for n in needs if n not in have]
    if unknown:
        raise UnknownFeature(f"needs({', '.join(map(repr, unknown))}): nothing probes that; a kind's `probes` "
                             f"(src/vnet/kinds/) names the features it can need; known: {', '.join(sorted(have))}")
    return [n for n in needs if not have[n]]
