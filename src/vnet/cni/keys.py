"""The MACsec keys a container runtime passes: a configuration that
declares ``"capabilities": {"macsecKeys": true}`` is given
``"runtimeConfig": {"macsecKeys": {name: key in hex}}`` (the conventions'
capabilities: the same name in both), and an SA names its key by
``key_runtime``. The keys go to the topology loader by name only
(topology.secrets): never into a document, a record, a message, or the
IPAM plugin's stdin."""
import json

from .errors import INVALID_CONFIG, CniError

CAPABILITY = "macsecKeys"
WHERE = f"runtimeConfig.{CAPABILITY}"


def _get(obj, key):
    """``obj[key]`` matched without regard to case, as a Go plugin's decoder does."""
    if not isinstance(obj, dict):
        return None
    return next((v for k, v in obj.items() if isinstance(k, str) and k.lower() == key.lower()), None)


def passed(conf):
    """The keys the runtime passed (a topology.secrets.Named), checked for
    shape (a message names the key, never its value)."""
    from ..topology.secrets import Named
    keys = _get(conf.get("runtimeConfig"), CAPABILITY)
    if keys is None:
        keys = {}
    if not isinstance(keys, dict):
        raise CniError(INVALID_CONFIG, f"network configuration: {WHERE}: expected an object, key name -> the key "
                                       "in hex")
    for name, value in keys.items():
        if not isinstance(value, str):
            raise CniError(INVALID_CONFIG, f"network configuration: {WHERE}[{json.dumps(name)}]: expected the key "
                                           f"in hex, in a string (not a {type(value).__name__})")
    hint = "" if _get(conf.get("capabilities"), CAPABILITY) is True else (
        f' (the configuration does not declare "capabilities": {{"{CAPABILITY}": true}}: a runtime passes '
        f'{WHERE} only to a plugin that does)')
    return Named(dict(keys), WHERE, hint)


def without(raw, conf):
    """The configuration's bytes for another plugin (IPAM): without the keys."""
    rc = conf.get("runtimeConfig")
    if _get(rc, CAPABILITY) is None:
        return raw
    out = json.loads(raw)
    for k in [k for k in out if k.lower() == "runtimeconfig"]:
        out[k] = {a: b for a, b in out[k].items() if a.lower() != CAPABILITY.lower()}
    return json.dumps(out).encode()
