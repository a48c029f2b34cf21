"""Text to Python data, YAML or JSON, for the loader: bounded whatever the
text. Mappings, lists and scalars only; a key given twice in one mapping
is a problem naming both lines (YAML and JSON parsers silently keep the
last); a value nested deeper than any topology needs, a mapping used as a
key or an unknown tag becomes an ``Odd`` stand-in that no field accepts,
so that validation names its object and field; an alias is one shared
object (an alias bomb stays small)."""
import re

from .quote import label

MAX_DEPTH = 32   # a topology nests 8 levels at most (interfaces, a MACsec rx channel's SAs...)
_STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"


class Odd:
    """Stands for a value the reader does not make. Hashable (by identity)
    so that it can stand for a key too."""

    def __init__(self, what):
        self.what = what

    def __repr__(self):
        return f"<{self.what}>"


class Read:
    """A document and the problems found reading it: (path, message); of
    YAML, the lines of its top-level keys ({key: line}) and of the items of
    its top-level lists ({key: [line, ...]}), counted from 1."""

    def __init__(self, doc, problems, top_lines=None, item_lines=None):
        self.doc, self.problems = doc, problems
        self.top_lines, self.item_lines = top_lines or {}, item_lines or {}


# ---- YAML ------------------------------------------------------------------

_LOADER = None
_SCALARS = None


def yaml_loader():
    """The safe loader without YAML 1.1's base-60 numbers: unquoted, a MAC like
    52:54:00:12:34:56 or an IPv6 address like 2001:0:0:0:0:0:0:1 would become
    an integer (and an integer a different address)."""
    global _LOADER
    if _LOADER is None:
        import yaml
        base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        numeric = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
        _LOADER = type("Loader", (base,), {"yaml_implicit_resolvers": {
            ch: [(tag, re.compile(r"^(?!.*:)" + rx.pattern, rx.flags) if tag in numeric else rx)
                 for tag, rx in resolvers]
            for ch, resolvers in base.yaml_implicit_resolvers.items()}})
    return _LOADER


def _scalar_constructors(yaml):
    global _SCALARS
    if _SCALARS is None:
        ctor = yaml.constructor.SafeConstructor()
        _SCALARS = {tag: (lambda n, f=f: f(ctor, n)) for tag, f in yaml.constructor.SafeConstructor.yaml_constructors.items()
                    if tag and tag.startswith("tag:yaml.org,2002:") and tag.rsplit(":", 1)[1] in
                    ("null", "bool", "int", "float", "timestamp")}
    return _SCALARS


def read_yaml(text):
    """Read YAML text; yaml.YAMLError on a syntax error. Python data is
    built straight from the C parser's events, scalars by PyYAML's own
    constructors (the same values as yaml.safe_load): no node graph, whose
    nodes and marks took six times the memory of the data, and twice
    the time."""
    import yaml
    loader = yaml_loader()(text)
    try:
        b = _Events(loader, yaml)
        loader.get_event()                    # stream start
        if loader.check_event(yaml.StreamEndEvent):
            return Read(None, [])
        loader.get_event()                    # document start
        doc, _h = b.value(loader.get_event(), 1)
        loader.get_event()                    # document end
        if not loader.check_event(yaml.StreamEndEvent):
            ev = loader.get_event()
            raise yaml.composer.ComposerError("expected a single document in the stream", None,
                                              "but found another document", ev.start_mark)
    finally:
        loader.dispose()
    items = {k: b.seq_lines[id(v)] for k, v in doc.items() if id(v) in b.seq_lines} if isinstance(doc, dict) else {}
    return Read(doc, _twice(doc, b.dups), b.top_lines, items)


