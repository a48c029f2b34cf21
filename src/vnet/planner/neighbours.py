"""Static and proxy neighbours: what the file declares against what the
kernel holds and what the record says vnet made."""
from ..topology.neighbour import key_label
from .changes import Change


def plan_neighbours(p):
    """Entries vnet made that the file no longer declares (first, unless
    their device goes: they go with it), entries missing (a device made
    again comes without them), and a permanent entry's MAC changed."""
    live = {n.key: n for ns in p.state.neighbours.values() for n in ns}
    declared = {n.key for n in p.topo.neighbours}
    for key in dict.fromkeys(p.record.neighbours):
        if key not in declared and key in live and key[:2] not in p.gone:
            p.removals.insert(0, Change("delete", key_label(key), "no longer declared",
                                        ("neigh_del", key, live[key].lladdr)))
    for n in p.topo.neighbours:
        have = None if (n.netns, n.dev) in p.gone else live.get(n.key)
        if have is None:
            p.neighbours.append(Change("create", n.label, "missing", ("neigh_set", n, None)))
        elif have.lladdr != n.lladdr:
            p.neighbours.append(Change("modify", n.label, f"lladdr {have.lladdr or 'none'} -> {n.lladdr or 'none'}",
                                       ("neigh_set", n, have.lladdr)))
