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
# forwarding and the settings labs change, of each device, of `all` (which
# the kernel combines with a device's) and of `default` (which a device made
# later starts with): forwarding, proxy ARP and NDP, reverse-path filter,
# the ARP settings, redirects, secondaries promoted, IPv6 on or off, router
# advertisements, addresses kept on down
IPV4_SETTINGS = ("forwarding", "proxy_arp", "proxy_arp_pvlan", "rp_filter", "arp_ignore", "arp_announce", "arp_filter",
                 "arp_accept", "arp_notify", "accept_local", "route_localnet", "send_redirects", "accept_redirects",
                 "promote_secondaries", "log_martians")
IPV6_SETTINGS = ("forwarding", "disable_ipv6", "accept_ra", "autoconf", "accept_dad", "proxy_ndp", "accept_redirects",
                 "keep_addr_on_down")
DEVICE_KEYS = tuple(f"net.ipv4.conf.{{}}.{k}" for k in IPV4_SETTINGS) + tuple(
    f"net.ipv6.conf.{{}}.{k}" for k in IPV6_SETTINGS)
# writing one of these sets that setting of `default` and of every device
# there is (inet_forward_change, addrconf_forward_change, addrconf_disable_change)
SETS_EVERY_DEVICE = {"net.ipv4.ip_forward": "net.ipv4.conf.{}.forwarding",
                     "net.ipv4.conf.all.forwarding": "net.ipv4.conf.{}.forwarding",
                     "net.ipv6.conf.all.forwarding": "net.ipv6.conf.{}.forwarding",
                     "net.ipv6.conf.all.disable_ipv6": "net.ipv6.conf.{}.disable_ipv6"}
# and writing IPv4's forwarding sets all.accept_redirects to its opposite (inet_forward_change)
OPPOSITE_OF = {"net.ipv4.conf.all.accept_redirects": ("net.ipv4.ip_forward", "net.ipv4.conf.all.forwarding")}
# (IPv4's conf.all.forwarding is ip_forward under another name)
NAMESPACE_KEYS = ("net.ipv4.ip_forward",) + tuple(
    t.format(w) for w in ("all", "default") for t in DEVICE_KEYS if t.format(w) != "net.ipv4.conf.all.forwarding")


def device_keys_set_by(key):
    """The per-device key (a template: ``net.ipv4.conf.{}.forwarding``)
    that writing namespace-wide ``key`` may set on devices that exist, else
    None: forwarding and IPv6's disable_ipv6 (SETS_EVERY_DEVICE), and an
    IPv4 `default` setting, which the kernel copies to every device whose
    own was never written (devinet_copy_dflt_conf)."""
    if key in SETS_EVERY_DEVICE:
        return SETS_EVERY_DEVICE[key]
    per = split_device_key(key)
    if per is not None and per[0] == "net.ipv4.conf." and per[1] == "default":
        return per[0] + "{}." + per[2]
    return None


def write_order(key):
    """Where namespace-wide ``key`` comes among those written together:
    those that set every device's first (ip_forward...), then the `default`
    ones (which they may set), then the rest; a device's after them all,
    which they may set."""
    per = split_device_key(key)
    if key in SETS_EVERY_DEVICE:
        return 0
    if per is not None and per[1] == "default":
        return 1
    return 2 if per is None or per[1] == "all" else 3


def fresh_defaults():
    """The values NAMESPACE_KEYS, DEVICE_KEYS (as their ``default``) and
    lo's own (made with the namespace, before anything is written) have in
    a network namespace just made: read in a child process that makes one."""
    import json
    import os
    keys = list(dict.fromkeys(list(NAMESPACE_KEYS) + [k.format(w) for w in ("default", "lo") for k in DEVICE_KEYS]))
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
    whose value ``ns_values`` (key -> value as read there) differs from the
    one a namespace made from the written keys would have (``would_have``),
    for the namespace and each of ``devices`` (name -> whether it is made
    without ARP: ``own_defaults``; lo is the namespace's own). The
    namespace-wide ones come first, in the order they are written."""
    written = {}
    for k in sorted(NAMESPACE_KEYS, key=write_order):
        v = ns_values.get(k)
        if v is not None and v != _would_have(k, None, ns_values, fresh, written):
            written[k] = v
    out = list(written.items())
    for dev, noarp in devices.items():
        own = own_defaults(noarp) if dev != "lo" else {}   # (lo's fresh values are its own)
        for tmpl in DEVICE_KEYS:
            k = tmpl.format(dev)
            v = ns_values.get(k)
            if v is not None and v != own.get(tmpl, _would_have(tmpl, dev, ns_values, fresh, written)):
                out.append((k, v))
    return out


def _would_have(tmpl, dev, ns_values, fresh, written):
    """The value key ``tmpl`` of device ``dev`` (None: a namespace-wide
    key, ``tmpl`` the key itself) has once the keys ``written`` are, in a
    namespace just made: a device vnet makes starts with the namespace's ``default`` as it is then (as
    ``ns_values`` says: vnet writes the namespace's keys first); lo, made
    with the namespace, and a namespace-wide key have a fresh namespace's,
    unless a key written sets them."""
    if dev is not None and dev != "lo":
        default = tmpl.format("default")
        return ns_values.get(default, fresh.get(default))
    key = tmpl.format(dev)
    v = fresh.get(key)
    for k, value in written.items():
        if sets(k, other=key):
            v = str(int(value == "0")) if key in OPPOSITE_OF else value
    return v


def sets(key, other):
    """Does writing namespace-wide ``key`` set ``other`` (a device's key,
    `default`'s, or all.accept_redirects: OPPOSITE_OF)?"""
    tmpl, per = device_keys_set_by(key), split_device_key(other)
    return key in OPPOSITE_OF.get(other, ()) or tmpl is not None and per is not None and key != other \
        and per[1] != "all" and tmpl == per[0] + "{}." + per[2]


def own_defaults(noarp):
    """The values the kernel gives a device of its own accord, apart from
    its namespace's defaults: IPv6 starts a device made without ARP with no
    duplicate address detection (accept_dad -1; a flag changed later leaves
    it as it was)."""
    return {"net.ipv6.conf.{}.accept_dad": "-1"} if noarp else {}


def keys_for(devices):
    return list(NAMESPACE_KEYS) + [t.format(d) for d in devices for t in DEVICE_KEYS]
