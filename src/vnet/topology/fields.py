"""Declarative field types: one declaration gives validation (with every
problem collected and a path for each) and the JSON Schema.

We use this instead of pydantic: defining ~20 pydantic models costs tens of
milliseconds at import, against a no-op budget measured in milliseconds, and
its error texts cannot name the object the way ours must
("lab.yaml: interfaces[3] (veth1).peer.netns: ...")."""
from .model import Ref
from .problems import _MISSING, MAX_MESSAGE, MAX_PROBLEMS, MISSING, Invalid, Problems, _close  # noqa: F401
from .quote import cut, label, quote  # noqa: F401 (cut: the loader uses it as F.cut)
from .scalars import (CIDR, IFNAME_EXPLAIN, IFNAME_RE, IFNAMSIZ, IP, JOINED_RE, MAC, MAC_RE, NSNAME_RE, ZERO_MAC,  # noqa: F401
                      Alias, AltName, Bool, Enum, Field, IfName, Int, Mark, NsName, Prefix, Scalar, Str, Table, unusable)

# The field types are one namespace, ``fields`` (kinds and the loader use
# ``F.Int``, ``F.Obj``...): the scalar types live in ``scalars``, the
# problems in ``problems``, the composite types and the walk here.


class ListOf(Field):
    def __init__(self, item, doc="", **kw):
        kw.setdefault("default", [])
        super().__init__(doc, **kw)
        self.item = item

    def parse(self, v):
        raise AssertionError("lists are walked by validate()")

    def schema(self):
        return {"type": "array", "items": self.item.schema(), **super().schema()}


class Obj(Field):
    """A mapping with declared fields; unknown keys are errors (``words``:
    {another tool's word: the field}, named in the error of that word)."""

    def __init__(self, fields, doc="", title=None, words=None, **kw):
        super().__init__(doc, **kw)
        self.fields = fields
        self.title = title
        self.words = words or {}

    def schema(self):
        s = {"type": "object", "properties": {k: f.schema() for k, f in self.fields.items()},
             "additionalProperties": False, **super().schema()}
        req = [k for k, f in self.fields.items() if f.required]
        if req:
            s["required"] = req
        if self.title:
            s["title"] = self.title
        return s


class RefField(Field):
    """A reference to a device: a name in the referrer's own namespace, or
    {name, netns} where a missing netns means the namespace vnet runs in."""

    def schema(self):
        return {"description": self.doc, "oneOf": [
            {"type": "string", "pattern": f"^{IFNAME_RE}$"},
            {"type": "object", "properties": {"name": {"type": "string", "pattern": f"^{IFNAME_RE}$"},
                                              "netns": {"type": "string"}},
             "required": ["name"], "additionalProperties": False}]}


def validate(field, value, path, problems):
    """Validate ``value`` against ``field``; record problems under ``path``.
    Returns the normalized value, or _MISSING when it is invalid."""
    if isinstance(field, Obj):
        return _validate_obj(field, value, path, problems)
    if isinstance(field, ListOf):
        return _validate_list(field, value, path, problems)
    if isinstance(field, RefField):
        return _validate_ref(value, path, problems)
    if value is None and not field.required:
        return None if field.default is _MISSING else field.default
    try:
        return field.parse(value)
    except Invalid as e:
        problems.add(path, str(e))
        return _MISSING


def _validate_obj(field, value, path, problems):
    """A mapping: every unknown key a problem, every declared field walked
    (or required, or given its default)."""
    if not isinstance(value, dict):
        problems.add(path, f"expected a mapping, got {type(value).__name__} {_short(value)}")
        return _MISSING
    out = {}
    for k in value:
        if k not in field.fields:
            said = f" (the file's word for it is {field.words[k]!r})" if k in field.words else ""
            problems.add(_join(path, _key(k)), f"unknown field{said or _close(k, field.fields)}")
    for k, f in field.fields.items():
        if k in value:
            v = validate(f, value[k], _join(path, k), problems)
            if v is not _MISSING:
                out[k] = v
        elif f.required:
            problems.add(_join(path, k), "is required")
        elif f.default is not _MISSING:
            out[k] = list(f.default) if isinstance(f.default, list) else f.default
    return out


def _validate_list(field, value, path, problems):
    """A list (null: an empty one), each item walked with its index in the path."""
    if value is None:
        return []
    if not isinstance(value, list):
        problems.add(path, f"expected a list, got {_short(value)}")
        return _MISSING
    out = []
    for i, v in enumerate(value):
        if v is None:
            problems.add(f"{path}[{i}]", "is empty (null)")
            continue
        r = validate(field.item, v, f"{path}[{i}]", problems)
        if r is not _MISSING:
            out.append(r)
    return out


def _validate_ref(value, path, problems):
    """A device: a name (in the referrer's namespace) or {name, netns}."""
    if isinstance(value, str):
        try:
            return Ref(IfName().parse(value), None, explicit=False)
        except Invalid as e:
            problems.add(path, str(e))
            return _MISSING
    if isinstance(value, dict):
        before = len(problems.items)
        o = validate(Obj({"name": IfName(required=True), "netns": NsName()}), value, path, problems)
        if o is _MISSING or len(problems.items) > before:   # not a reference to some other device
            return _MISSING
        return Ref(o["name"], o.get("netns"), explicit=True)
    problems.add(path, f"expected a device name or {{name, netns}}, got {_short(value)}")
    return _MISSING


def _key(k):
    """A key from the file in a path: as written if short and plain."""
    return label(k) if isinstance(k, str) else quote(k, 40)


def _join(path, key):
    return f"{path}.{key}" if path else key


def _short(v):
    """A value shown where a short mention is enough (what was found instead of a list)."""
    return quote(v, 40)

