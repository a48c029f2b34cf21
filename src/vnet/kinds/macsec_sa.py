"""MACsec secure associations: the SA fields of a topology file, their keys
(from the file, a key file, an environment variable or, in a CNI network
configuration, the keys the container runtime passes; held as ``Secret``s
that print as ``***``), and the SA as the kernel's `macsec` generic netlink
family and `ip macsec` take it."""
import os

from ..kernel import macsec as genl
from ..topology.fields import Int, Obj, Str
from ..topology.quote import quote

KEY_LEN = {"gcm-aes-128": 16, "gcm-aes-256": 32, "gcm-aes-xpn-128": 16, "gcm-aes-xpn-256": 32}
HEX = r"([0-9a-fA-F]{2})+"


class Secret:
    """Key bytes that print as ``***``: plans, shows, exports and logs
    never see them. ``source`` says where they came from (for scripts)."""
    __slots__ = ("value", "source")

    def __init__(self, value, source=None):
        self.value, self.source = value, source

    def __repr__(self):
        return "***"

    __str__ = __repr__

    def __eq__(self, other):
        return isinstance(other, Secret) and other.value == self.value

    __hash__ = None


MASKED = Secret(None)   # a key the kernel holds but never reports

_SA = {
    "an": Int("association number (0-3); a new key takes a new AN", lo=0, hi=3, required=True),
    "pn": Int("first packet number", lo=1, hi=2**64 - 1, default=1),
    "key_id": Str("key identifier, hex (up to 16 bytes)", pattern=r"([0-9a-fA-F]{2}){1,16}",
                  explain="hex, 1-16 bytes", required=True),
    "key": Str("the key, hex (16 bytes for the 128-bit ciphers, 32 for 256), in quotes",
               pattern=HEX + r"|\*\*\*", explain="hex digits", strict=True),
    "key_file": Str("a file holding the key in hex (relative to the topology file)"),
    "key_env": Str("an environment variable holding the key in hex"),
    "key_runtime": Str("CNI: the name of a key the container runtime passes (runtimeConfig.macsecKeys)"),
    "ssci": Int("XPN ciphers: short secure channel identifier", lo=0, hi=2**32 - 1),
    "salt": Str("XPN ciphers: 12-byte salt, hex", pattern=r"[0-9a-fA-F]{24}", explain="24 hex digits"),
}
SA = Obj(_SA, "a secure association")


def check_sa(sa, p, cipher, xpn, base, problems):
    """One SA of the file: exactly one key source, read (a key file, an
    environment variable, a key the caller passed by name: ``problems.secrets``)
    and checked against the cipher; the key then
    held as a ``Secret`` under ``key``, its source kept for `vnet script`."""
    named = problems.secrets
    given = [k for k in SOURCES if sa.get(k) is not None]
    if len(given) != 1:
        ways = "key, key_file, key_env or key_runtime" if named else "key, key_file or key_env"
        problems.add(p, f"give the key as exactly one of {ways}" if given else f"no key: give {ways}")
        return
    src, text = given[0], sa[given[0]]
    if src == "key_runtime":
        text = _passed_key(text, named, f"{p}.key_runtime", problems)
        if text is None:
            return
    if src == "key" and text == "***":
        problems.add(f"{p}.key", "a masked key (from `vnet export`): the kernel never reveals keys, "
                                 "give the key, key_file or key_env")
        return
    if src in ("key_file", "key_env"):
        problems.read_outside()
    if src == "key_file":
        fn = text if os.path.isabs(text) else os.path.join(base, text)
        try:
            with open(fn) as f:
                text = f.read().strip()
        except OSError as e:
            where = "" if os.path.isabs(text) else " (relative to the topology file)"
            problems.add(f"{p}.key_file", f"cannot read {text}{where}: {e.strerror}")
            return
    elif src == "key_env":
        if text not in os.environ:
            problems.add(f"{p}.key_env", f"the environment variable {text} is not set")
            return
        text = os.environ[text].strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        where = f"{named.where}[{quote(sa[src])}]" if src == "key_runtime" else sa[src]
        problems.add(f"{p}.{src}", "the key is not hex" + (f" (in {where})" if src != "key" else ""))
        return
    if len(key) != KEY_LEN[cipher]:
        problems.add(f"{p}.{src}", f"{cipher} takes a {KEY_LEN[cipher]}-byte key, this one has {len(key)} bytes")
        return
    if xpn and (sa.get("ssci") is None or sa.get("salt") is None):
        problems.add(p, f"{cipher} needs ssci and salt")
    if not xpn and (sa.get("ssci") is not None or sa.get("salt") is not None):
        problems.add(p, "ssci and salt are for the XPN ciphers only")
    if not xpn and sa.get("pn", 1) >= 2**32:
        problems.add(f"{p}.pn", "a packet number above 2^32-1 needs an XPN cipher")
    shown = os.path.relpath(fn) if src == "key_file" else sa[src]
    sa["key"] = Secret(key, None if src == "key" else f"{src} {shown}")
    for k in SOURCES[1:]:
        sa.pop(k, None)


SOURCES = ("key", "key_file", "key_env", "key_runtime")


def _passed_key(name, named, path, problems):
    """The text of the key the caller passed as ``name`` (None: said why not)."""
    if named is None:
        problems.add(path, "a key the container runtime passes: only in a CNI network configuration (from "
                           "runtimeConfig.macsecKeys); a topology file gives key, key_file or key_env")
        return None
    if name not in named.values:
        problems.add(path, f"no key named {quote(name)} in {named.where}{named.hint}")
        return None
    return named.values[name].strip()


def _kid(key_id):
    """A key id as the kernel holds it: 16 bytes, zero-padded, in hex."""
    return bytes.fromhex(key_id).ljust(genl.KEYID_LEN, b"\0").hex()


def _sa_args(sa, xpn):
    if not isinstance(sa.get("key"), Secret) or sa["key"].value is None:
        raise ValueError(f"SA {sa['an']} (key id {sa['key_id']}): no key to install")
    return dict(pn=sa.get("pn") or 1, key=sa["key"].value, key_id=bytes.fromhex(_kid(sa["key_id"])), xpn=xpn,
                ssci=sa.get("ssci"), salt=bytes.fromhex(sa["salt"]) if sa.get("salt") else None)


def _sa_words(sa):
    key = sa["key"]
    shown = {"key_file": lambda s: f'"$(cat {s})"', "key_env": lambda s: f'"${s}"'}
    words = [sa["an"], "pn", sa.get("pn") or 1, "on"]
    if sa.get("ssci") is not None:
        words += ["ssci", sa["ssci"], "salt", sa["salt"]]
    src = getattr(key, "source", None)
    kind, _, where = (src or "").partition(" ")
    return words + ["key", sa["key_id"], shown[kind](where) if kind in shown else "***"]
