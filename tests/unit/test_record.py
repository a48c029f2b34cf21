"""Ownership records read back robustly: a record of the current format and
one written before the format had a version are read; a corrupt record
(not JSON, wrong types), an unreadable one and one of a later format are a
StateError (exit 8) naming the file, never a traceback."""
import json

import pytest

from vnet.errors import StateError
from vnet.ownership import RECORD_VERSION, Record


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("VNET_STATE_DIR", str(tmp_path))
    return tmp_path


def _saved(state):
    r = Record("lab")
    r.namespaces = ["n1"]
    r.devices[("n1", "v0")] = "veth"
    r.routes.append(("n1", "0.0.0.0/0", "10.0.0.1", None, 0))
    r.sysctls[("n1", "net.ipv4.ip_forward")] = "0"
    r.save()
    return state / "lab.json"


def test_a_record_carries_its_format_and_reads_back(state):
    path = _saved(state)
    data = json.loads(path.read_text())
    assert data["version"] == 1 and RECORD_VERSION == 5   # format 1 while no route has a table and no rule
    assert data["routes"] == [["n1", "0.0.0.0/0", "10.0.0.1", None, 0]]
    r = Record.load("lab")
    assert r.exists() and r.namespaces == ["n1"] and r.devices == {("n1", "v0"): "veth"}
    assert r.routes == [("n1", "0.0.0.0/0", "10.0.0.1", None, 0, 254)]


def test_a_route_in_another_table_makes_the_record_format_2(state):
    _saved(state)
    r = Record.load("lab")
    r.routes.append(("n1", "10.9.0.0/16", None, "v0", 0, 100))
    r.save()
    data = json.loads((state / "lab.json").read_text())
    assert data["version"] == 2 and data["routes"][1] == ["n1", "10.9.0.0/16", None, "v0", 0, 100]
    assert Record.load("lab").routes[1] == ("n1", "10.9.0.0/16", None, "v0", 0, 100)


def test_a_rule_makes_the_record_format_3(state):
    _saved(state)
    r = Record.load("lab")
    entry = ("n1", 4, "10.0.0.0/24", None, "e0", None, 16, 255, 0, True, None, "unicast", 100, 50)
    r.rules.append(entry)
    r.save()
    data = json.loads((state / "lab.json").read_text())
    assert data["version"] == 3 and data["rules"] == [list(entry)]
    assert Record.load("lab").rules == [entry]
    r.rules.clear()
    r.save()
    assert json.loads((state / "lab.json").read_text())["version"] == 1 and Record.load("lab").rules == []


def test_a_nexthop_makes_the_record_format_4(state):
    _saved(state)
    r = Record.load("lab")
    r.nexthops.append(("n1", 7))
    r.save()
    data = json.loads((state / "lab.json").read_text())
    assert data["version"] == 4 and data["nexthops"] == [["n1", 7]]
    assert Record.load("lab").nexthops == [("n1", 7)]
    data["nexthops"] = [["n1", 0]]
    (state / "lab.json").write_text(json.dumps(data))
    with pytest.raises(StateError, match=r"a nexthop \[netns, id\]"):
        Record.load("lab")


def test_a_record_from_before_the_version_field_is_read(state):
    path = _saved(state)
    data = json.loads(path.read_text())
    del data["version"]
    path.write_text(json.dumps(data))
    assert Record.load("lab").devices == {("n1", "v0"): "veth"}


def test_a_record_of_a_later_format_is_refused(state):
    path = _saved(state)
    path.write_text(path.read_text().replace('"version": 1', '"version": 6'))
    with pytest.raises(StateError, match=r"format 6, written by a newer vnet") as e:
        Record.load("lab")
    assert str(path) in str(e.value) and e.value.exit_code == 8


