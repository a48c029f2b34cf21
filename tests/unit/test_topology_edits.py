"""A big YAML file edited in a few interfaces is read again in part
(vnet.topofile.edits): whatever the edit, the document is the one a whole
parse gives, or the part reading declines and the file is parsed whole."""
import random

import pytest
import yaml

from vnet.topofile import cache, edits, loader
from vnet.topology import reader


def flow_lab(n=60):
    lines = ["name: big", "namespaces: [" + ", ".join(f"s{i}" for i in range(n)) + "]", "interfaces:",
             "  - {name: br0, kind: bridge}"]
    for i in range(n):
        lines.append(f"  - {{name: v{i}, kind: veth, master: br0, peer: {{name: eth0, netns: s{i}, "
                     f"addresses: [10.1.{i // 250}.{i % 250 + 1}/16]}}}}")
    return "\n".join(lines) + "\nroutes:\n  - {netns: s1, to: default, via: 10.1.0.254}\n"


def block_lab(n=30):
    lines = ["# a lab", "name: big", "interfaces:"]
    for i in range(n):
        lines += [f"- name: d{i}", "  kind: dummy", f"  mtu: {1400 + i}", "  addresses:", f"  - 10.2.0.{i + 1}/24",
                  "  # a comment"]
    return "\n".join(lines) + "\n"


def whole(text):
    """The whole parse's document, or None where it fails."""
    try:
        r = reader.read_yaml(text)
    except yaml.YAMLError:
        return None
    return r.doc if not r.problems else None


def split_of(text):
    r = reader.read_yaml(text)
    return edits.split(text, r.doc, r.top_lines, r.item_lines.get("interfaces", ()))


TRICKY = ["  - {name: x1, kind: dummy}\n", "    mtu: 1400\n", "  # comment\n", "# comment\n", "\n", "routes: []\n",
          "...\n", "---\n", "  - &a {name: y, kind: dummy}\n", "  - *a\n", "  - {name: z, kind: dummy,\n",
          '    alias: "foo\n', "  - name: q\n", "    kind: dummy\n", "   - {name: odd, kind: dummy}\n", "  -\n",
          "    - nested\n", "  - name: b\n", "    alias: |\n", "      text\n", "\t- x\n",
          "  - {name: t, kind: dummy} # trailing\n", "  - {<<: {a: 1}}\n", "- {name: u, kind: dummy}\n",
          "  - name: d99\n", "  kind: dummy\n", "- name: d98\n", "  mtu: !!str 9\n", "  alias: 'it''s'\n",
          " x: 1\n", "  - {name: v1, kind: veth, master: br0, master: br1}\n", "  - [1, 2]\n", "  - 2001-01-01\n",
          "  - {name: w, alias: 2001-01-01}\n", "  mtu: 1500\n", "  - {name: deep, a: [[[[[[[[[1]]]]]]]]]}\n"]


def edit(text, rnd):
    lines = text.splitlines(keepends=True)
    for _ in range(rnd.randint(1, 3)):
        i = rnd.randrange(len(lines) + 1)
        op = rnd.random()
        if op < 0.35 and i < len(lines):
            ln = lines[i]
            j = rnd.randrange(len(ln))
            lines[i] = ln[:j] + rnd.choice(["1", "x", "0", " ", ",", "}", "{", ":", "-", "#", "'", "a: b, "]) + ln[j:]
        elif op < 0.5 and i < len(lines):
            del lines[i]
        elif op < 0.6 and i < len(lines):
            lines.insert(i, lines[i])
        else:
            lines.insert(i, rnd.choice(TRICKY))
    return "".join(lines)


@pytest.mark.parametrize("lab", [flow_lab, block_lab])
def test_any_edit_reads_as_the_whole_parse_or_is_declined(lab):
    text = lab()
    s = split_of(text)
    assert s is not None
    rnd = random.Random(23)
    read_in_part = 0
    for _ in range(3000):
        new = edit(text, rnd)
        got = edits.read(new, s)
        if got is not None:
            read_in_part += 1
            assert got == whole(new), new
    assert read_in_part > 500   # the usual edit is read in part


def test_an_edit_of_one_item_parses_that_item_alone(monkeypatch):
    text = flow_lab()
    s = split_of(text)
    new = text.replace("{name: v7, kind: veth, master: br0,", "{name: v7, kind: veth, master: br0, mtu: 1400,")
    parsed = []
    real = reader.read_yaml
    monkeypatch.setattr(reader, "read_yaml", lambda t: parsed.append(t) or real(t))
    doc = edits.read(new, s)
    assert parsed == ["  - {name: v7, kind: veth, master: br0, mtu: 1400, peer: {name: eth0, netns: s7, "
                      "addresses: [10.1.0.8/16]}}\n"]
    assert doc == whole(new) and doc["interfaces"][8]["mtu"] == 1400
    # items added, removed and moved: their texts are known
    lines = text.splitlines(keepends=True)
    moved = "".join(lines[:3] + lines[10:] [:-2] + lines[3:10] + lines[-2:])
    expected = whole(moved)
    parsed.clear()
    assert edits.read(moved, s) == expected and parsed == []


