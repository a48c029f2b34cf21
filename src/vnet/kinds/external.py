"""An existing device vnet does not own: it may be referenced, never created,
changed or deleted."""
from .base import Kind


class External(Kind):
    name = "external"
    doc = "a device that exists already and is not vnet's: referenced, never created, changed or deleted"
    creatable = False
    is_master = True

    def matches(self, link):
        return False


KIND = External()
KIND.shape, KIND.colour = "house", "#ffffff"