@pytest.mark.parametrize("text, problem", [
    ("{", "not JSON"),
    ("", "not JSON"),
    ("[" * 100000, "not JSON"),
    ("[]", "not a JSON object"),
    ('{"version": "1"}', "'version' is '1'"),
    ('{"version": 0}', "'version' is 0"),
    ('{"namespaces": "n1"}', "'namespaces' is not a list"),
    ('{"namespaces": [1]}', "namespaces[0] is not a namespace name"),
    ('{"devices": [{"netns": null, "name": "v0"}]}', "devices[0] is not a device"),
    ('{"devices": [["n1", "v0", "veth"]]}', "devices[0] is not a device"),
    ('{"routes": [["n1", "default"]]}', "routes[0] is not a route"),
    ('{"routes": [["n1", {}, null, null, 0]]}', "routes[0] is not a route"),
    ('{"sysctls": [{"netns": "n1", "key": 5, "old": "0"}]}', "sysctls[0] is not a sysctl"),
    ('{"rules": [["n1", 4, "10.0.0.0/24"]]}', "rules[0] is not a rule"),
    ('{"neighbours": [["n1", "e0", "10.0.0.300", false]]}', "neighbours[0] is not a neighbour"),
    ('{"neighbours": [["n1", "e0", "10.0.0.3"]]}', "neighbours[0] is not a neighbour"),
    ('{"rules": [["n1", 5, null, null, null, null, null, null, 0, false, null, "unicast", 254, null]]}',
     "rules[0] is not a rule"),
    ('{"rules": [["n1", 4, "10.0.0.1/24", null, null, null, null, null, 0, false, null, "unicast", 254, null]]}',
     "rules[0] is not a rule"),
    ('{"rules": [["n1", 4, null, null, null, null, null, null, 0, false, null, "goto", 254, null]]}',
     "rules[0] is not a rule"),
    ('{"namespaces": [".."]}', "namespaces[0] is not a namespace name"),
    ('{"namespaces": [""]}', "namespaces[0] is not a namespace name"),
    ('{"devices": [{"netns": "../x", "name": "v0", "kind": "veth"}]}', "devices[0] is not a device"),
    ('{"devices": [{"netns": null, "name": "a/b", "kind": "veth"}]}', "devices[0] is not a device"),
    ('{"routes": [["n1", "0.0.0.0/0", null, "a/b", 0]]}', "routes[0] is not a route"),
    ('{"routes": [["n1", "0.0.0.0/0", null, null, "0"]]}', "routes[0] is not a route"),
    ('{"sysctls": [{"netns": null, "key": "net.ipv4/../../x", "old": "0"}]}', "sysctls[0] is not a sysctl"),
    ('{"sysctls": [{"netns": null, "key": "kernel.panic", "old": "0"}]}', "sysctls[0] is not a sysctl"),
    ('{"group": "x"}', "'group' is not a link group number"),
    ('{"group": -1}', "'group' is not a link group number"),
    ('{"source": 3}', "'source' is not a path"),
    ('{"addresses": [["n1", "lo"]]}', "addresses[0] is not an address"),
    ('{"addresses": [["n1", "lo", "192.0.2.1"]]}', "addresses[0] is not an address"),
    ('{"addresses": [["n1", "a/b", "192.0.2.1/32"]]}', "addresses[0] is not an address"),
    ('{"addresses": [["n1", "lo", "192.0.2.300/32"]]}', "addresses[0] is not an address"),
])
def test_a_corrupt_record_is_named_not_a_traceback(state, text, problem):
    (state / "lab.json").write_text(text)
    with pytest.raises(StateError) as e:
        Record.load("lab")
    assert f"{state / 'lab.json'}, is corrupt: " in str(e.value) and problem in str(e.value)
    assert len(str(e.value)) < 400


def test_a_record_that_is_not_text_or_a_file(state):
    (state / "lab.json").write_bytes(b"\xff\xfe{")
    with pytest.raises(StateError, match="cannot read the record"):
        Record.load("lab")
    (state / "lab.json").unlink()
    (state / "lab.json").mkdir()
    with pytest.raises(StateError, match="Is a directory"):
        Record.load("lab")


def test_a_state_directory_that_cannot_be_written(tmp_path, monkeypatch):
    plain = tmp_path / "plain"
    plain.write_text("")
    monkeypatch.setenv("VNET_STATE_DIR", str(plain))
    r = Record("lab")
    r.namespaces = ["n1"]
    with pytest.raises(StateError, match=f"cannot write the record of topology 'lab', {plain}/lab.json"):
        r.save()


def test_record_names_are_checked_as_the_spec_checks_them():
    from vnet import ownership
    from vnet.topology import fields
    assert ownership._NSNAME.pattern == fields.NSNAME_RE and ownership._JOINED.pattern == fields.JOINED_RE and ownership._IFNAME.pattern == fields.IFNAME_RE


