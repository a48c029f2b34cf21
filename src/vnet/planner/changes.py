"""A plan's changes, and values as the topology file writes them."""
from ..topology.model import Ref, where
from ..topology.struct import REQUIRED, Struct


class Change(Struct):
    """action: create | modify | recreate | delete; object: what, e.g.
    "link net1/eth0"; reason: why; op: what apply runs."""
    _fields = (("action", REQUIRED), ("object", REQUIRED), ("reason", REQUIRED), ("op", ()))

    def as_dict(self):
        return {"action": self.action, "object": self.object, "reason": self.reason}

    def __str__(self):
        return f"{self.action} {self.object}: {self.reason}"


class Plan(Struct):
    # late_signal: a SIGINT/SIGTERM that came once the apply was verified
    _fields = (("topology", REQUIRED), ("state", REQUIRED), ("record", REQUIRED), ("changes", list),
               ("late_signal", None))

    def __bool__(self):
        return bool(self.changes)

    def as_dict(self):
        return {"topology": self.topology.name, "changes": [c.as_dict() for c in self.changes]}


def _show(v):
    """A value as the topology file writes it: ``true``, ``none``, ``[a, b]``,
    ``{an: 1}`` (never a Python repr: a plan is read beside the file)."""
    if isinstance(v, tuple) and len(v) == 2:
        return where(*v)
    if isinstance(v, Ref):
        return v.name
    if v is None:
        return "none"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_show(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_show(x)}" for k, x in v.items()) + "}"
    return str(v)
