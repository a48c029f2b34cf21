"""The CNI versions vnet speaks, and a result in the shape of each."""
from .errors import INCOMPATIBLE_VERSION, CniError

SUPPORTED = ("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
LATEST = SUPPORTED[-1]


def key(version):
    return tuple(int(x) for x in version.split("."))


def check(version, what="cniVersion"):
    """``version`` if vnet speaks it, else the spec's error 1."""
    if version not in SUPPORTED:
        raise CniError(INCOMPATIBLE_VERSION, f"{what} {version!r} is not supported",
                       f"vnet speaks CNI {', '.join(SUPPORTED)}")
    return version


def at_least(version, other):
    return key(version) >= key(other)


def shaped(result, version):
    """A result (in 1.x shape) as ``version`` writes it: before 1.0.0 every
    IP carries its family as "version"."""
    out = {"cniVersion": version, **{k: v for k, v in result.items() if k != "cniVersion"}}
    if not at_least(version, "1.0.0") and "ips" in result:
        out["ips"] = [{"version": "6" if ":" in ip["address"] else "4", **ip} for ip in result.get("ips", [])]
    return out


def normalized(result):
    """A result of any supported version (an IPAM plugin's, a prevResult) in
    1.x shape: the "version" of each IP dropped."""
    out = dict(result)
    out["ips"] = [{k: v for k, v in ip.items() if k != "version"} for ip in result.get("ips") or []]
    return out
