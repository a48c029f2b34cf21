"""The CNI commands, each on vnet's model, planner, applier and records:
ADD applies the attachment's topology (its addresses from IPAM), DEL
destroys it from its record, CHECK plans it against the live state (any
change is drift); GC and STATUS, which look after a network rather than
an attachment, are upkeep.py's."""
import os
import re

from . import bridge, config, ipam, netfilter, result, versions
from .attachment import attachment_name, source
from .errors import (DRIFT, INCOMPATIBLE_VERSION, INVALID_CONFIG, INVALID_ENV, KERNEL_REFUSED, NOT_OWNED, STATE,
                     TRY_AGAIN, UNKNOWN_CONTAINER, CniError)

LOCK_TIMEOUT = 30.0   # then: try again later (code 11)
# the spec's container id (libcni's ValidateContainerID): an attachment's record names it
CONTAINER_ID = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.\-]*")


class Env:
    """The spec's environment variables of one call."""

    def __init__(self, environ):
        self.raw = environ
        self.container = environ.get("CNI_CONTAINERID", "")
        self.netns = environ.get("CNI_NETNS", "")
        self.ifname = environ.get("CNI_IFNAME", "")
        self.path = environ.get("CNI_PATH", "")

    def require(self, *names):
        """The variables ``names`` set (every one missing named at once, as
        libcni's skel does) and well formed: the container id in the spec's
        characters, the netns an absolute path, the ifname one the kernel takes."""
        missing = [n for n in names if not self.raw.get(n)]
        if missing:
            raise CniError(INVALID_ENV, f"required env variables [{','.join(missing)}] missing for "
                                        f"CNI_COMMAND={self.raw.get('CNI_COMMAND')}", ",".join(missing))
        if "CNI_CONTAINERID" in names and not CONTAINER_ID.fullmatch(self.container):
            raise CniError(INVALID_ENV, "invalid characters in containerID (CNI_CONTAINERID: a letter or digit, "
                                        "then letters, digits, '_', '.', '-')", self.container)
        if "CNI_NETNS" in names and not self.netns.startswith("/"):
            raise CniError(INVALID_ENV, f"CNI_NETNS={self.netns!r}: expected the absolute path of a network "
                                        "namespace", "CNI_NETNS")
        if "CNI_IFNAME" in names:
            from ..topology.scalars import IFNAME_RE
            if not re.fullmatch(IFNAME_RE, self.ifname) or self.ifname in (".", ".."):
                raise CniError(INVALID_ENV, f"CNI_IFNAME={self.ifname!r}: not an interface name (1-15 characters, "
                                            "no '/', ':' or whitespace)", "CNI_IFNAME")

    def args(self):
        """CNI_ARGS ("K=V;K2=V2") as a dict. Keys vnet does not read are no
        error, with or without IgnoreUnknown: CNI_ARGS goes on to the IPAM
        plugin as it is (host-local reads IP=), which says what it refuses."""
        pairs = (kv.split("=", 1) for kv in self.raw.get("CNI_ARGS", "").split(";") if "=" in kv)
        return dict(pairs)


def since(conf, command, first):
    """The spec's error 1 for ``command`` asked in a configuration version
    before the one that has it (CHECK from 0.4.0, GC and STATUS from 1.1.0)."""
    if not versions.at_least(conf["cniVersion"], first):
        raise CniError(INCOMPATIBLE_VERSION, f"config version does not allow {command}: {command} is not part of "
                                             f"CNI {conf['cniVersion']} (from {first} on)")


def _topology(net, doc, env):
    """The attachment's Topology, validated by the topology loader; its
    problems are an invalid configuration (code 7) in the loader's words."""
    from ..errors import SpecError
    from ..topofile.loader import parse
    label = f"network {net.conf.get('name')!r}"
    try:
        topo = parse(doc, label, secrets=net.secrets)
    except SpecError as e:
        raise CniError(INVALID_CONFIG, _in_config_words(str(e), net, env)) from None
    topo.source = source(net.conf.get("name"), env.container, env.ifname)
    return topo


def _in_config_words(msg, net, env):
    """A loader message about the one-interface form, in the keys the
    configuration wrote (``vlanId``, not ``interfaces[1] (eth0).id``)."""
    if "interfaces" in net.conf:
        return msg.replace(env.netns, "container")
    prefix = f"interfaces[{len(net.doc['interfaces']) - 1}] ({env.ifname})."
    for opt, key in net.renamed.items():
        msg = msg.replace(prefix + opt + ":", key + ":")
    return msg.replace(prefix, "")


def _kernel():
    from ..kernel.session import Kernel
    return Kernel()


def _container_there(env, k=None):
    """The container's namespace exists, else code 3 (unknown container)."""
    if k is None:
        with _kernel() as k:
            return _container_there(env, k)
    if not k.has(env.netns):
        raise CniError(UNKNOWN_CONTAINER, f"CNI_NETNS={env.netns}: no network namespace there")


