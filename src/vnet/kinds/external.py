"""An existing device vnet does not own: it may be referenced, never created,
changed or deleted."""
from .base import Kind


class External(Kind):
    name = "external"
    doc = "a device that exists already and is not vnet's: referenced, never created, changed or deleted"
    options_doc = 'none: an existing device, only referenced'   # README.md's kinds table
    example = "fig4-net-failover.yaml"
    sample = """\
    - {name: eth0, kind: external}
    - {name: eth1, kind: external}
    - {name: eth2, kind: external}
"""   # tests/golden/script/all-kinds.yaml
    shape, colour = "house", "#ffffff"
    creatable = False
    is_master = True
    link_layer = None   # not in the file

    def layer(self, endpoint):
        return "loopback" if endpoint.name == "lo" else None   # every namespace's lo, and only it

    def in_new_namespace(self, endpoint):
        return endpoint.name == "lo"

    def matches(self, link):
        return False


KIND = External()