def test_record_namespaces_answer_membership_as_the_list_holds_them():
    """The namespaces are asked about once per namespace an apply or destroy
    makes or removes (a set's membership: a list's made thousands quadratic),
    and stay the list the record file writes, in its order."""
    import json
    import pickle
    from vnet.ownership import Names
    rec = Record("t", {"namespaces": ["a", "b", "a"]})
    assert isinstance(rec.namespaces, Names) and "a" in rec.namespaces and "c" not in rec.namespaces
    rec.namespaces.append("c")
    rec.namespaces.remove("a")
    assert "a" in rec.namespaces and list(rec.namespaces) == ["b", "a", "c"]   # listed twice: once more to go
    rec.namespaces.remove("a")
    assert "a" not in rec.namespaces and json.dumps(rec.namespaces) == '["b", "c"]'
    again = pickle.loads(pickle.dumps(rec.namespaces))
    assert "c" in again and "a" not in again and list(again) == ["b", "c"]
    names = rec.namespaces
    names += ["d"]
    names.insert(0, "e")
    names.extend(["f"])
    assert all(x in names for x in "bcdef") and names.pop() == "f" and "f" not in names
    del names[0]
    names[0] = "g"
    assert list(names) == ["g", "c", "d"] and "b" not in names and "e" not in names and "g" in names
    assert [] not in names
    names.clear()
    assert "c" not in names and not names


def test_the_namespaces_whose_routes_went_first_read_back(state):
    """A destroy says, before it takes its devices' IPv6 routes, in which
    namespace (None: vnet's own): the next apply reads it back."""
    _saved(state)
    r = Record.load("lab")
    assert r.routes_dropped == []
    r.mark_routes_dropped(None)
    r.mark_routes_dropped("n1")
    r.mark_routes_dropped(None)
    assert json.loads((state / "lab.json").read_text())["routes_dropped"] == [None, "n1"]
    assert Record.load("lab").routes_dropped == [None, "n1"]


def test_a_corrupt_list_of_namespaces_whose_routes_went_is_refused(state):
    path = _saved(state)
    data = json.loads(path.read_text())
    data["routes_dropped"] = [3]
    path.write_text(json.dumps(data))
    with pytest.raises(StateError, match="routes_dropped"):
        Record.load("lab")


def test_the_addresses_given_to_lo_read_back_and_go_with_their_namespace(state):
    """What vnet gave a device it did not make (lo of a namespace it made) is
    recorded, to be taken away once no longer declared; a namespace that
    goes (deleted, or its creation undone) takes its entries along."""
    _saved(state)
    r = Record.load("lab")
    r.remember_address(("n1", "lo"), "192.0.2.1/32")
    r.remember_address(("n1", "lo"), "192.0.2.1/32")
    r.remember_address(("n2", "lo"), "192.0.2.2/32")   # n2 is not the record's (any more)
    r.save()
    assert json.loads((state / "lab.json").read_text())["addresses"] == [["n1", "lo", "192.0.2.1/32"]]
    r = Record.load("lab")
    assert r.addresses == [("n1", "lo", "192.0.2.1/32")]
    assert r.forget_address(("n1", "lo"), "192.0.2.1/32") and not r.forget_address(("n1", "lo"), "192.0.2.1/32")
    r.save()
    assert "addresses" not in json.loads((state / "lab.json").read_text())


def test_a_save_of_what_the_record_already_says_writes_nothing(state, monkeypatch):
    """An option changed in place leaves the record as it was: its save is
    skipped (the text of a big lab's record is not even made), and any
    change to what it says is written."""
    _saved(state)
    r = Record.load("lab")
    import vnet.ownership as own
    made = []
    real = own._json_text
    monkeypatch.setattr(own, "_json_text", lambda d: made.append(1) or real(d))
    r.save()
    assert made == []
    for change in (lambda r: r.devices.__setitem__(("n1", "v1"), "veth"), lambda r: r.namespaces.append("n2"),
                   lambda r: r.routes.append(("n1", "10.9.0.0/16", None, "v0", 0, 254)),
                   lambda r: r.sysctls.__setitem__(("n1", "net.ipv4.ip_forward"), "1"),
                   lambda r: r.routes_dropped.append("n1"), lambda r: setattr(r, "source", "/other.yaml"),
                   lambda r: setattr(r, "name", "lab2")):
        before = (state / "lab.json").read_text()
        change(r)
        r.save()
        assert r.path != str(state / "lab.json") or (state / "lab.json").read_text() != before
        assert Record.load(r.name)._content() == r._content()
        r.save()   # the same again: skipped
    assert len(made) == 7


def test_a_source_prefix_route_makes_the_record_format_5(state):
    """A route key with its source prefix (`::/0 from fd00:aaaa::/48`): an
    older vnet, which would read it as a destination, refuses the record."""
    _saved(state)
    r = Record.load("lab")
    r.routes.append(("n1", "::/0 from fd00:aaaa::/48", "fd00::2", None, None, 254))
    r.save()
    assert json.loads((state / "lab.json").read_text())["version"] == 5
    assert ("n1", "::/0 from fd00:aaaa::/48", "fd00::2", None, None, 254) in Record.load("lab").routes