def _free_in_container(env):
    """The container's namespace exists and has no CNI_IFNAME yet (checked
    before IPAM reserves anything)."""
    from ..kernel import rtnl
    with _kernel() as k:
        _container_there(env, k)
        if rtnl.get_link(k.sock(env.netns), env.ifname) is not None:
            raise CniError(NOT_OWNED, f"{env.ifname} exists already in the container ({env.netns})")


def _errors_as_cni(fn, *args):
    """``fn(*args)``, vnet's errors as the spec's error object."""
    from ..errors import Busy, KernelError, PlanError, SpecError, StateError, VerifyError, VnetError
    try:
        return fn(*args)
    except SpecError as e:
        raise CniError(INVALID_CONFIG, str(e)) from None
    except PlanError as e:
        raise CniError(NOT_OWNED, str(e)) from None
    except Busy as e:
        raise CniError(TRY_AGAIN, str(e)) from None
    except StateError as e:
        raise CniError(STATE, str(e)) from None
    except (KernelError, VerifyError) as e:
        raise CniError(KERNEL_REFUSED, str(e)) from None
    except VnetError as e:
        raise CniError(KERNEL_REFUSED, str(e)) from None


def add(env, conf, raw):
    env.require("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH")
    net = config.read(conf, env)
    _topology(net, net.doc, env)   # every problem of the configuration, before anything is reserved
    _free_in_container(env)
    got = ipam.run("ADD", raw, conf, env.raw)
    got = versions.normalized(got) if got else {}
    try:
        doc = _addressed(net, got, env)
        topo = _topology(net, doc, env)
        if net.bridge:
            _errors_as_cni(bridge.ensure, net, got, LOCK_TIMEOUT)
        from ..api import apply
        p, _ = _errors_as_cni(apply, topo, None, LOCK_TIMEOUT)
        if netfilter.wanted(net):
            _host_rules(net, topo, p.after, got, env)
    except BaseException:
        try:
            if got:
                ipam.run("DEL", raw, conf, env.raw)
        finally:
            _drop_unused_locks(net)
        raise
    return result.merged(conf.get("prevResult"), result.of_add(net, topo, p.after, got, env))


def _host_rules(net, topo, state, got, env):
    """The attachment's rules outside its topology (netfilter.py); if they
    cannot be made, the attachment goes again."""
    try:
        netfilter.add(net, topo.name, state, got, env)
    except BaseException:
        remove_attachment(topo.name)
        raise


def _container_iface(doc, env):
    return next(i for i in doc["interfaces"] if i.get("netns") == env.netns and i.get("name") == env.ifname)


def _addressed(net, got, env):
    """The attachment's document with IPAM's addresses on the container's
    interface and its routes in the container (the default route through
    the gateway too, for isDefaultGateway)."""
    import copy
    doc = copy.deepcopy(net.doc)
    it = _container_iface(doc, env)
    it.setdefault("addresses", [])
    mac = _mac(net.conf, env)
    if mac:
        it["mac"] = mac
    it["addresses"] = it["addresses"] + [ip["address"] for ip in got.get("ips", [])]
    gws = {ipam.family(ip["gateway"]): ip["gateway"] for ip in got.get("ips", []) if ip.get("gateway")}
    routes = [_route(r, gws, env) for r in got.get("routes") or []]
    if net.default_route:
        have = {r["to"] for r in routes}
        routes += [{"to": "default", "via": gw, "dev": env.ifname, "netns": env.netns} for fam, gw in gws.items()
                   if ("0.0.0.0/0" if fam == 4 else "::/0") not in have and "default" not in have]
    if routes:
        doc["routes"] = routes
    sysctls = _container_sysctls(net, got, env)
    if sysctls:
        doc["sysctls"] = sysctls
    return doc


def _mac(conf, env):
    """The MAC the runtime asks for the container's interface, in the
    reference bridge plugin's order: runtimeConfig.mac, args.cni.mac,
    then MAC= of CNI_ARGS (None: the configuration's own ``mac``, if any)."""
    rc, args = conf.get("runtimeConfig"), conf.get("args")
    cni = args.get("cni") if isinstance(args, dict) else None
    for v in (rc.get("mac") if isinstance(rc, dict) else None, cni.get("mac") if isinstance(cni, dict) else None,
              env.args().get("MAC")):
        if isinstance(v, str) and v:
            return v
    return None


def _container_sysctls(net, got, env):
    """What the reference plugins set on the container's interface when
    IPAM gives it addresses: arp_notify (a gratuitous ARP as it comes up,
    so that neighbours forget the MAC an earlier holder of the address
    had); for a bridge's veth also IPv6 duplicate address detection off,
    unless ``enabledad`` (the address is usable at once). None for an
    interface whose name has a dot, which a sysctl key cannot name."""
    if not got.get("ips") or "." in env.ifname:
        return []
    out = [{"netns": env.netns, "key": f"net.ipv4.conf.{env.ifname}.arp_notify", "value": 1}]
    if net.bridge and not net.conf.get("enabledad") and os.path.isdir("/proc/sys/net/ipv6"):
        out.append({"netns": env.netns, "key": f"net.ipv6.conf.{env.ifname}.accept_dad", "value": 0})
    return out