class _Events:
    """Python data from parser events; anchors are shared objects."""

    def __init__(self, loader, yaml):
        self.loader, self.yaml = loader, yaml
        self.scalars = _scalar_constructors(yaml)
        self.anchors = {}   # anchor -> (value, height); height None while it is being made
        self.dups = []      # (mapping, key, first line, repeated line)
        self.tags = {}      # (plain scalar, implicit) -> its resolved tag: a lab repeats its keys and kinds
        self.top_lines = {}  # the top-level mapping's keys -> their lines
        self.seq_lines = {}  # id of a top-level list -> its items' first lines

    def value(self, ev, depth):
        """(value, height) of the value that ``ev`` starts."""
        y = self.yaml
        cls = type(ev)
        if cls is y.ScalarEvent:
            v = self._scalar(ev)
            if ev.anchor:
                self.anchors[ev.anchor] = (v, 1)
            return v, 1
        if cls is y.AliasEvent:
            got = self.anchors.get(ev.anchor)
            if got is None:
                raise y.composer.ComposerError(None, None, f"found undefined alias {ev.anchor!r}", ev.start_mark)
            v, h = got
            if h is None:
                return Odd("a value that contains itself"), 1
            return (v, h) if depth + h <= MAX_DEPTH + 1 else (Odd(f"a value nested more than {MAX_DEPTH} levels deep"), 1)
        mapping = cls is y.MappingStartEvent
        kind = _MAP if mapping else _SEQ
        if depth > MAX_DEPTH or ev.tag not in (None, "!", kind):
            self._skip()
            v = Odd(f"a value nested more than {MAX_DEPTH} levels deep" if depth > MAX_DEPTH else
                    f"a value tagged {ev.tag}")
            h = 1
        else:
            v = {} if mapping else []
            if ev.anchor:
                self.anchors[ev.anchor] = (v, None)
            h = 1 + (self._mapping(v, depth) if mapping else self._sequence(v, depth))
        if ev.anchor:
            self.anchors[ev.anchor] = (v, h)
        return v, h

    def _scalar(self, ev):
        tag = ev.tag
        if tag is None or tag == "!":
            key = (ev.value, ev.implicit)
            tag = self.tags.get(key)
            if tag is None:
                tag = self.tags[key] = self.loader.resolve(self.yaml.ScalarNode, ev.value, ev.implicit)
        if tag == _STR:
            return ev.value
        if tag == _MERGE:
            return _MERGE_KEY
        f = self.scalars.get(tag)
        if f is None:
            return Odd(f"a value tagged {tag}")
        if tag.endswith(":int") and len(ev.value) > 64:
            return ev.value   # int() refuses 4,300 digits; out of range as text
        return f(self.yaml.ScalarNode(tag, ev.value))

    def _skip(self):
        """Past the end of the collection just started, without recursion."""
        y, level = self.yaml, 1
        while level:
            ev = self.loader.get_event()
            if isinstance(ev, (y.MappingStartEvent, y.SequenceStartEvent)):
                level += 1
            elif isinstance(ev, (y.MappingEndEvent, y.SequenceEndEvent)):
                level -= 1

    def _sequence(self, out, depth):
        h, get, end = 0, self.loader.get_event, self.yaml.SequenceEndEvent
        starts = None
        if depth == 2:
            starts = self.seq_lines[id(out)] = []
        while True:
            ev = get()
            if type(ev) is end:
                return h
            if starts is not None:
                starts.append(ev.start_mark.line + 1)
            v, vh = self.value(ev, depth + 1)
            out.append(v)
            h = max(h, vh)

    def _mapping(self, out, depth):
        h, get, end = 0, self.loader.get_event, self.yaml.MappingEndEvent
        merged, lines = {}, {}
        while True:
            ev = get()
            if type(ev) is end:
                break
            line = ev.start_mark.line + 1
            key, _kh = self.value(ev, depth + 1)
            if isinstance(key, (list, dict)):
                key = Odd("a mapping or list as a key")
            elif key in lines:
                self.dups.append((out, key, lines[key], line))
            elif key is not _MERGE_KEY:
                lines[key] = line
            v, vh = self.value(get(), depth + 1)
            h = max(h, vh)
            if key is _MERGE_KEY:   # `<<: *base`: its keys, below the ones written here
                for m in (v if isinstance(v, list) else [v]):
                    for kk, vv in (m.items() if isinstance(m, dict) else [(Odd("a merge of a non-mapping"), m)]):
                        merged.setdefault(kk, vv)
            else:
                out[key] = v
        for kk, vv in merged.items():
            out.setdefault(kk, vv)
        if depth == 1:
            self.top_lines = lines
        return h


_MERGE_KEY = Odd("<<")


def _twice(doc, dups, line=lambda x: x):
    """Problems for keys given twice: (path, message), the paths found in
    one walk of the document."""
    paths = _paths(doc, {id(m) for m, _k, _a, _b in dups})
    out = []
    for m, key, a, b in dups:
        path, k = paths.get(id(m), "?"), label(key) if isinstance(key, str) else "?"
        out.append((f"{path}.{k}" if path else k,
                    f"given twice, at lines {line(a)} and {line(b)} (only the last would count)"))
    return out


def _paths(doc, targets):
    """id -> where it is, in the loader's notation (``interfaces[3] (veth1).peer``),
    for the mappings in ``targets``; found by a walk, only for a problem."""
    stack, seen, found = [(doc, "")], set(), {}
    while stack and len(found) < len(targets):
        v, path = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        if id(v) in targets:
            found[id(v)] = path
        if isinstance(v, dict):
            stack += [(x, f"{path}.{label(k)}" if path else label(k)) for k, x in v.items()
                      if isinstance(k, str) and isinstance(x, (dict, list))]
        elif isinstance(v, list):
            stack += [(x, f"{path}[{i}]" + (f" ({label(x['name'])})" if isinstance(x, dict) and
                                             isinstance(x.get("name"), str) else ""))
                      for i, x in enumerate(v) if isinstance(x, (dict, list))]
    return found


