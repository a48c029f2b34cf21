"""The typed topology model. Namespaces are named by string; ``HOST`` (None)
is the namespace vnet runs in."""
from dataclasses import dataclass, field

HOST = None


def ns_label(ns):
    return "host" if ns is HOST else ns


def where(ns, name):
    """How a device is named in messages: ``name`` or ``ns/name``."""
    return name if ns is HOST else f"{ns}/{name}"


@dataclass(frozen=True)
class Ref:
    """A reference to a device; ``explicit`` when written as {name, netns}."""
    name: str
    netns: str | None = None
    explicit: bool = False

    def resolve(self, own_ns):
        """(namespace, name) of the referenced device, for a referrer in ``own_ns``."""
        return (self.netns if self.explicit else own_ns, self.name)


@dataclass
class Endpoint:
    """A device's common fields (an interface, or the peer end of a pair)."""
    name: str
    netns: str | None = HOST
    up: bool = True
    mtu: int | None = None
    mac: str | None = None
    master: Ref | None = None
    addresses: list = field(default_factory=list)

    @property
    def key(self):
        return (self.netns, self.name)

    @property
    def label(self):
        return where(self.netns, self.name)

    def master_key(self):
        return self.master.resolve(self.netns) if self.master else None


@dataclass
class Interface(Endpoint):
    kind: str = ""
    options: dict = field(default_factory=dict)
    peer: Endpoint | None = None
    path: str = ""          # where it was declared, e.g. "interfaces[3] (veth1)"

    @property
    def kind_module(self):
        from ..kinds import get
        return get(self.kind)

    def endpoints(self):
        return [self] + ([self.peer] if self.peer else [])

    def refs(self):
        """(field, Ref) of every device this interface depends on."""
        out = [("master", self.master)] if self.master else []
        out += [(k, v) for k, v in self.options.items() if isinstance(v, Ref)]
        if self.peer and self.peer.master:
            out.append(("peer.master", self.peer.master))
        return out


@dataclass
class Route:
    to: object              # ip_network; 0.0.0.0/0 or ::/0 for default
    netns: str | None = HOST
    via: object = None
    dev: str | None = None
    metric: int = 0
    path: str = ""

    @property
    def key(self):
        return (self.netns, str(self.to), str(self.via) if self.via else None, self.dev, self.metric)

    @property
    def label(self):
        s = f"route {'default' if self.to.prefixlen == 0 else self.to}"
        if self.via:
            s += f" via {self.via}"
        if self.dev:
            s += f" dev {self.dev}"
        return s + ("" if self.netns is HOST else f" in {self.netns}")


@dataclass
class Sysctl:
    key: str
    value: str
    netns: str | None = HOST
    path: str = ""

    @property
    def label(self):
        return f"sysctl {self.key}" + ("" if self.netns is HOST else f" in {self.netns}")


@dataclass
class Topology:
    name: str
    namespaces: list = field(default_factory=list)
    interfaces: list = field(default_factory=list)
    routes: list = field(default_factory=list)
    sysctls: list = field(default_factory=list)
    source: str = "<topology>"

    def by_key(self):
        """Every declared device endpoint by (namespace, name)."""
        out = {}
        for i in self.interfaces:
            for e in i.endpoints():
                out[e.key] = (i, e)
        return out

    def all_namespaces(self):
        return [HOST] + list(self.namespaces)
