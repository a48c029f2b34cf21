"""dummy: a device that drops what it is sent; a lower device for examples."""
from .base import Kind


class Dummy(Kind):
    name = kernel_kind = "dummy"
    arp = multicast = False   # dummy.c: no ARP, no multicast
    doc = "a device that drops everything it is sent: an anchor for addresses, a lower device for tests"
    options_doc = 'none'   # README.md's kinds table
    example = "fig16-ipvlan-l2.yaml"
    sample = """\
    - {name: dummy1, kind: dummy, master: bond0}
    - {name: dummy2, kind: dummy, master: bond0}
"""   # tests/golden/script/all-kinds.yaml
    shape, colour = "box", "#f3f3f3"


KIND = Dummy()