# ---- JSON ------------------------------------------------------------------

def read_json(text):
    """Read JSON text; ValueError on a syntax error. The C decoder reads
    it; only a text with a key twice or nested past Python's recursion
    limit is read again, by a slower reader that knows lines and paths."""
    import json
    twice = []

    def pairs(items):
        d = dict(items)
        if len(d) != len(items):
            twice.append(1)
        return d
    try:
        doc = json.loads(text, object_pairs_hook=pairs)
    except RecursionError:
        twice.append(1)
    if not twice:
        return Read(doc, [])
    w = _JsonWalk(text)
    doc = w.value(w.skip(0), 1)
    if w.skip(w.pos) != len(text):
        raise ValueError(f"extra data: {w.where(w.pos)}")
    return Read(doc, _twice(doc, w.dups, _lines(text)) if w.dups else [])


def _lines(text):
    """Line number of an offset, by bisection over the newlines (found once)."""
    import bisect
    newlines = [m.start() for m in re.finditer("\n", text)]
    return lambda pos: bisect.bisect_left(newlines, pos) + 1


_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_LITERALS = {"true": True, "false": False, "null": None}


class _JsonWalk:
    """A JSON reader that knows lines: of keys given twice. Recursion stops
    at MAX_DEPTH (a deeper value is an ``Odd``); deeper text is skipped by
    counting brackets."""

    def __init__(self, text):
        import json.decoder
        self.text, self.pos, self.dups = text, 0, []
        self.scanstring = json.decoder.scanstring

    def where(self, pos):
        line = self.text.count("\n", 0, pos) + 1
        return f"line {line}, column {pos - self.text.rfind(chr(10), 0, pos)}"

    def skip(self, pos):
        return _WS.match(self.text, pos).end()

    def fail(self, pos, what):
        raise ValueError(f"{what}: {self.where(pos)}")

    def value(self, pos, depth):
        t = self.text
        c = t[pos:pos + 1]
        if c == '"':
            s, self.pos = self.scanstring(t, pos + 1)
            return s
        if c in ("{", "[") and depth > MAX_DEPTH:
            self._skip_nested(pos)
            return Odd(f"a value nested more than {MAX_DEPTH} levels deep")
        if c == "{":
            return self._object(pos, depth)
        if c == "[":
            return self._array(pos, depth)
        m = _NUMBER.match(t, pos)
        if m:
            self.pos = m.end()
            n = m.group()
            return float(n) if any(x in n for x in ".eE") else (int(n) if len(n) <= 64 else n)
        for word, v in _LITERALS.items():
            if t.startswith(word, pos):
                self.pos = pos + len(word)
                return v
        self.fail(pos, "expecting a value")

    def _object(self, pos, depth):
        out, lines = {}, {}
        pos = self.skip(pos + 1)
        if self.text[pos:pos + 1] == "}":
            self.pos = pos + 1
            return out
        while True:
            if self.text[pos:pos + 1] != '"':
                self.fail(pos, "expecting a key in double quotes")
            at = pos
            key, pos = self.scanstring(self.text, pos + 1)
            pos = self.skip(pos)
            if self.text[pos:pos + 1] != ":":
                self.fail(pos, "expecting ':'")
            if key in out:
                self.dups.append((out, key, lines[key], at))
            else:
                lines[key] = at
            out[key] = self.value(self.skip(pos + 1), depth + 1)
            pos = self._after_item("}")
            if pos is None:
                return out

    def _array(self, pos, depth):
        out = []
        pos = self.skip(pos + 1)
        if self.text[pos:pos + 1] == "]":
            self.pos = pos + 1
            return out
        while True:
            out.append(self.value(pos, depth + 1))
            pos = self._after_item("]")
            if pos is None:
                return out

    def _after_item(self, close):
        """After an object's member or an array's element: None at ``close``
        (consumed), else the position past the comma."""
        pos = self.skip(self.pos)
        c = self.text[pos:pos + 1]
        if c == close:
            self.pos = pos + 1
            return None
        if c != ",":
            self.fail(pos, f"expecting ',' or '{close}'")
        return self.skip(pos + 1)

    def _skip_nested(self, pos):
        """Past the array or object at ``pos``, without recursion."""
        t, level = self.text, 0
        token = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')
        for m in token.finditer(t, pos):
            c = m.group()
            if c in "[{":
                level += 1
            elif c in "]}":
                level -= 1
                if level == 0:
                    self.pos = m.end()
                    return
        self.fail(pos, "unterminated array or object")
