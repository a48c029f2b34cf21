"""Lint: mistakes the kernel accepts silently (traffic just does not flow)
or refuses only halfway through an apply. Errors stop `vnet validate` with
exit code 2 like any bad input; warnings are printed and do not. Rules
about one kind live in that kind (``Kind.lint``); the rule here is generic,
driven by the kinds' data."""
from collections import defaultdict
from ..topology.address import reached


def run(topo, problems, warnings):
    _rx_handlers(topo, problems)
    _link_layers(topo, problems)
    _macs(topo, problems)
    _ipv6_mtu(topo, problems)
    _max_mtu(topo, problems)
    _gateways(topo, problems)
    _sources(topo, problems)
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


LAYER = {"ip": "a layer-3 device (a TUN: IP packets, no Ethernet header)", "can": "a CAN device",
         "loopback": "the loopback device", "ether": "an Ethernet device"}


def _link_layers(topo, problems):
    """A lower device or a port of the link layer its user needs: the
    kernel refuses a macvlan or an ipvlan on lo or a TUN, a TUN or a CAN
    device as a bridge port (EINVAL), halfway through an apply."""
    declared = topo.by_key()

    def layer(key):
        d = declared.get(key)
        return d[0].kind_module.layer(d[1]) if d else None

    for i in topo.interfaces:
        k = i.kind_module
        low = i.options.get(k.link_option) if k.link_option else None
        if low is not None and k.lower_layers:
            got = layer(low.resolve(i.netns))
            if got is not None and got not in k.lower_layers:
                problems.add(f"{i.path}.{k.link_option}", f"{low.name!r} is {LAYER[got]}: the kernel refuses a "
                             f"{i.kind} on it (EINVAL); it needs {_layers(k.lower_layers)}")
        for e, sub in ((i, ""), (i.peer, ".peer")):
            master = declared.get(e.master_key()) if e is not None and e.master else None
            needs = master[0].kind_module.port_layers if master else None
            got = k.layer(e) if needs else None
            if got is not None and got not in needs:
                problems.add(f"{i.path}{sub}.master", f"{e.label} is {LAYER[got]}: the kernel refuses it as a "
                             f"port of {master[0].kind} {e.master.name!r} (EINVAL); a port must be "
                             f"{_layers(needs)}" + (" (a tap, for a tunnel's frames)" if got == "ip" else ""))


def _layers(layers):
    return " or ".join(LAYER[x] for x in sorted(layers))


def _macs(topo, problems):
    """One MAC on two devices: every switch and neighbour table between
    them is confused (the kernel takes it silently)."""
    seen = {}
    for i in topo.interfaces:
        for e, sub in ((i, ""), (i.peer, ".peer")):
            if e is None or not e.mac:
                continue
            if e.mac in seen:
                problems.add(f"{i.path}{sub}.mac", f"{e.mac} is also the MAC of {seen[e.mac].label}: two devices "
                             "with one MAC confuse the switches and neighbour tables between them")
            else:
                seen[e.mac] = e


IPV6_MIN_MTU = 1280


def _ipv6_mtu(topo, problems):
    """Below 1280 bytes the kernel turns IPv6 off on a device and refuses
    its IPv6 addresses (EINVAL)."""
    for i in topo.interfaces:
        for e, sub in ((i, ""), (i.peer, ".peer")):
            if e is not None and e.mtu is not None and e.mtu < IPV6_MIN_MTU:
                v6 = [str(a) for a in e.addresses if a.version == 6]
                if v6:
                    problems.add(f"{i.path}{sub}.mtu", f"{e.mtu} is below IPv6's minimum, {IPV6_MIN_MTU}: the "
                                 f"kernel turns IPv6 off on {e.label} and refuses {', '.join(v6)} (EINVAL)")


def _max_mtu(topo, problems):
    """An MTU past the kind's maximum is refused (a tap's is 65521)."""
    for i in topo.interfaces:
        top = i.kind_module.max_mtu
        for e, sub in ((i, ""), (i.peer, ".peer")):
            if e is not None and e.mtu is not None and e.mtu > top:
                problems.add(f"{i.path}{sub}.mtu", f"{e.mtu} is past a {i.kind}'s maximum, {top}: the kernel "
                             "refuses it (\"mtu greater than device maximum\")")


def _gateways(topo, problems):
    """A route's (or nexthop's) gateway must be on a subnet its namespace reaches directly
    (an address's, or a route with a device and no gateway) of a device
    that is up, else the kernel refuses the route ("Nexthop has invalid
    gateway"); `onlink` says it is on the link anyway. Only in namespaces
    the file creates: elsewhere addresses the file does not list exist."""
    created = set(topo.namespaces)
    nets = {}   # namespace -> [(network, device, up)]
    for i in topo.interfaces:
        for e in i.endpoints():
            if e.netns in created:
                nets.setdefault(e.netns, []).extend((net, e.name, e.up) for a in e.addresses for net in reached(a))
    up = {e.key: e.up for i in topo.interfaces for e in i.endpoints()}
    for r in topo.routes:
        if r.netns in created and r.dev and not r.via:
            nets.setdefault(r.netns, []).append((r.to, r.dev, up.get((r.netns, r.dev), True)))
    for r in topo.routes:
        if r.netns not in created:
            continue
        for path, via, dev in r.hops:
            if via is not None:
                _gateway(problems, nets.get(r.netns, ()), up, r, path, via, dev)
    for nh in topo.nexthops:   # (made after the routes: one through a device alone reaches its gateway too)
        if nh.netns in created and nh.via is not None:
            _gateway(problems, nets.get(nh.netns, ()), up, nh, nh.path, nh.via, nh.dev)


def _gateway(problems, nets, up, r, path, via, dev):
    """The checks of ``_gateways`` for one way out of route ``r``: gateway
    ``via`` through ``dev`` (None: any), said at ``path``."""
    if r.onlink or via.is_link_local and via.version == 6 and dev:
        if dev and not up.get((r.netns, dev), True):
            problems.add(f"{path}.dev", f"{dev!r} is down (up: false): the kernel refuses a route "
                         "through a device that is down")
        return
    if via.version == 6 and via.is_link_local:
        problems.add(f"{path}.dev", f"the gateway {via} is link-local: give the device it is on")
        return
    on = [(d, d_up) for net, d, d_up in nets if via in net and (not dev or d == dev)]
    if not on:
        where = f"{dev!r}" if dev else f"namespace {r.netns}"
        problems.add(f"{path}.via", f"{via} is on no subnet of {where}: the kernel refuses the route "
                     "(no address or device route reaches the gateway); add an address on its subnet, "
                     "or set onlink: true if it is on the link anyway")
    elif not any(u for _d, u in on):
        problems.add(f"{path}.via", f"{via} is reached only through {', '.join(sorted({d for d, _u in on}))}, "
                     "which is down (up: false): the kernel refuses the route")


def _sources(topo, problems):
    """A route's `src` must be an address of its namespace, else the kernel
    refuses the route ("Invalid prefsrc address"). Only in namespaces the
    file creates: elsewhere addresses the file does not list exist."""
    created = set(topo.namespaces)
    have = {}
    for i in topo.interfaces:
        for e in i.endpoints():
            have.setdefault(e.netns, set()).update(a.ip for a in e.addresses)
    for r in topo.routes:
        if r.src is not None and r.netns in created and r.src not in have.get(r.netns, ()):
            problems.add(f"{r.path}.src", f"{r.src} is no address of namespace {r.netns}: the kernel refuses a "
                         "source address the namespace does not have; add it to a device's addresses")
