"""The spec's error codes, and vnet's own (100 and up). The error object
goes to stdout, where libcni reads it; stderr is for logs."""

INCOMPATIBLE_VERSION = 1     # the configuration's cniVersion is not one vnet speaks
UNSUPPORTED_FIELD = 2        # a field vnet knows but cannot do (named, with its value)
UNKNOWN_CONTAINER = 3        # the container does not exist
INVALID_ENV = 4              # an environment variable missing or malformed (named)
IO_FAILURE = 5               # reading stdin
DECODE_FAILURE = 6           # stdin is not a JSON object
INVALID_CONFIG = 7           # the configuration is invalid: file, object, field and why
TRY_AGAIN = 11               # a lock held too long by another call; try again
NOT_AVAILABLE = 50           # STATUS: the plugin cannot serve ADDs now
LIMITED = 51                 # STATUS: ADDs would give limited connectivity

# vnet's own
KERNEL_REFUSED = 100         # the kernel refused a change; everything made was undone
DRIFT = 101                  # CHECK: the container's interfaces differ from what ADD made
IPAM_FAILED = 102            # the IPAM plugin failed (its own error in the message)
NOT_OWNED = 103              # the host conflicts: a device in the way not this attachment's, a bridge
                             # someone else made lacking what the configuration needs
STATE = 104                  # vnet's record of the attachment cannot be read or written
INTERNAL = 999               # a fault in vnet itself

CODES = {c: n for n, c in globals().items() if n.isupper() and isinstance(c, int)}


class CniError(Exception):
    def __init__(self, code, msg, details=""):
        super().__init__(msg)
        self.code, self.msg, self.details = code, msg, details

    def body(self, version):
        out = {"cniVersion": version, "code": self.code, "msg": self.msg}
        if self.details:
            out["details"] = self.details
        return out
