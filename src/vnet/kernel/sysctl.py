"""Per-namespace sysctls: /proc/sys/net is the namespace of the opening thread."""
from ..topology.model import split_device_key


def _path(key):
    if not key.startswith("net.") or ".." in key or "/" in key:
        raise ValueError(f"{key!r} is not a network sysctl (net.*)")
    per = split_device_key(key)
    if per is not None:
        head, dev, setting = per
        return "/proc/sys/" + head.replace(".", "/") + dev + "/" + setting
    return "/proc/sys/" + key.replace(".", "/")


def read(key):
    with open(_path(key)) as f:
        return f.read().strip()


def write(key, value):
    with open(_path(key), "w") as f:
        f.write(str(value))


def unknown(key, device=None):
    """None if this kernel has sysctl ``key`` (of any device when the key
    names ``device``: its ``default`` twin), else a close key to suggest
    ('' for none). Read in vnet's own namespace: every namespace has the same."""
    import os
    per = split_device_key(key) if device is not None else None
    if per is not None:
        key = per[0] + "default." + per[2]
    parts = key.split(".")
    try:
        path = _path(key)
    except ValueError:
        return ""
    if os.path.isfile(path):
        return None
    # the deepest directory that exists, and its closest entry to what was asked
    for depth in range(len(parts) - 1, 1, -1):
        d = "/proc/sys/" + "/".join(parts[:depth])
        if os.path.isdir(d):
            import difflib   # only for a key that is not there (1 ms of every CNI ADD otherwise)
            near = difflib.get_close_matches(parts[depth], os.listdir(d), n=1)
            if not near:
                return ""
            guess = parts[:depth] + near + parts[depth + 1:]
            if device is not None:
                guess[3] = device
            return ".".join(guess)
    return ""


# what `vnet export` of a network built by hand carries over: a namespace's
# forwarding and the per-device settings labs change (forwarding, proxy ARP,
# reverse-path filter, ARP replies, IPv6 on or off, router advertisements)
NAMESPACE_KEYS = ("net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding", "net.ipv4.conf.all.rp_filter",
                  "net.ipv4.conf.all.proxy_arp", "net.ipv6.conf.all.disable_ipv6")
DEVICE_KEYS = tuple(f"net.ipv4.conf.{{}}.{k}" for k in (
    "forwarding", "proxy_arp", "proxy_arp_pvlan", "rp_filter", "arp_ignore", "arp_announce", "arp_filter",
    "arp_accept", "accept_local", "route_localnet", "send_redirects", "accept_redirects")) + tuple(
    f"net.ipv6.conf.{{}}.{k}" for k in ("forwarding", "disable_ipv6", "accept_ra", "autoconf", "accept_dad",
                                        "proxy_ndp"))
# a device's forwarding follows its namespace's (writing ip_forward sets every device's)
FOLLOWS = {"net.ipv4.conf.{}.forwarding": "net.ipv4.ip_forward",
           "net.ipv6.conf.{}.forwarding": "net.ipv6.conf.all.forwarding"}


def fresh_defaults():
    """The values NAMESPACE_KEYS and DEVICE_KEYS (as their ``default``) have
    in a network namespace just made: read in a child process that makes one."""
    import json
    import os
    keys = list(NAMESPACE_KEYS) + [k.format("default") for k in DEVICE_KEYS]
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:   # pragma: no cover (the child)
        try:
            os.close(r)
            from . import netns
            netns._check(netns._c().unshare(netns.CLONE_NEWNET), "unshare")
            out = {}
            for k in keys:
                try:
                    out[k] = read(k)
                except OSError:
                    out[k] = None
            os.write(w, json.dumps(out).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        text = f.read()
    os.waitpid(pid, 0)
    return json.loads(text) if text else {}


def changed(ns_values, devices, fresh):
    """The keys worth writing down for one namespace: (key, value) of those
    whose value ``ns_values`` (key -> value as read there) differs from a
    fresh namespace's ``fresh``, for the namespace and each of ``devices``
    (name -> whether it is made without ARP: ``own_defaults``)."""
    out = []
    for k in NAMESPACE_KEYS:
        if ns_values.get(k) is not None and ns_values[k] != fresh.get(k):
            out.append((k, ns_values[k]))
    for dev, noarp in devices.items():
        own = own_defaults(noarp)
        for tmpl in DEVICE_KEYS:
            k, v = tmpl.format(dev), ns_values.get(tmpl.format(dev))
            follows = FOLLOWS.get(tmpl)
            if v is None or v == own.get(tmpl, fresh.get(tmpl.format("default"))) \
                    or follows and v == ns_values.get(follows):
                continue
            out.append((k, v))
    return out


def own_defaults(noarp):
    """The values the kernel gives a device of its own accord, apart from
    its namespace's defaults: IPv6 starts a device made without ARP with no
    duplicate address detection (accept_dad -1; a flag changed later leaves
    it as it was)."""
    return {"net.ipv6.conf.{}.accept_dad": "-1"} if noarp else {}


def keys_for(devices):
    return list(NAMESPACE_KEYS) + [t.format(d) for d in devices for t in DEVICE_KEYS]
