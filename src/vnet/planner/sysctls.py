"""Sysctls: what the file declares against what the kernel holds and what
the record says vnet set, in the order the kernel needs them written."""
from ..kernel.sysctl import sets, write_order
from ..topology.model import HOST, where
from .changes import Change, _show


def plan_sysctls(p):
    """Sysctls to set (a device's own are set with its new device:
    ``p.early``) and to restore once no longer declared (nor implied by
    the file's addresses: ``_implied_sysctls``). The namespace-wide
    ones are set before any device is made (``p.ns_sysctls``), those that
    set every device's (ip_forward...) first: a device made after starts
    with `default`'s, and its own, set after them, stays. A device's key
    the file declares is set again after a key written that sets it
    (writing ip_forward sets every device's forwarding)."""
    declared = {(s.netns, s.key) for s in p.topo.sysctls + _implied_sysctls(p)}
    restores = sorted(((ns, key, old) for (ns, key), old in p.record.sysctls.items()
                       if (ns, key) not in declared and p.state.sysctls.get((ns, key)) not in (None, old)),
                      key=lambda r: write_order(r[1]))
    for ns, key, old in restores:
        p.removals.append(Change("modify", f"sysctl {key}" + ("" if ns is HOST else f" in {ns}"),
                                 f"no longer declared: restore {_show(old)}", ("sysctl_restore", ns, key, old)))
    written = [(ns, key) for ns, key, _old in restores]
    for s in sorted(p.topo.sysctls, key=lambda s: write_order(s.key)):
        have = p.state.sysctls.get((s.netns, s.key))
        by = next((key for ns, key in written if ns == s.netns and sets(key, other=s.key)), None)
        if (s.netns, s.key) in p.early or have == s.value and by is None:
            continue
        reason = f"set {_show(s.value)} again: writing {by} sets it" if have == s.value else \
            f"{_show(have)} -> {_show(s.value)}" if have is not None else f"set {_show(s.value)}"
        (p.sysctls if s.device is not None else p.ns_sysctls).append(Change(
            "modify", s.label, reason, ("sysctl_set", s.netns, s.key, s.value)))
        written.append((s.netns, s.key))


def _implied_sysctls(p):
    """The sysctls the file's addresses need (Topology.implied_sysctls) of
    its devices there (not made again): one someone changed (IPv6 turned
    off by hand) is set back before the addresses go on, and recorded,
    restored as found once the file no longer needs it. Returns them all."""
    implied = p.topo.implied_sysctls()
    for s in implied:
        have = p.state.sysctls.get((s.netns, s.key))
        if have not in (None, s.value) and p.planned((s.netns, s.device)) and (s.netns, s.device) not in p.gone:
            p.modifies.append(Change("modify", s.label, f"{_show(have)} -> {_show(s.value)}: the file gives "
                                     f"{where(s.netns, s.device)} IPv6 addresses, which the kernel refuses while "
                                     "it is off", ("sysctl_set", s.netns, s.key, s.value)))
    return implied
