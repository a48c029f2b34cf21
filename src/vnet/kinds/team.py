"""Team: ports aggregated like a bond, with the logic in a userspace daemon,
teamd (Figure 3). The kernel's team driver only switches packets; teamd
chooses the active port, balances and talks LACP. vnet runs one teamd per
team device with a JSON config made from the file, in the device's
namespace, stops it when the device goes, and starts it again when it is
found dead. Ports join with `master: team0`, as for a bond."""
import json
import os

from ..kernel import rtnl
from ..kernel import team as genl
from .. import daemon
from ..topology.fields import Bool, Enum, Int, IP, ListOf
from .base import Kind

RUNNERS = {r: r for r in ("roundrobin", "activebackup", "loadbalance", "broadcast", "random", "lacp")}
WATCHES = {w: w for w in ("ethtool", "arp_ping", "nsna_ping")}
HWADDR = {p: p for p in ("same_all", "by_active", "only_active")}
HASH = {h: h for h in ("eth", "vlan", "ipv4", "ipv6", "ip", "l3", "tcp", "udp", "sctp", "l4")}
PACKAGE = "libteam-utils"
DEAD = "(teamd not running)"


def _paths(ns, name):
    return daemon.paths("teamd", ns, name)


def _log(ns, name):
    """teamd's log, beside its config."""
    return _paths(ns, name)[1][:-len(".json")] + ".log"


def _tail(path, n=600):
    try:
        with open(path) as f:
            return f.read()[-n:].strip()
    except OSError:
        return "(no log)"


def _random_mac():
    b = bytearray(os.urandom(6))
    b[0] = (b[0] & 0xFE) | 0x02   # unicast, locally administered
    return ":".join(f"{x:02x}" for x in b)


def _their_config(dumps, name):
    """The config of a teamd vnet did not start (it answers on its control
    socket: `teamdctl DEV config dump actual`), or None."""
    import shutil   # here: the commands that meet no team do not pay for it
    import subprocess
    teamdctl = shutil.which("teamdctl")
    if teamdctl is None:
        return None
    with dumps.k.entered(dumps.ns):
        r = subprocess.run([teamdctl, name, "config", "dump", "actual"], capture_output=True, text=True)
    try:
        return json.loads(r.stdout) if r.returncode == 0 else None
    except ValueError:
        return None


