"""A policy routing rule (`ip rule`) as a topology declares it, and what
tells one from another: declared, observed (vnet.kernel.rules) and
recorded rules compare by ``rule_match``."""
from .model import HOST, RT_TABLE_MAIN
from .struct import Struct

NONE32 = 0xFFFFFFFF
TABLE_NAMES = {253: "default", 254: "main", 255: "local"}

RULE_TYPES = ("unicast", "blackhole", "unreachable", "prohibit", "nop")   # a lookup of `table`, or not
RULE_TABLES = {"main": RT_TABLE_MAIN, "default": 253, "local": 255}


class Rule(Struct):
    """A policy routing rule (`ip rule add`): packets matching every
    selector given (``src``/``dst`` networks, ``iif``/``oif`` names, a
    ``fwmark`` under ``fwmask``, ``tos``; ``invert``: those matching not)
    look up ``table`` (type unicast) or are dropped (blackhole,
    unreachable, prohibit); ``suppress_prefixlength``: a lookup's answer
    with a prefix this short or shorter is ignored. ``priority`` None: the
    kernel's choice, and any matches."""
    _fields = (("netns", HOST), ("family", 4), ("priority", None), ("src", None), ("dst", None), ("iif", None),
               ("oif", None), ("fwmark", None), ("fwmask", None), ("tos", 0), ("invert", False),
               ("suppress_prefixlength", None), ("action", "unicast"), ("table", RT_TABLE_MAIN), ("path", ""))

    @property
    def label(self):
        head = "rule" + ("" if self.priority is None else f" {self.priority}") + (" -6" if self.family == 6 else "")
        return f"{head} {' '.join(words(self))}" + ("" if self.netns is HOST else f" in {self.netns}")


def rule_match(r):
    """What tells a rule (declared, observed or recorded) from another of its
    namespace, but its priority: (netns, family, from, to, iif, oif, fwmark,
    fwmask, tos, not, suppress_prefixlength, type, table of a lookup)."""
    mask = r.fwmask if r.fwmask is not None or r.fwmark is None else NONE32
    return (r.netns, r.family, str(r.src) if r.src is not None else None, str(r.dst) if r.dst is not None else None,
            r.iif or None, r.oif or None, r.fwmark, mask, r.tos or 0, bool(r.invert), r.suppress_prefixlength,
            r.action, r.table if r.action == "unicast" else None)


def words(r):
    """The words of a rule after its priority, as `ip rule add` takes them."""
    out = (["not"] if r.invert else []) + ["from", _text(r.src) if r.src is not None else "all"]
    if r.dst is not None:
        out += ["to", _text(r.dst)]
    if r.tos:
        out += ["tos", hex(r.tos)]
    if r.fwmark is not None:
        out += ["fwmark", hex(r.fwmark) + ("" if r.fwmask in (None, NONE32) else f"/{hex(r.fwmask)}")]
    for f in ("iif", "oif"):
        if getattr(r, f):
            out += [f, getattr(r, f)]
    if r.suppress_prefixlength is not None:
        out += ["suppress_prefixlength", str(r.suppress_prefixlength)]
    if r.action == "unicast":
        out += ["lookup", TABLE_NAMES.get(r.table, str(r.table))]
    elif r.action:
        out.append(r.action)
    return out


def _text(net):
    """A prefix as `ip rule` shows it: a host's without its length."""
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)


def rule_entry(r, priority=None):
    """A rule as vnet's records keep it: rule_match's fields, then its
    priority (``priority``: the one the kernel gave, for a rule that gave none)."""
    return rule_match(r) + (r.priority if priority is None else priority,)


def writable(o):
    """Is observed rule ``o`` one a file can declare (no goto, no port
    range...: those a file's rule never stands for)?"""
    return not getattr(o, "unwritable", None)


def vnets(o):
    """Could observed rule ``o`` be one vnet added: one a file can declare,
    without a protocol (vnet adds none, as `ip rule add`)?"""
    return writable(o) and not getattr(o, "protocol", 0)


def declares(r, entry):
    """Is the recorded rule ``entry`` the declared rule ``r`` (any priority,
    where ``r`` gives none)?"""
    return rule_match(r) == entry[:-1] and r.priority in (None, entry[-1])


# ---- which rule the kernel takes for a request (net/core/fib_rules.c) --------

def sent_table(r):
    return r.table if r.action == "unicast" else 0


def sent_mask(r):
    return 0 if r.fwmark is None else NONE32 if r.fwmask is None else r.fwmask


def _wild(req, live):
    """The fields the kernel compares only where the request gives them
    (a prefix, a TOS): does ``live`` have ``req``'s?"""
    return all(getattr(req, f) in (None, 0) or getattr(live, f) == getattr(req, f) for f in ("src", "dst", "tos"))


def selects(req, live):
    """Would a deletion request of ``req``'s fields take rule ``live``? The
    kernel deletes the first rule (in priority order) whose fields are those
    the request gives: a field it leaves out (or zero) is any, and `not` is
    not compared; so a rule of someone's with one more selector is taken
    as readily as vnet's own."""
    if live.family != req.family or live.action != req.action:
        return False
    if sent_table(req) and live.table != sent_table(req) or req.priority is not None and live.priority != req.priority:
        return False
    if any(getattr(req, f) and getattr(live, f) != getattr(req, f) for f in ("iif", "oif")):
        return False
    if req.fwmark and live.fwmark != req.fwmark or sent_mask(req) and (live.fwmask or 0) != sent_mask(req):
        return False
    if req.suppress_prefixlength is not None and live.suppress_prefixlength != req.suppress_prefixlength:
        return False
    return _wild(req, live)


def first_selected(live_rules, req):
    """The rule of ``live_rules`` (one namespace's, in the kernel's order)
    a deletion request of ``req``'s fields takes, or None."""
    return next((o for o in live_rules if selects(req, o)), None)


def taken_for(req, live):
    """Does the kernel take ``live`` for the rule ``req`` adds (EEXIST): the
    same fields and priority (and none a file cannot declare), but `not`,
    and any prefix or TOS where ``req`` gives none?"""
    return (vnets(live) and live.family == req.family and live.action == req.action   # (the kernel compares
            and sent_table(live) == sent_table(req)   # a protocol, an IP protocol, ports too: vnet sends none)
            and live.priority == req.priority and (live.iif or None) == (req.iif or None)
            and (live.oif or None) == (req.oif or None) and (live.fwmark or 0) == (req.fwmark or 0)
            and (live.fwmask or 0) == sent_mask(req) and live.suppress_prefixlength == req.suppress_prefixlength
            and _wild(req, live))


def entry_rule(entry):
    """The Rule a record's entry (``rule_entry``) says."""
    import ipaddress
    ns, family, src, dst, iif, oif, mark, mask, tos, invert, suppress, action, table, prio = entry
    net = lambda t: None if t is None else ipaddress.ip_network(t)   # noqa: E731
    return Rule(netns=ns, family=family, priority=prio, src=net(src), dst=net(dst), iif=iif, oif=oif, fwmark=mark,
                fwmask=mask, tos=tos, invert=invert, suppress_prefixlength=suppress, action=action,
                table=RT_TABLE_MAIN if table is None else table)
