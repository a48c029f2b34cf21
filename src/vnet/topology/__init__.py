"""The typed topology model: pure, no kernel, below the kinds (the file is
read into it by ``vnet.topofile``)."""
from .model import Topology, Interface, Endpoint, Ref, Route, Sysctl, HOST

__all__ = ["Topology", "Interface", "Endpoint", "Ref", "Route", "Sysctl", "HOST"]
