"""A small record base class. We avoid dataclasses on the start-up path: its
import (inspect, ast...) and per-class code generation cost about 20 ms,
a fifth of the import budget of `vnet plan`."""


class Struct:
    """Declare ``_fields = (("name", default), ...)``; a default of ``list``
    or ``dict`` (the type itself) means a fresh empty one per instance."""
    _fields = ()

    def __init__(self, *args, **kw):
        spec = type(self).__dict__.get("_spec") or type(self)._make_spec()
        names, index, plain, fresh, required = spec
        n = len(args)
        if n > len(names):
            raise TypeError(f"{type(self).__name__}: too many arguments")
        # straight into the instance dict, the defaults first in one update:
        # observing a big lab makes thousands of these
        d = self.__dict__
        d.update(plain)
        for f, make in fresh:
            d[f] = make()
        d.update(zip(names, args))
        if kw:
            for f in kw:
                if index.get(f, n) < n:
                    raise TypeError(f"{type(self).__name__}: {f} given twice")
            for i, f in required:
                if i >= n and f not in kw:
                    raise TypeError(f"{type(self).__name__}: missing {f}")
            unknown = [f for f in kw if f not in index]
            if unknown:
                raise TypeError(f"{type(self).__name__}: unknown fields {sorted(unknown)}")
            d.update(kw)
        else:
            for i, f in required:
                if i >= n:
                    raise TypeError(f"{type(self).__name__}: missing {f}")

    @classmethod
    def _make_spec(cls):
        names = tuple(f for f, _ in cls._fields)
        cls._spec = (names, {f: i for i, f in enumerate(names)},
                     {f: d for f, d in cls._fields if d is not _REQUIRED and d is not list and d is not dict},
                     tuple((f, d) for f, d in cls._fields if d is list or d is dict),
                     tuple((i, f) for i, (f, d) in enumerate(cls._fields) if d is _REQUIRED))
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
