"""Rules as read from the kernel (vnet.kernel.rules): what an export names as left out,
from the kernel's messages as other kernels send them too (multicast
routing's own defaults, a VRF's l3mdev rules, a kernel without IPv6 rules)."""
import struct

from vnet.kernel import rules as nb


def _attr(t, payload):
    n = 4 + len(payload)
    return struct.pack("=HH", n, t) + payload + b"\0" * ((4 - n % 4) % 4)


def _rule(fam, prio, table, extra=b"", proto=2, flags=0, src=None):
    head = nb.FR_HDR.pack(fam, 0, 32 if src else 0, 0, table if table < 256 else 252, 0, 0, nb.FR_ACT_TO_TBL, flags)
    return head + _attr(nb.FRA_TABLE, struct.pack("=I", table)) + \
        (_attr(nb.FRA_PRIORITY, struct.pack("=I", prio)) if prio else b"") + \
        _attr(nb.FRA_SUPPRESS_PREFIXLEN, struct.pack("=I", 0xFFFFFFFF)) + _attr(nb.FRA_PROTOCOL, bytes([proto])) + \
        (_attr(nb.FRA_SRC, bytes(src)) if src else b"") + extra


class _Sock:
    def __init__(self, msgs):
        self.msgs = msgs

    def dump(self, t, body):
        return [(nb.RTM_NEWRULE, m) for m in self.msgs]


DEFAULTS = [_rule(2, 0, 255), _rule(2, 32766, 254), _rule(2, 32767, 253), _rule(10, 0, 255), _rule(10, 32766, 254)]


def test_the_kernel_s_own_rules_are_not_named():
    msgs = DEFAULTS + [_rule(128, 32767, 253), _rule(129, 32767, 253),   # multicast routing's (ipmr, ip6mr)
                       _rule(2, 1000, 0, _attr(nb.FRA_L3MDEV, b"\1")), _rule(10, 1000, 0, _attr(nb.FRA_L3MDEV, b"\1"))]
    rules = nb.dump_rules(_Sock(msgs))
    assert {r.family for r in rules} == {4, 6}
    assert [r.text for r in rules if not r.kernel_own] == []
    assert [r.text for r in rules if r.priority == 1000] == ["1000: from all lookup [l3mdev-table]"] * 2


def test_rules_someone_made_are_named_as_ip_rule_shows_them():
    msgs = DEFAULTS + [_rule(2, 100, 100, proto=0, src=[10, 1, 0, 11]),
                       _rule(2, 200, 100, proto=3, flags=nb.FIB_RULE_INVERT, src=[10, 1, 0, 12]),
                       _rule(2, 32766, 254, proto=3)]   # a default deleted and added back by hand: as the default
    named = [r.text for r in nb.dump_rules(_Sock(msgs)) if not r.kernel_own]
    assert named == ["100: from 10.1.0.11 lookup 100", "200: not from 10.1.0.12 lookup 100"]


def test_a_kernel_without_policy_routing_has_no_rules():
    from vnet.kernel import netlink as nl

    class Refusing:
        def dump(self, t, body):
            raise nl.NetlinkError(95, "Operation not supported")
    assert nb.dump_rules(Refusing()) == []
