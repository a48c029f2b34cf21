"""dummy: a device that drops what it is sent; a lower device for examples."""
from .base import Kind


class Dummy(Kind):
    name = kernel_kind = "dummy"
    doc = "a device that drops everything it is sent: an anchor for addresses, a lower device for tests"
    shape, colour = "box", "#f3f3f3"


KIND = Dummy()
