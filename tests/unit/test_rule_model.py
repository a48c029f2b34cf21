"""Policy routing rules without a kernel: the file's `rules:` read into
the model, the plan against observed and recorded rules, the request vnet
sends as pyroute2 (an independent netlink implementation) reads it and a
rule pyroute2 encodes as vnet reads it, and the `ip rule add` lines of
`vnet script`."""
import ipaddress

import pytest
from pyroute2.netlink.rtnl.fibmsg import fibmsg

from vnet.kernel import rules as kr
from vnet.ownership import Record
from vnet.planner import plan
from vnet.render.iproute2 import script
from vnet.state import State
from vnet.topofile.loader import load_text
from vnet.topology.rule import entry_rule, rule_entry, rule_match

TOPO = """name: lab
namespaces: [a]
rules:
  - {netns: a, priority: 100, from: 10.0.0.0/24, to: 192.0.2.1, table: 100}
  - {netns: a, to: 198.51.100.0/24, type: prohibit}
  - {netns: a, iif: lo, fwmark: 0x10/0xff, not: true, table: 200}
  - {netns: a, family: ipv6, suppress_prefixlength: 0, table: main}
  - {netns: a, priority: 7, oif: e1, fwmark: 9, tos: 16, to: "fd00::/64", table: local}
  - {from: 0.0.0.0/0, table: 5}
"""


@pytest.fixture
def topo():
    return load_text(TOPO, "lab.yaml")


def test_the_file_s_rules_read_as_ip_rule_takes_them(topo):
    got = [(r.netns, r.family, r.priority, r.src, r.dst, r.iif, r.oif, r.fwmark, r.fwmask, r.tos, r.invert,
            r.suppress_prefixlength, r.action, r.table) for r in topo.rules]
    net = ipaddress.ip_network
    assert got == [
        ("a", 4, 100, net("10.0.0.0/24"), net("192.0.2.1/32"), None, None, None, None, 0, False, None, "unicast", 100),
        ("a", 4, None, None, net("198.51.100.0/24"), None, None, None, None, 0, False, None, "prohibit", 254),
        ("a", 4, None, None, None, "lo", None, 16, 255, 0, True, None, "unicast", 200),
        ("a", 6, None, None, None, None, None, None, None, 0, False, 0, "unicast", 254),
        ("a", 6, 7, None, net("fd00::/64"), None, "e1", 9, None, 16, False, None, "unicast", 255),
        (None, 4, None, None, None, None, None, None, None, 0, False, None, "unicast", 5)]   # 0.0.0.0/0: all
    assert [r.label for r in topo.rules] == [
        "rule 100 from 10.0.0.0/24 to 192.0.2.1 lookup 100 in a", "rule from all to 198.51.100.0/24 prohibit in a",
        "rule not from all fwmark 0x10/0xff iif lo lookup 200 in a",
        "rule -6 from all suppress_prefixlength 0 lookup main in a",
        "rule 7 -6 from all to fd00::/64 tos 0x10 fwmark 0x9 oif e1 lookup local in a", "rule from all lookup 5"]


def test_the_script_adds_each_rule_with_ip_rule(topo):
    lines = [ln for ln in script(topo) if " rule " in ln]
    assert lines == ["ip -n a rule add pref 100 from 10.0.0.0/24 to 192.0.2.1 lookup 100",
                     "ip -n a rule add from all to 198.51.100.0/24 prohibit",
                     "ip -n a rule add not from all fwmark 0x10/0xff iif lo lookup 200",
                     "ip -n a -6 rule add from all suppress_prefixlength 0 lookup main",
                     "ip -n a -6 rule add pref 7 from all to fd00::/64 tos 0x10 fwmark 0x9 oif e1 lookup local",
                     "ip rule add from all lookup 5"]


def _observed(r, priority):
    """Rule ``r`` as the kernel reads it back (through vnet's own decoding
    of the message vnet sends, with the priority the kernel gave)."""
    o = kr.decode(kr._msg(r) + kr.nl.u32(kr.FRA_PRIORITY, priority) if r.priority is None else kr._msg(r), r.netns)
    return o


def _state(rules):
    st = State()
    st.namespaces = {None: {}, "a": {}}
    st.rules = {"a": [], None: []}
    for o in rules:
        st.rules[o.netns].append(o)
    return st


def test_a_kernel_holding_the_rules_plans_nothing_and_a_missing_one_is_made(topo):
    held = [_observed(r, 1000 + i) for i, r in enumerate(topo.rules)]
    rec = Record("lab", {"namespaces": ["a"], "rules": [list(rule_entry(r)) for r in topo.rules]})
    assert plan(topo, _state(held), rec).changes == []
    p = plan(topo, _state(held[1:]), rec)
    assert [(c.action, c.object, c.reason, c.op[0]) for c in p.changes] == \
        [("create", "rule 100 from 10.0.0.0/24 to 192.0.2.1 lookup 100 in a", "missing", "rule_add")]


