"""A small record base class. We avoid dataclasses on the start-up path: its
import (inspect, ast...) and per-class code generation cost about 20 ms,
a fifth of the import budget of `vnet plan`."""


class Struct:
    """Declare ``_fields = (("name", default), ...)``; a default of ``list``
    or ``dict`` (the type itself) means a fresh empty one per instance."""
    _fields = ()

    def __init__(self, *args, **kw):
        spec = type(self).__dict__.get("_spec") or type(self)._make_spec()
        names, defaults = spec
        n = len(args)
        if n > len(names):
            raise TypeError(f"{type(self).__name__}: too many arguments")
        # straight into the instance dict: observing a big lab makes
        # thousands of these, and setattr per field was a fifth of it
        d = self.__dict__
        for f, v in zip(names, args):
            d[f] = v
        if kw:
            for f in names[:n]:
                if f in kw:
                    raise TypeError(f"{type(self).__name__}: {f} given twice")
        for f, dflt in zip(names[n:], defaults[n:]):
            if f in kw:
                d[f] = kw.pop(f)
            elif dflt is _REQUIRED:
                raise TypeError(f"{type(self).__name__}: missing {f}")
            else:
                d[f] = dflt() if dflt is list or dflt is dict else dflt
        if kw:
            raise TypeError(f"{type(self).__name__}: unknown fields {sorted(kw)}")

    @classmethod
    def _make_spec(cls):
        cls._spec = (tuple(f for f, _ in cls._fields), tuple(d for _, d in cls._fields))
        return cls._spec

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
