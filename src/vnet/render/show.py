"""`vnet show`: the live state as rows (and as JSON)."""


def rel(key, own_ns):
    """A referenced device as seen from namespace ``own_ns``: its name when
    it is in the same namespace, else namespace/name (host/name for vnet's own)."""
    ns, name = key
    return name if ns == own_ns else f"{ns if ns is not None else 'host'}/{name}"


def device_dict(d):
    out = {"netns": d.netns, "name": d.name, "ifindex": d.ifindex, "kind": d.kind_name,
           "up": d.up, "mtu": d.mtu, "mac": d.mac,
           "master": rel(d.master, d.netns) if d.master else None,
           "peer": rel(d.peer, d.netns) if d.peer else None,
           "addresses": [str(a) for a in d.addresses]}
    opts = {}
    for k, v in d.options.items():
        if v is None or v == []:
            continue
        if isinstance(v, tuple):
            v = rel(v, d.netns)
        elif isinstance(v, list):
            v = [{a: str(b) for a, b in e.items()} if isinstance(e, dict) else str(e) for e in v]
        elif not isinstance(v, (bool, int, str)):
            v = str(v)
        opts[k] = v
    out["options"] = opts
    out.update(d.extra)
    return out


def rows(devices):
    out = []
    for d in devices:
        dd = device_dict(d)
        details = ", ".join(f"{k}={v}" for k, v in dd["options"].items())
        if "tap_devnum" in dd:
            details = (details + ", " if details else "") + (dd["tap_device"] or dd.get("tap_hint", ""))
        out.append((d.netns or "host", d.name, dd["kind"], "up" if d.up else "down", d.mtu,
                    dd["master"] or "", dd["peer"] or "", " ".join(dd["addresses"]), details))
    return out


COLUMNS = ("netns", "name", "kind", "state", "mtu", "master", "peer", "addresses", "details")
