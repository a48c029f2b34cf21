"""The topology model and its loader: pure, no kernel."""
from .model import Topology, Interface, Endpoint, Ref, Route, Sysctl, HOST
from .loader import load, load_text, parse

__all__ = ["Topology", "Interface", "Endpoint", "Ref", "Route", "Sysctl", "HOST", "load", "load_text", "parse"]