def test_a_rule_at_another_priority_is_another_rule(topo):
    held = [_observed(r, 1000 + i) for i, r in enumerate(topo.rules)]
    held[0].priority = 101   # someone's, with the declared one's selectors: not the declared one
    p = plan(topo, _state(held), Record("lab", {"namespaces": ["a"]}))
    assert [c.object for c in p.changes] == ["rule 100 from 10.0.0.0/24 to 192.0.2.1 lookup 100 in a"]


def test_a_recorded_rule_no_longer_declared_goes_first_and_someone_else_s_stays(topo):
    held = [_observed(r, 1000 + i) for i, r in enumerate(topo.rules)]
    gone = load_text(TOPO.replace("  - {from: 0.0.0.0/0, table: 5}\n", "  - {from: 10.7.0.0/16, table: 5}\n"),
                     "lab.yaml")
    stranger = kr.Rule(netns="a", family=4, priority=50, src=ipaddress.ip_network("10.8.0.0/16"), tos=0,
                       invert=False, action="unicast", table=8)
    rec = Record("lab", {"namespaces": ["a"], "rules": [list(rule_entry(r)) for r in topo.rules]})
    p = plan(gone, _state(held + [stranger]), rec)
    assert [(c.action, c.object, c.reason) for c in p.changes] == [
        ("delete", "rule from all lookup 5", "no longer declared"),
        ("create", "rule from 10.7.0.0/16 lookup 5", "missing")]
    assert p.changes[0].op[2] is held[-1]   # the one the kernel holds, with the priority it gave


def test_a_record_s_entry_gives_the_rule_back(topo):
    for r in topo.rules:
        back = entry_rule(rule_entry(r))
        assert rule_match(back) == rule_match(r) and back.priority == r.priority and back.label == r.label


def _pyroute2(data):
    m = fibmsg(data)
    m.decode()
    return m


def test_what_vnet_sends_decodes_in_pyroute2(topo):
    for r in topo.rules:
        body = kr._msg(r)
        head = kr.nl._HDR.pack(16 + len(body), kr.RTM_NEWRULE, 0, 1, 0)
        m = _pyroute2(head + body)
        assert m["family"] == (2 if r.family == 4 else 10) and m["action"] == kr.ACTIONS[r.action]
        assert m.get_attr("FRA_PRIORITY") == r.priority
        assert m.get_attr("FRA_SRC") == (str(r.src.network_address) if r.src else None)
        assert m.get_attr("FRA_DST") == (str(r.dst.network_address) if r.dst else None)
        assert (m["src_len"], m["dst_len"]) == (r.src.prefixlen if r.src else 0, r.dst.prefixlen if r.dst else 0)
        assert (m.get_attr("FRA_IIFNAME"), m.get_attr("FRA_OIFNAME")) == (r.iif, r.oif)
        assert m.get_attr("FRA_FWMARK") == r.fwmark
        assert m.get_attr("FRA_FWMASK") == (None if r.fwmark is None else r.fwmask if r.fwmask is not None else
                                            0xFFFFFFFF)
        assert m["tos"] == r.tos and bool(m["flags"] & 2) == r.invert
        assert m.get_attr("FRA_SUPPRESS_PREFIXLEN") == r.suppress_prefixlength
        assert m.get_attr("FRA_TABLE") == (r.table if r.action == "unicast" else None)
        assert m.get_attr("FRA_PROTOCOL") is None   # as `ip rule add`: no protocol


def test_a_rule_pyroute2_encodes_reads_back_in_vnet():
    m = fibmsg()
    m["family"], m["src_len"], m["dst_len"], m["tos"], m["table"], m["action"], m["flags"] = 2, 16, 24, 8, 0, 1, 2
    m["attrs"] = [("FRA_SRC", "10.7.0.0"), ("FRA_DST", "192.0.2.0"), ("FRA_PRIORITY", 42), ("FRA_TABLE", 1000),
                  ("FRA_IIFNAME", "eth0"), ("FRA_FWMARK", 5), ("FRA_FWMASK", 0xF), ("FRA_SUPPRESS_PREFIXLEN", 8),
                  ("FRA_PROTOCOL", 4)]
    m.encode()
    r = kr.decode(bytes(m.data)[16:], "a")
    assert (r.family, r.priority, str(r.src), str(r.dst), r.iif, r.oif, r.fwmark, r.fwmask, r.tos, r.invert,
            r.suppress_prefixlength, r.action, r.table, r.unwritable, r.kernel_own) == \
        (4, 42, "10.7.0.0/16", "192.0.2.0/24", "eth0", None, 5, 15, 8, True, 8, "unicast", 1000, None, False)
    assert r.text == "42: not from 10.7.0.0/16 to 192.0.2.0/24 tos 0x8 fwmark 0x5/0xf iif eth0 " \
                     "suppress_prefixlength 8 lookup 1000"
    m = fibmsg()
    m["family"], m["action"] = 2, 2
    m["attrs"] = [("FRA_PRIORITY", 43), ("FRA_GOTO", 100), ("FRA_IP_PROTO", 6)]
    m.encode()
    r = kr.decode(bytes(m.data)[16:], "a")
    assert r.unwritable == "goto 100 (and more selectors)" and r.text == "43: from all goto 100 (and more selectors)"


