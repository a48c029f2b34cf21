"""Text to Python data, YAML or JSON, for the loader: bounded whatever the
text. Mappings, lists and scalars only; a key given twice in one mapping
is a problem naming both lines (YAML and JSON parsers silently keep the
last); a value nested deeper than any topology needs, a mapping used as a
key or an unknown tag becomes an ``Odd`` stand-in that no field accepts,
so that validation names its object and field; an alias is one shared
object (an alias bomb stays small)."""
import re

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
    """A document and the problems found reading it: (path, message)."""

    def __init__(self, doc, problems):
        self.doc, self.problems = doc, problems


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
    """Read YAML text; yaml.YAMLError on a syntax error. The C parser
    composes the node graph and the nodes become Python objects here,
    scalars by PyYAML's own constructors (same values, at half the cost of
    PyYAML's generic constructor)."""
    import yaml
    node = yaml.compose(text, Loader=yaml_loader())
    if node is None:
        return Read(None, [])
    b = _Builder(_scalar_constructors(yaml))
    doc = b.value(node, 1)
    return Read(doc, [(_key_path(_node_path(node, m), k), f"given twice, at lines {first.start_mark.line + 1} "
                                                         f"and {k.start_mark.line + 1} (only the last would count)")
                      for m, first, k in b.dups])


def _key_path(path, key):
    k = label(key.value) if isinstance(key.value, str) else "?"
    return f"{path}.{k}" if path else k


class _Builder:
    def __init__(self, scalars):
        self.scalars = scalars
        self.memo = {}    # id(node) -> (value, height); height None while it is being made
        self.dups = []    # (mapping node, first key node, repeated key node)

    def value(self, node, depth):
        got = self.memo.get(id(node))
        if got is not None:   # an alias, or a scalar seen before
            v, height = got
            if height is None:
                return Odd("a value that contains itself")
            return v if depth + height <= MAX_DEPTH else Odd(f"a value nested more than {MAX_DEPTH} levels deep")
        tag = node.tag
        if tag == _STR:
            return node.value
        if depth > MAX_DEPTH:
            return Odd(f"a value nested more than {MAX_DEPTH} levels deep")
        if tag == _MAP:
            out = {}
            self.memo[id(node)] = (out, None)
            h = self._mapping(node, out, depth)
        elif tag == _SEQ:
            out = []
            self.memo[id(node)] = (out, None)
            h = 0
            for x in node.value:
                out.append(self.value(x, depth + 1))
                h = max(h, self._height(x))
        else:
            out, h = self._scalar(node), 0
        self.memo[id(node)] = (out, h + 1)
        return out

    def _height(self, node):
        got = self.memo.get(id(node))
        return got[1] or 0 if got is not None else 1

    def _scalar(self, node):
        f = self.scalars.get(node.tag)
        if f is None or not isinstance(node.value, str):
            return Odd(f"a value tagged {node.tag}")
        if node.tag.endswith(":int") and len(node.value) > 64:
            return node.value   # int() refuses 4,300 digits; out of range as text
        return f(node)

    def _mapping(self, node, out, depth):
        h, merged, first = 0, {}, {}
        for k, v in node.value:
            if k.tag == _MERGE:   # `<<: *base`: its keys, below the ones written here
                for src in (v.value if v.tag == _SEQ else [v]):
                    m = self.value(src, depth + 1)
                    for kk, vv in (m.items() if isinstance(m, dict) else [(Odd("a merge of a non-mapping"), m)]):
                        merged.setdefault(kk, vv)
                    h = max(h, self._height(src) - 1)
                continue
            key = self.value(k, depth + 1)
            if isinstance(key, (list, dict)):
                key = Odd("a mapping or list as a key")
            if key in out:
                self.dups.append((node, first[key], k))
            else:
                first[key] = k
            out[key] = self.value(v, depth + 1)
            h = max(h, self._height(v))
        for kk, vv in merged.items():
            out.setdefault(kk, vv)
        return h


