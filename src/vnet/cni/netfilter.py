"""What an attachment makes on the host outside its topology: netfilter
rules, each kind in a module of its own with its own record (sidecar.py):
ipMasq's NAT rules for IPAM's addresses (masq.py), macspoofchk's filter
on the bridge port (spoofchk.py). ADD, DEL and CHECK call these three."""


def wanted(net):
    return net.masq or net.spoofchk


def add(net, name, state, got, env):
    """Make them for attachment ``name`` (its devices ``state``, IPAM's ``got``)."""
    from . import masq, spoofchk
    if net.masq:
        masq.add(name, _masq(net, got, env))
    if net.spoofchk:
        spoofchk.add(name, _spoofchk(net, state, env))


def remove(name):
    """Remove what attachment ``name``'s records name (none: nothing to do, no process run)."""
    from . import masq, spoofchk
    masq.remove(name)
    spoofchk.remove(name)


def check(net, state, got, env):
    """Each rule ADD made is there, else drift (code 101)."""
    from . import masq, spoofchk
    if net.masq:
        masq.check(_masq(net, got, env))
    if net.spoofchk:
        spoofchk.check(_spoofchk(net, state, env))


def _masq(net, got, env):
    from . import masq
    return masq.rules(net.conf.get("name"), env.container, env.ifname, got.get("ips", []))


def _spoofchk(net, state, env):
    from . import spoofchk
    return spoofchk.rules(env.container, env.ifname, net.host_end, state.device(env.netns, env.ifname).mac)
