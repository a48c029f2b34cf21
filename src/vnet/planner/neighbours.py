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
    for key in dict.fromkeys(p.record.neighbours):
        if key in declared:
            continue
        if key[:2] in p.gone:
            p.removals.insert(0, Change("delete", key_label(key), "no longer declared; goes with its device",
                                        ("neigh_forget", key)))
        elif key in live and live[key].static:
            p.removals.insert(0, Change("delete", key_label(key), "no longer declared", ("neigh_del", key, live[key])))
    for n in p.topo.neighbours:
        have = None if (n.netns, n.dev) in p.gone else live.get(n.key)
        if have is None:
            p.neighbours.append(Change("create", n.label, "missing", ("neigh_set", n, None)))
        elif have.lladdr != n.lladdr or have.nud != n.nud:
            said = [f"lladdr {have.lladdr or 'none'} -> {n.lladdr or 'none'}"] if have.lladdr != n.lladdr else []
            said += [f"nud {have.nud} -> {n.nud}"] if have.nud != n.nud else []
            p.neighbours.append(Change("modify", n.label, ", ".join(said), ("neigh_set", n, have)))