def _node_path(root, target):
    """Where ``target`` (a mapping node) is, in the loader's notation
    (``interfaces[3] (veth1).peer``); found by a walk, only for a problem."""
    stack, seen = [(root, "")], set()
    while stack:
        node, path = stack.pop()
        if node is target:
            return path
        if id(node) in seen or not isinstance(node.value, list):
            continue
        seen.add(id(node))
        if node.tag == _MAP:
            for k, v in node.value:
                if isinstance(k.value, str):
                    stack.append((v, f"{path}.{label(k.value)}" if path else label(k.value)))
        else:
            for i, v in enumerate(node.value):
                name = next((n.value for kk, n in v.value if kk.value == "name" and isinstance(n.value, str))
                            if v.tag == _MAP else (), None)
                stack.append((v, f"{path}[{i}]" + (f" ({label(name)})" if name is not None else "")))
    return ""


def label(name):
    """A name from the file as part of a path: itself when it is short and
    plain, else quoted and cut."""
    from .fields import quote
    return name if len(name) <= 32 and name.isprintable() and name.strip() == name else quote(name, 40)


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
    doc = w.value(w.skip(0), 1, "")
    if w.skip(w.pos) != len(text):
        raise ValueError(f"extra data: {w.where(w.pos)}")
    return Read(doc, w.dups)


_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_LITERALS = {"true": True, "false": False, "null": None}


class _JsonWalk:
    """A JSON reader that knows where it is: lines for keys given twice,
    paths for them and for values nested too deep (built as ``Odd``).
    Recursion stops at MAX_DEPTH; deeper text is skipped by counting."""

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

    def value(self, pos, depth, path):
        t = self.text
        c = t[pos:pos + 1]
        if c == '"':
            s, self.pos = self.scanstring(t, pos + 1)
            return s
        if c in ("{", "[") and depth > MAX_DEPTH:
            self._skip_nested(pos)
            return Odd(f"a value nested more than {MAX_DEPTH} levels deep")
        if c == "{":
            return self._object(pos, depth, path)
        if c == "[":
            return self._array(pos, depth, path)
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

    def _object(self, pos, depth, path):
        out, lines = {}, {}
        pos = self.skip(pos + 1)
        if self.text[pos:pos + 1] == "}":
            self.pos = pos + 1
            return out
        while True:
            if self.text[pos:pos + 1] != '"':
                self.fail(pos, "expecting a key in double quotes")
            line = self.text.count("\n", 0, pos) + 1
            key, pos = self.scanstring(self.text, pos + 1)
            pos = self.skip(pos)
            if self.text[pos:pos + 1] != ":":
                self.fail(pos, "expecting ':'")
            sub = f"{path}.{label(key)}" if path else label(key)
            if key in out:
                self.dups.append((sub, f"given twice, at lines {lines[key]} and {line} (only the last would count)"))
            else:
                lines[key] = line
            out[key] = self.value(self.skip(pos + 1), depth + 1, sub)
            pos = self.skip(self.pos)
            c = self.text[pos:pos + 1]
            if c == "}":
                self.pos = pos + 1
                return out
            if c != ",":
                self.fail(pos, "expecting ',' or '}'")
            pos = self.skip(pos + 1)

    def _array(self, pos, depth, path):
        out = []
        pos = self.skip(pos + 1)
        if self.text[pos:pos + 1] == "]":
            self.pos = pos + 1
            return out
        while True:
            i = len(out)
            out.append(self.value(pos, depth + 1, f"{path}[{i}]"))
            if isinstance(out[-1], dict) and isinstance(out[-1].get("name"), str):
                self._name_item(path, i, out[-1]["name"])
            pos = self.skip(self.pos)
            c = self.text[pos:pos + 1]
            if c == "]":
                self.pos = pos + 1
                return out
            if c != ",":
                self.fail(pos, "expecting ',' or ']'")
            pos = self.skip(pos + 1)

    def _name_item(self, path, i, name):
        """Paths found inside item ``i`` (made before its name was known) get it."""
        bare = f"{path}[{i}]"
        named = f"{bare} ({label(name)})"
        self.dups = [(named + p[len(bare):] if p == bare or p.startswith(bare + ".") or p.startswith(bare + "[")
                      else p, m) for p, m in self.dups]

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
