"""Lint: mistakes the kernel accepts silently (traffic just does not flow)
or refuses only halfway through an apply. Errors stop `vnet validate` with
exit code 2 like any bad input; warnings are printed and do not. Rules
about one kind live in that kind (``Kind.lint``); the rule here is generic,
driven by the kinds' data."""
from collections import defaultdict


def run(topo, problems, warnings):
    _rx_handlers(topo, problems)
    classes = {}
    for i in topo.interfaces:
        classes.setdefault(type(i.kind_module), (i.kind_module, []))[1].append(i)
    for kmod, ifaces in classes.values():
        kmod.lint(ifaces, topo, problems, warnings)


def _rx_handlers(topo, problems):
    """A device has one receive handler: a macvlan, an ipvlan, a MACsec
    device, or its master (bridge, bond, team) takes it, and then no other
    of those can (EBUSY halfway through an apply)."""
    users = defaultdict(list)   # device key -> [(handler, who)]
    declared = topo.by_key()
    for i in topo.interfaces:
        k = i.kind_module
        low = i.options.get(k.link_option) if k.link_option else None
        if k.rx_handler and low is not None:
            users[low.resolve(i.netns)].append((k.rx_handler, i))
        for e in i.endpoints():
            if e.master:
                master = declared.get(e.master_key())
                if master and master[0].kind_module.port_rx_handler:
                    users[e.key].append((master[0].kind_module.port_rx_handler, i))
    for (ns, name), us in users.items():
        kinds = sorted({h for h, _i in us})
        if len(kinds) > 1:
            first = us[0][1]
            what = "; ".join(f"{h} ({', '.join(sorted({i.label for hh, i in us if hh == h}))})" for h in kinds)
            problems.add(first.path, f"device {name!r}{'' if ns is None else ' in ' + ns} would need "
                         f"{len(kinds)} receive handlers: {what}. The kernel gives a device one (the "
                         "second fails with EBUSY): stack them (e.g. the macvlan on the bridge) or give each "
                         "its own lower device")