class Team(Kind):
    name = kernel_kind = "team"
    announced = False         # observation reads teamd's options (genl)
    doc = "a team device run by teamd: its ports (`master: team0`) act as one link"
    options_doc = (   # README.md's kinds table
        '`runner` (`roundrobin` default, `activebackup`, `loadbalance`, `broadcast`, `random`, `lacp`), '
        '`link_watch` (`ethtool` default, `arp_ping`, `nsna_ping`) with `link_watch_interval` and '
        '`link_watch_target`, `hwaddr_policy` (activebackup), `tx_hash` (loadbalance, lacp), '
        '`lacp_active`, `lacp_fast_rate`; ports join with `master: team0`. vnet starts one `teamd` per '
        "team (Debian's `libteam-utils`) with a config made from these options, in the team's namespace, "
        'under `/run/vnet/teamd/` (its debug log beside the config, as `NAME.log`); the team gets the '
        "declared `mac` or a random one (teamd would otherwise take its first port's); a teamd found dead"
        ' is started again by the next apply (the plan says so); destroy stops it. Any option change '
        're-creates the team (teamd reads its config once).')
    example = "fig3-team.yaml"
    sample = """\
    - {name: team0, kind: team, netns: net2, runner: lacp, tx_hash: [eth, ipv4], lacp_fast_rate: true}
"""   # tests/golden/script/all-kinds.yaml
    shape, colour = "box3d", "#ea9999"
    options = {
        "runner": Enum("teamd runner: how ports are used", RUNNERS, default="roundrobin"),
        "link_watch": Enum("how a port's link is judged up", WATCHES, default="ethtool"),
        "link_watch_interval": Int("arp_ping/nsna_ping: ms between probes", lo=1, hi=2**31 - 1),
        "link_watch_target": IP("arp_ping/nsna_ping: the address probed"),
        "hwaddr_policy": Enum("activebackup: which MAC the team and its ports use", HWADDR),
        "tx_hash": ListOf(Enum("a packet field", HASH), "loadbalance/lacp: fields hashed to pick a port",
                          default=None),
        "lacp_active": Bool("lacp: send LACPDUs (active) or only answer (passive)"),
        "lacp_fast_rate": Bool("lacp: ask the partner for LACPDUs every second"),
    }
    is_master = True
    port_rx_handler = "team port"
    ports_join_down = True   # "Device is up. Set it down before adding it as a team port"

    def ports_take_its_mac(self, options):
        return True

    def validate(self, iface, problems, path):
        o = iface.options
        r = o.get("runner")
        if o.get("hwaddr_policy") and r != "activebackup":
            problems.add(f"{path}.hwaddr_policy", f"only for the activebackup runner (runner is {r})")
        if o.get("tx_hash") and r not in ("loadbalance", "lacp"):
            problems.add(f"{path}.tx_hash", f"only for the loadbalance and lacp runners (runner is {r})")
        for k in ("lacp_active", "lacp_fast_rate"):
            if o.get(k) is not None and r != "lacp":
                problems.add(f"{path}.{k}", f"only for the lacp runner (runner is {r})")
        probe = o.get("link_watch") in ("arp_ping", "nsna_ping")
        if probe and o.get("link_watch_target") is None:
            problems.add(f"{path}.link_watch_target", f"{o['link_watch']} needs the address to probe")
        for k in ("link_watch_interval", "link_watch_target"):
            if o.get(k) is not None and not probe:
                problems.add(f"{path}.{k}", "only for the arp_ping and nsna_ping link watches")

    def config(self, iface):
        """teamd's JSON config for ``iface``."""
        o = iface.options
        runner = {"name": o["runner"]}
        if o.get("hwaddr_policy"):
            runner["hwaddr_policy"] = o["hwaddr_policy"]
        if o.get("tx_hash"):
            runner["tx_hash"] = list(o["tx_hash"])
        if o.get("lacp_active") is not None:
            runner["active"] = o["lacp_active"]
        if o.get("lacp_fast_rate") is not None:
            runner["fast_rate"] = o["lacp_fast_rate"]
        watch = {"name": o.get("link_watch") or "ethtool"}
        if o.get("link_watch_interval"):
            watch["interval"] = o["link_watch_interval"]
        if o.get("link_watch_target") is not None:
            watch["target_host"] = str(o["link_watch_target"])
        conf = {"device": iface.name, "runner": runner, "link_watch": watch}
        if iface.mac:
            conf["hwaddr"] = iface.mac
        return conf

    def _options_of(self, conf):
        r, w = conf.get("runner", {}), conf.get("link_watch", {})
        return {"runner": r.get("name"), "link_watch": w.get("name"), "link_watch_interval": w.get("interval"),
                "link_watch_target": w.get("target_host"), "hwaddr_policy": r.get("hwaddr_policy"),
                "tx_hash": r.get("tx_hash"), "lacp_active": r.get("active"), "lacp_fast_rate": r.get("fast_rate")}

    def normalize(self, opt, value):
        return str(value) if opt == "link_watch_target" and value is not None else value

    # ---- kernel: teamd makes the device ---------------------------------------
    def create(self, ctx, iface):
        import shutil
        import subprocess
        teamd = shutil.which("teamd")
        if teamd is None:
            raise OSError(2, f"teamd is not installed: a team device needs it (apt-get install {PACKAGE})")
        d, conf, pidfile = _paths(iface.netns, iface.name)
        os.makedirs(d, exist_ok=True)
        config = self.config(iface)
        # teamd gives the team its first port's original address, which it
        # learns from the port's first announcement; a port joined before
        # teamd has read that announcement shows a master already, is taken
        # to have no address ("Port original hardware address has different
        # length (0)") and is dropped, for good (seen 1 in 3 in a slow
        # guest). An address of teamd's own avoids that: the declared one,
        # else a random locally administered one, as the kernel would pick.
        config.setdefault("hwaddr", _random_mac())
        with open(conf, "w") as f:
            json.dump(config, f)
        # -u: no control socket (its path is per device name, not per namespace).
        # teamd runs in the foreground in a session of its own (it outlives
        # vnet), so its log keeps everything it says after start-up (-d would
        # send it to /dev/null): the log goes beside its config. The child
        # inherits this thread's namespace.
        log = _log(iface.netns, iface.name)
        # the device is made here, with the topology's tag, and teamd takes
        # it over (-o): made by teamd, it was untagged until teamd had
        # started, and a vnet killed meanwhile left a team no apply would own
        rtnl.new_link(ctx.sock(iface.netns), up=False,
                      attrs=rtnl.link_attrs(name=iface.name, group=ctx.group) + rtnl.linkinfo("team"))
        with ctx.entered(iface.netns), open(log, "w") as out:
            proc = subprocess.Popen([teamd, "-u", "-g", "-o", "-l", "stderr", "-f", conf, "-p", pidfile,
                                     "-t", iface.name],
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
        self._started(ctx, iface, proc, log)
        ctx.forget(*iface.key)
        attrs = rtnl.link_attrs(mtu=iface.mtu, mac=iface.mac, group=ctx.group,
                                master=ctx.ifindex(*iface.master_key()) if iface.master else None)
        rtnl.set_link(ctx.sock(iface.netns), ctx.ifindex(*iface.key), up=iface.up, attrs=attrs)

    def _started(self, ctx, iface, proc, log):
        """Wait until teamd has made the device and says it has started
        (with -g it logs "... sucessfully started." once its set-up is done,
        where -d would return), or has quit."""
        import time
        sock, end = ctx.sock(iface.netns), time.monotonic() + 30
        while time.monotonic() < end:
            if proc.poll() is not None:
                raise OSError(5, f"teamd failed to start (exit {proc.returncode}): {_tail(log)}")
            if "started." in _tail(log, 4096) and rtnl.get_link(sock, iface.name) is not None:
                return
            time.sleep(0.01)
        proc.kill()
        raise OSError(110, f"teamd did not make {iface.name} within 30 s: {_tail(log)}")

    def port_joined(self, ctx, endpoint):
        """A guard: confirm the port is still teamd's twice, 0.3 s apart,
        and join it again if not. The one cause seen (teamd dropping a first
        port whose original address it missed, on 6.1 with teamd 1.31) is
        avoided at creation by giving teamd an address of its own."""
        import time
        sock, idx = ctx.sock(endpoint.netns), ctx.ifindex(*endpoint.key)
        master = ctx.ifindex(*endpoint.master_key())

        def held():
            ln = rtnl.get_link(sock, endpoint.name)
            return ln is not None and ln.master == master
        # teamd may be busy for seconds on a slow machine: back off up to ~10 s
        for wait in (0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 3.2):
            time.sleep(wait)
            if held():
                time.sleep(0.3)
                if held():
                    return
            rtnl.set_link(sock, idx, up=False)
            rtnl.set_link(sock, idx, attrs=rtnl.link_attrs(master=master))
        raise OSError(16, f"teamd keeps dropping port {endpoint.label}; its log ends: "
                          f"{_tail(_log(*endpoint.master_key()))}")

    def release(self, k, ns, name):
        """Stop the teamd of device ``name`` in ``ns`` (it removes the device as it quits)."""
        _d, conf, pidfile = _paths(ns, name)
        daemon.stop(pidfile, "teamd", files=(conf, _log(ns, name)))

    def modify(self, ctx, iface, changed):
        raise AssertionError("team options re-create the device (teamd reads its config once)")

    def observe_more(self, link, opts, dumps):
        _d, conf, pidfile = _paths(dumps.ns, link.name)
        try:
            with open(conf) as f:
                opts.update(self._options_of(json.load(f)))
        except (OSError, ValueError):
            theirs = _their_config(dumps, link.name)
            if theirs is not None:   # a team someone else runs: its teamd tells its config
                opts.update(self._options_of(theirs))
                return
        if daemon.alive(pidfile, "teamd") is None:
            opts["runner"] = DEAD   # a dead teamd: the team is re-created, teamd started again

    def show_extra(self, extra, ref):
        """The active port (teamd's mode is the runner, shown as an option)."""
        return [f"active_port {extra['active_port']}"] if extra.get("active_port") else []

    def observed_extra(self, link, resolve, dumps):
        try:
            mode, active = genl.state(dumps.k.genl(dumps.ns, genl.FAMILY), link.ifindex)
        except OSError:
            return {}
        return {"mode": mode, "active_port": resolve(active, None)[1] if active else None}

    def iproute2_add(self, iface):
        conf = json.dumps(self.config(iface), separators=(",", ":"))
        pre = f"ip netns exec {iface.netns} " if iface.netns is not None else ""
        return f"{pre}teamd -d -u -t {iface.name} -c '{conf}'"

    def iproute2_extra(self, iface):
        from .base import ipcmd
        args = (["mtu", iface.mtu] if iface.mtu else []) + (["address", iface.mac] if iface.mac else [])
        return [ipcmd(iface.netns, "link", "set", iface.name, *args)] if args else []


KIND = Team()