@pytest.mark.parametrize("new", [
    "name: other\n",                                    # the head changed
    "  - {name: x, kind: dummy}\nroutes: []\n",         # the tail changed
])
def test_an_edit_outside_the_list_is_parsed_whole(new):
    text = flow_lab()
    s = split_of(text)
    changed = new + text if new.startswith("name") else text + new
    assert edits.read(changed, s) is None


@pytest.mark.parametrize("text", [
    "name: a\ninterfaces: [{name: d0, kind: dummy}]\n",                  # a flow list
    "name: a\ninterfaces:\n  -\n    name: d0\n    kind: dummy\n",        # an item below its dash
    "name: a\ninterfaces:\n  - {name: d0,\n kind: dummy}\n",             # a line less indented than the dash
])
def test_a_list_written_otherwise_is_not_cut(text):
    assert split_of(text) is None


def test_a_loaded_edit_equals_a_fresh_load(tmp_path, monkeypatch):
    monkeypatch.setenv("VNET_STATE_DIR", str(tmp_path / "state"))
    f = tmp_path / "lab.yaml"
    text = flow_lab(400)
    assert len(text) >= cache.MIN_SIZE
    f.write_text(text)
    loader.load(str(f))
    for i, new in enumerate([text.replace("netns: s7,", "netns: s7, mtu: 1400,"),
                             text.replace("master: br0, peer: {name: eth0, netns: s9,", "peer: {name: eth0, netns: s9,"),
                             text.replace("  - {name: br0, kind: bridge}\n", "  - {name: br0, kind: bridge}\n"
                                          "  - {name: br1, kind: bridge, stp: true}\n")]):
        f.write_text(new)
        sizes = []
        real = reader.read_yaml
        monkeypatch.setattr(reader, "read_yaml", lambda t: sizes.append(len(t)) or real(t))
        got = loader.load(str(f))
        monkeypatch.setattr(reader, "read_yaml", real)
        assert sizes and max(sizes) < 200, i   # the edited item alone
        assert got == loader.load_text(new, str(f)), i


SHARED = [   # (the last version, the edit): an item kept by its text would keep an alias's old value
    ("name: lab\ninterfaces:\n- name: a\n  mtu: &m 1400\n- name: b\n  mtu: *m\n",
     "name: lab\ninterfaces:\n- name: b\n  mtu: *m\n"),
    ("name: lab\ninterfaces:\n- {name: a, mtu: &m 1400}\n- {name: b, mtu: *m}\n- {name: c, mtu: &m 9000}\n"
     "- {name: d, mtu: *m}\n",
     "name: lab\ninterfaces:\n- {name: a, mtu: &m 1400}\n- {name: c, mtu: &m 9000}\n- {name: b, mtu: *m}\n"
     "- {name: d, mtu: *m}\n"),
    ("name: lab\ninterfaces:\n- &x {name: a, kind: dummy}\nextra: *x\n",
     "name: lab\ninterfaces:\n- {name: a, kind: dummy, mtu: 1400}\nextra: *x\n"),
    ("d: &m 1\ninterfaces:\n- {name: a, v: *m}\n- {name: b, v: &m 2}\n- {name: a, v: *m}\n",
     "d: &m 1\ninterfaces:\n- {name: a, v: *m}\n- {name: b, v: &m 2}\n- {name: a, v: *m}\n- {name: c}\n"),
    ("base: &x\n- name: a\n  mtu: 1\ninterfaces: *x\n", "base: &x\n- name: a\n  mtu: 2\ninterfaces: *x\n"),
    ("name: lab\ninterfaces:\n- {name: a, mtu: !!int '1400'}\n", "name: lab\ninterfaces:\n- {name: a, mtu: !!int '1400'}\n- {name: b}\n"),
]


@pytest.mark.parametrize("old,new", SHARED)
def test_a_text_with_shared_values_is_never_cut(old, new):
    """Found by review: the edits of a text with anchors and aliases read
    otherwise than a whole parse, or where it fails."""
    assert split_of(old) is None


def test_a_loaded_edit_of_a_file_with_aliases_is_the_whole_parse(tmp_path, monkeypatch):
    monkeypatch.setenv("VNET_STATE_DIR", str(tmp_path / "state"))
    filler = "".join(f"- name: d{i}\n  kind: dummy\n  mtu: {1000 + i}\n" for i in range(1200))
    a, b, c = ("- name: a\n  kind: dummy\n  mtu: &m 1400\n", "- name: b\n  kind: dummy\n  mtu: *m\n",
               "- name: c\n  kind: dummy\n  mtu: &m 9000\n")
    f = tmp_path / "lab.yaml"
    f.write_text("name: lab\ninterfaces:\n" + a + b + c + filler)
    loader.load(str(f))
    v2 = "name: lab\ninterfaces:\n" + a + c + b + filler
    f.write_text(v2)
    got = loader.load(str(f))
    assert got == loader.load_text(v2, str(f))
    assert next(i for i in got.interfaces if i.name == "b").mtu == 9000