def _live(ns="a", priority=100, **kw):
    fields = dict(netns=ns, family=4, priority=priority, src=None, dst=None, iif=None, oif=None, fwmark=None,
                  fwmask=None, tos=0, invert=False, suppress_prefixlength=None, action="unicast", table=100)
    fields.update(kw)
    return kr.Rule(**fields)


def test_the_kernel_deletes_the_first_rule_a_request_selects():
    from vnet.topology.rule import first_selected, taken_for
    net = ipaddress.ip_network("10.0.0.0/24")
    someones = _live(src=net, iif="e0")            # one more selector, made first
    mine = _live(src=net)
    assert first_selected([someones, mine], mine) is someones          # the request leaves iif out: any
    assert first_selected([mine, someones], mine) is mine
    assert first_selected([_live(src=net, invert=True), mine], mine).invert   # `not` is not compared
    assert first_selected([_live(priority=99, src=net), mine], mine) is mine  # the priority is
    assert first_selected([_live(src=net, fwmark=3, fwmask=0xFFFFFFFF), mine], mine).fwmark == 3
    assert first_selected([_live(src=net, table=7), mine], mine) is mine      # the table is
    # adding: the same but `not`, or a prefix the new one leaves out, is EEXIST
    assert taken_for(mine, _live(src=net, invert=True)) and taken_for(_live(), _live(src=net))
    assert not taken_for(mine, _live(src=net, iif="e0")) and not taken_for(mine, _live(priority=7, src=net))


def test_a_plan_never_has_the_kernel_delete_or_refuse_for_someone_s_rule():
    from vnet.errors import PlanError
    net = ipaddress.ip_network("10.0.0.0/24")
    t = load_text("name: lab\nnamespaces: [a]\n", "lab.yaml")
    mine = _live(src=net)
    rec = Record("lab", {"namespaces": ["a"], "rules": [list(rule_entry(mine))]})
    with pytest.raises(PlanError, match=r"rule 100 from 10.0.0.0/24 lookup 100 in a is no longer declared, but the "
                                        r"kernel would delete the rule '100: from 10.0.0.0/24 iif e0 lookup 100'"):
        plan(t, _state([_live(src=net, iif="e0"), mine]), rec)
    assert [c.op[0] for c in plan(t, _state([mine, _live(src=net, iif="e0")]), rec).changes] == ["rule_del"]
    declared = load_text("name: lab\nnamespaces: [a]\nrules:\n  - {netns: a, priority: 100, from: 10.0.0.0/24, "
                         "table: 100}\n", "lab.yaml")
    with pytest.raises(PlanError, match=r"rules\[0\]: the rule '100: not from 10.0.0.0/24 lookup 100' is where the "
                                        r"declared one goes"):
        plan(declared, _state([_live(src=net, invert=True)]), Record("lab", {"namespaces": ["a"]}))


def test_a_rule_with_what_a_file_cannot_say_is_never_taken_for_vnet_s():
    from vnet.topology.rule import taken_for
    net = ipaddress.ip_network("10.1.0.0/16")
    t = load_text("name: lab\nnamespaces: [a]\nrules:\n  - {netns: a, priority: 100, from: 10.1.0.0/16, "
                  "table: 100}\n", "lab.yaml")
    tcp = _live(src=net, unwritable="(and more selectors)")     # ipproto tcp: not the declared rule
    static = _live(src=net, protocol=4)                           # proto static: the declared rule, made by someone
    assert [c.op[0] for c in plan(t, _state([tcp]), Record("lab", {"namespaces": ["a"]})).changes] == ["rule_add"]
    assert plan(t, _state([static]), Record("lab", {"namespaces": ["a"]})).changes == []
    # recorded as vnet's, gone from the file: neither is vnet's to delete
    rec = Record("lab", {"namespaces": ["a"], "rules": [list(rule_entry(t.rules[0]))]})
    bare = load_text("name: lab\nnamespaces: [a]\n", "lab.yaml")
    assert plan(bare, _state([tcp]), rec).changes == [] and plan(bare, _state([static]), rec).changes == []
    # the kernel adds a rule beside one of another protocol or IP protocol (no EEXIST)
    assert not taken_for(t.rules[0], tcp) and not taken_for(t.rules[0], static)
