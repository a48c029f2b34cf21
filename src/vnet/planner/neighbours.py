"""Static and proxy neighbours: what the file declares against what the
kernel holds and what the record says vnet made."""
from ..topology.neighbour import key_label
from .changes import Change


def plan_neighbours(p):
    """Entries vnet made that the file no longer declares (first; one whose
    device goes goes with it: only the record forgets it), entries missing
    (a device made again comes without them), and an entry not as declared
    (another MAC; someone's `nud noarp`): each op carries the entry found,
    for the undo to put back."""
    live = {n.key: n for ns in p.state.neighbours.values() for n in ns if n.dev is not None}
    declared = {n.key for n in p.topo.neighbours}
    dropped = _dropped(p)
    maybe = {**dropped, **_masters_maybe(p)}   # (an entry that may stay is deleted, not forgotten)
    leaving = {c.op[1] for c in p.ns_deletes}
    for key in dict.fromkeys(p.record.neighbours):
        if key in declared or key[0] in leaving:   # (the record forgets those of a namespace that goes)
            continue
        if key[:2] in p.gone or key[:2] in dropped:
            p.removals.insert(0, Change("delete", key_label(key), "no longer declared; goes with its device",
                                        ("neigh_forget", key)))
        elif key in live and live[key].static:
            p.removals.insert(0, Change("delete", key_label(key), "no longer declared", ("neigh_del", key, live[key])))
    for n in p.topo.neighbours:
        have = None if (n.netns, n.dev) in p.gone or (n.netns, n.dev) in maybe else live.get(n.key)
        if have is None:
            why = maybe.get((n.netns, n.dev)) if n.key in live else None
            p.neighbours.append(Change("create", n.label, f"{why}: made again" if why else "missing",
                                       ("neigh_set", n, None)))
        elif have.lladdr != n.lladdr or have.nud != n.nud:
            said = [f"lladdr {have.lladdr or 'none'} -> {n.lladdr or 'none'}"] if have.lladdr != n.lladdr else []
            said += [f"nud {have.nud} -> {n.nud}"] if have.nud != n.nud else []
            p.neighbours.append(Change("modify", n.label, ", ".join(said), ("neigh_set", n, have)))


def _dropped(p):
    """{device key: why} of the devices whose change in place makes the
    kernel drop their neighbour entries (down, another MAC; a port taking
    its master's MAC), each such change given the entries the kernel holds
    there, for its undo to put back."""
    out = {}
    for c in p.modifies:
        if c.op[0] != "dev_set":
            continue
        e, new = c.op[1], c.op[2]
        master = p.declared.get(e.master_key()) if new.get("master") else None
        why = ("it goes down" if new.get("up") is False else "its MAC changes" if "mac" in new
               else "it takes its master's MAC" if master and master[0].kind_module.ports_take_its_mtu else None)
        if why:
            out[e.key] = f"its device {e.name} changes in place ({why}), which drops it"
            c.op = c.op[:4] + (tuple(n for n in p.state.neighbours.get(e.netns, ()) if n.dev == e.name and n.static),) \
                + c.op[5:]
    return out


def _masters_maybe(p):
    """{master key: why} of the masters that may take another MAC as the
    plan changes their ports (``_masters_of_ports_changed``), which drops
    their entries (or not: the MAC they keep may be the same)."""
    return {key: f"a port of {key[1]} comes, goes or takes another MAC: {key[1]} may take another MAC, which drops it"
            for key in _masters_of_ports_changed(p)}


def _masters_of_ports_changed(p):
    """The masters there already, with no MAC of their own declared, that
    take one of their ports' (Kind.mac_from_ports), whose ports this plan
    adds, deletes, moves or gives another MAC."""
    keys = set()
    for c in p.removals + p.creates + p.modifies:
        op = c.op[0]
        if op == "dev_delete" or op == "dev_recreate":
            keys.add(c.op[-1].master)
        if op in ("dev_create", "dev_recreate"):
            keys.update(e.master_key() for e in c.op[1].endpoints() if e.master)
        elif op == "dev_set" and ("master" in c.op[2] or "mac" in c.op[2]):
            was = p.state.device(*c.op[1].key)
            keys.update({c.op[1].master_key() if c.op[1].master else None, was.master if was else None})
    out = []
    for key in keys - {None}:
        live, declared = p.state.device(*key), p.declared.get(key)
        if live is not None and live.kind_module is not None and live.kind_module.mac_from_ports \
                and (declared is None or declared[1].mac is None):
            out.append(key)
    return out
