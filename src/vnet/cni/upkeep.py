"""The commands that look after a network rather than one attachment:
GC removes the attachments the runtime no longer has, STATUS says whether
ADDs can be served. Both pass the command on to the IPAM plugin, as the
spec asks of a plugin that delegates."""
from . import bridge, commands, ipam
from .errors import INVALID_CONFIG, IPAM_FAILED, LIMITED, NOT_AVAILABLE, CniError


def gc(env, conf, raw):
    """Remove every attachment of this network that is not one of
    ``cni.dev/valid-attachments``, then pass GC on to the IPAM plugin. An
    attachment's address is released first and its devices destroyed
    after: when IPAM fails, its record stays, and the next GC tries again.
    As the spec asks, an error does not stop GC: it removes all it can and
    reports every error at the end, in one error object (the first one's code)."""
    from .attachment import of_network
    env.require("CNI_PATH")
    commands.since(conf, "GC", "1.1.0")
    valid = conf.get("cni.dev/valid-attachments")
    if not isinstance(valid, list) or not all(isinstance(v, dict) for v in valid):
        raise CniError(INVALID_CONFIG, "network configuration: cni.dev/valid-attachments: expected a list of "
                                       "{containerID, ifname}")
    keep = {(v.get("containerID"), v.get("ifname")) for v in valid}
    errors = []
    for name, container, ifname in of_network(conf.get("name")):
        if (container, ifname) not in keep:
            _gathered(errors, f"attachment {container}/{ifname}", _collect, name, container, ifname, env, conf, raw)
    _gathered(errors, "", ipam.forward, "GC", raw, conf, env.raw)
    if errors:
        raise CniError(errors[0][1].code, f"GC of network {conf.get('name')!r}: {len(errors)} error(s): " +
                       "; ".join(f"{what}: {e.msg}" if what else e.msg for what, e in errors))


def _collect(name, container, ifname, env, conf, raw):
    """One stale attachment: its address released, then its devices destroyed."""
    ipam.run("DEL", raw, conf, {**env.raw, "CNI_CONTAINERID": container, "CNI_IFNAME": ifname, "CNI_NETNS": ""})
    commands.remove_attachment(name)


def _gathered(errors, what, fn, *args):
    """``fn(*args)``; its CniError appended to ``errors`` as (what, error)."""
    try:
        fn(*args)
    except CniError as e:
        errors.append((what, e))


def status(env, conf, raw):
    """Ready for ADDs: the master is there, and the IPAM plugin, asked
    STATUS in turn (the spec: a plugin relying on another asks it), says
    so; its error is ours (code 50 unless it said 51, limited)."""
    env.require("CNI_PATH")
    commands.since(conf, "STATUS", "1.1.0")
    master = conf.get("master")
    if isinstance(master, str) and not conf.get("linkInContainer"):
        if bridge.host_link(master) is None:
            raise CniError(NOT_AVAILABLE, f"master {master}: no such device on the host")
    try:
        ipam.forward("STATUS", raw, conf, env.raw)
    except CniError as e:
        if e.code != IPAM_FAILED:
            raise
        code = (getattr(e, "plugin_error", None) or {}).get("code")
        raise CniError(code if code in (NOT_AVAILABLE, LIMITED) else NOT_AVAILABLE, e.msg, e.details) from None
