"""A small record base class. We avoid dataclasses on the start-up path: its
import (inspect, ast...) and per-class code generation cost about 20 ms,
a fifth of the import budget of `vnet plan`."""

_NO = object()


class Struct:
    """Declare ``_fields = (("name", default), ...)``; a default of ``list``
    or ``dict`` (the type itself) means a fresh empty one per instance."""
    _fields = ()

    def __init__(self, *args, **kw):
        names = [f for f, _ in self._fields]
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__}: too many arguments")
        for (f, d), v in zip(self._fields, list(args) + [_NO] * (len(names) - len(args))):
            if v is _NO:
                v = kw.pop(f, _NO)
            elif f in kw:
                raise TypeError(f"{type(self).__name__}: {f} given twice")
            if v is _NO:
                if d is _REQUIRED:
                    raise TypeError(f"{type(self).__name__}: missing {f}")
                v = d() if d in (list, dict) else d
            object.__setattr__(self, f, v)
        if kw:
            raise TypeError(f"{type(self).__name__}: unknown fields {sorted(kw)}")

    def _values(self):
        return tuple(getattr(self, f) for f, _ in self._fields)

    def __eq__(self, other):
        return type(self) is type(other) and self._values() == other._values()

    def __repr__(self):
        return f"{type(self).__name__}(" + ", ".join(f"{f}={getattr(self, f)!r}" for f, _ in self._fields) + ")"

    def replace(self, **kw):
        return type(self)(**{**{f: getattr(self, f) for f, _ in self._fields}, **kw})

    __hash__ = None


class _Required:
    def __repr__(self):
        return "REQUIRED"


_REQUIRED = REQUIRED = _Required()
