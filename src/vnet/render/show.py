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
        opts[k] = _plain(v, d.netns)
    out["options"] = opts
    out.update(d.extra)
    return out


def _plain(v, own_ns):
    """A value as JSON has it (keys print as *** by their own str)."""
    if isinstance(v, tuple):
        return rel(v, own_ns)
    if isinstance(v, list):
        return [_plain(x, own_ns) for x in v]
    if isinstance(v, dict):
        return {a: _plain(b, own_ns) for a, b in v.items() if b is not None and b != []}
    if isinstance(v, (bool, int, str)):
        return v
    return str(v)


def rows(devices):
    out = []
    for d in devices:
        dd = device_dict(d)
        details = ", ".join(f"{k}={v}" for k, v in dd["options"].items())
        if "tap_devnum" in dd:
            details = (details + ", " if details else "") + (dd["tap_device"] or dd.get("tap_hint", ""))
        facts = [f"{k}={v}" for k, v in d.extra.items() if not k.startswith("tap_") and v not in (None, [], {})]
        details = ", ".join(([details] if details else []) + facts)
        out.append((d.netns or "host", d.name, dd["kind"], "up" if d.up else "down", d.mtu,
                    dd["master"] or "", dd["peer"] or "", " ".join(dd["addresses"]), details))
    return out


COLUMNS = ("netns", "name", "kind", "state", "mtu", "master", "peer", "addresses", "details")