def _route(r, gws, env):
    """A result's route, in the container, out of its interface: through
    its own gateway, or the default gateway of its family, else on-link."""
    out = {"to": r.get("dst"), "dev": env.ifname, "netns": env.netns}
    via = r.get("gw") or gws.get(ipam.family(str(r.get("dst", ""))))
    if via:
        out["via"] = via
    if r.get("priority"):
        out["metric"] = r["priority"]
    if r.get("table"):
        out["table"] = r["table"]
    return out


def delete(env, conf, raw):
    """Remove what the attachment made (from its record: nothing of the
    configuration needs to hold, nor the namespace or the master to be
    there), then release IPAM's reservation. Done already is done."""
    env.require("CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH")
    release = ipam.start("DEL", raw, conf, env.raw)   # the address released while the devices go
    try:
        remove_attachment(attachment_name(conf.get("name"), env.container, env.ifname))
    finally:
        if release:
            release.result()


def remove_attachment(name):
    """Attachment ``name`` destroyed from its record (with its lock file);
    without a record, a lock file an earlier call left goes."""
    from ..api import destroy
    from ..ownership import Record, drop_unused_lock
    if Record(name).exists():
        _errors_as_cni(destroy, name, LOCK_TIMEOUT)
    else:
        drop_unused_lock(name)
    netfilter.remove(name)   # its rules outside the topology, when it has a record of them


def _drop_unused_locks(net):
    """After a failed ADD, undone: the lock files of the attachment's
    topology and of the bridge's, when neither has a record (a failed ADD
    leaves nothing behind; a pod that fails again and again piles up none)."""
    from ..ownership import drop_unused_lock
    drop_unused_lock(net.doc["name"])
    if net.bridge:
        drop_unused_lock(config.bridge_doc(net)["name"])


def check(env, conf, raw):
    """The live devices, addresses and routes of the attachment as ADD made
    them (prevResult's addresses): any difference is drift, code 101, named."""
    env.require("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH")
    since(conf, "CHECK", "0.4.0")
    prev = conf.get("prevResult")
    if not isinstance(prev, dict):
        raise CniError(INVALID_CONFIG, "network configuration: prevResult: CHECK needs the result of ADD")
    from ..ownership import Record
    net = config.read(conf, env)
    if not Record.load(net.doc["name"]).exists():
        raise CniError(DRIFT, f"{env.ifname} in {env.netns}: vnet has no record of this attachment (never added, "
                              "or deleted)")
    _container_there(env)
    got = _ours(versions.normalized(prev), env)
    topo = _topology(net, _addressed(net, got, env), env)
    from ..api import plan
    try:
        p = _errors_as_cni(plan, topo)
    except CniError as e:
        if e.code != NOT_OWNED:
            raise
        # a device in the attachment's place that is not its own: what ADD made is gone
        raise CniError(DRIFT, "the attachment differs from what ADD made: " + e.msg) from None
    if p.changes:
        raise CniError(DRIFT, "the attachment differs from what ADD made: " +
                       "; ".join(f"{c.object}: {c.reason}" for c in p.changes))
    _macs_match(prev, p.state, env)
    if net.bridge and net.conf.get("promiscMode"):
        live = bridge.host_link(net.bridge)
        if live is not None and not live.promisc:
            raise CniError(DRIFT, f"the attachment differs from what ADD made: bridge {net.bridge}: promiscuous "
                                  "mode is off (promiscMode: true)")
    if netfilter.wanted(net):
        netfilter.check(net, p.state, got, env)
    ipam.run("CHECK", raw, conf, env.raw)


def _ours(prev, env):
    """prevResult's addresses and routes of the container's interface (all
    of them when its IPs name no interface)."""
    ifaces = prev.get("interfaces") or []
    mine = {n for n, i in enumerate(ifaces) if i.get("name") == env.ifname and i.get("sandbox") == env.netns}
    ips = [ip for ip in prev.get("ips") or [] if ip.get("interface") is None or ip.get("interface") in mine]
    return {"ips": ips, "routes": [r for r in prev.get("routes") or [] if r.get("dst")]}


def _macs_match(prev, state, env):
    for i in prev.get("interfaces") or []:
        ns = env.netns if i.get("sandbox") else None
        d = state.device(ns, i.get("name"))
        if d is None:
            raise CniError(DRIFT, f"interface {i.get('name')} of prevResult is gone")
        if i.get("mac") and d.mac and i["mac"].lower() != d.mac.lower():
            raise CniError(DRIFT, f"interface {i.get('name')}: mac is {d.mac}, ADD gave {i['mac']}")


def version(conf):
    asked = conf.get("cniVersion") if isinstance(conf, dict) else None
    return {"cniVersion": asked if asked in versions.SUPPORTED else versions.LATEST,
            "supportedVersions": list(versions.SUPPORTED)}
