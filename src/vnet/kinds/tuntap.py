"""TUN (layer 3) and TAP (layer 2) devices: packets to and from a process."""
from ..kernel import netlink as nl
from ..kernel import rtnl, tun_ioctl
import contextlib
import json
import os
import sys
import time

from .. import daemon
from ..topology.fields import Bool, Int, Obj, Str
from ..tunnel import options as tunnel_options
from ..tunnel.endpoints import endpoints, parse_addr, read_key, role
from .base import Kind, ipcmd

IFLA_TUN_OWNER, IFLA_TUN_GROUP, IFLA_TUN_TYPE = 1, 2, 3
IFLA_TUN_VNET_HDR, IFLA_TUN_MULTI_QUEUE = 5, 7


def _tunnel_field(o):
    """The topology's field for one of `vnet tunnel`'s options."""
    if o.takes == "addr":
        return Str(o.doc, pattern=tunnel_options.ADDR_PATTERN, explain="ADDR:PORT", required=o.required)
    if o.takes in ("mtu", "nice"):
        return Int(o.doc, lo=o.lo, hi=o.hi, **({} if o.default is None else {"default": o.default}))
    return Str(o.doc)


class TunTap(Kind):
    options_doc = (   # README.md's kinds table
        '`owner` (uid), `group` (gid), `multi_queue`, `vnet_hdr`, `tunnel` (`{listen, peer, key_file \\| '
        'key_env, underlay_mtu, nice}`: vnet runs `vnet tunnel` for it)')
    kernel_kind = "tun"
    announced = False         # observation reads its tunnel program's files
    options = {
        "owner": Int("user id allowed to attach without CAP_NET_ADMIN", lo=0, hi=2**32 - 2),
        "group": Int("group id allowed to attach", lo=0, hi=2**32 - 2),
        "multi_queue": Bool("several queues (one file descriptor each)"),
        "vnet_hdr": Bool("IFF_VNET_HDR: packets carry a virtio_net_hdr (offloads)"),
        "tunnel": Obj({o.key: _tunnel_field(o) for o in tunnel_options.TOPOLOGY},
                      "carry this device's packets to a peer inside UDP (`vnet tunnel`, the reference's Figure 1b), "
                      "sealed with ChaCha20-Poly1305 when a key is given; vnet runs it, restarts it when found dead, "
                      "stops it on destroy"),
    }
    netlink = {"owner": (IFLA_TUN_OWNER, "u32"), "group": (IFLA_TUN_GROUP, "u32"),
               "multi_queue": (IFLA_TUN_MULTI_QUEUE, "bool8"), "vnet_hdr": (IFLA_TUN_VNET_HDR, "bool8")}

    # `ip -d link show`: tun type tap pi off vnet_hdr on multi_queue ... user NAME group NAME
    show_words = {"vnet_hdr": ("vnet_hdr", "value"), "multi_queue": ("multi_queue", "ifset"),
                  "owner": ("user", lambda w, v: f"{w} {_user(v)}"), "group": ("group", lambda w, v: f"{w} {_group(v)}")}

    def show_extra(self, extra, ref):
        return []   # the tunnel's counters: lines of their own

    def show_nested(self, dev, ref):
        """The tunnel vnet runs for the device, and its counters."""
        t = dev.options.get("tunnel")
        if not t:
            return []
        if "state" in t:
            return [f"tunnel: {t['state']}"]
        out = ["vnet tunnel " + " ".join(f"{k} {v}" for k, v in t.items() if v is not None and not isinstance(v, (dict, list)))]
        counters = dev.extra.get("tunnel_counters")
        if counters:
            out.append("counters " + " ".join(f"{k} {v}" for k, v in _flat(counters)))
        return out

    def kernel_features(self, iface):
        return set()   # /dev/net/tun: every kernel we run on has it

    def probes(self, lower):
        return {}

    def validate(self, iface, problems, path):
        t = iface.options.get("tunnel")
        if not t:
            return
        if t.get("key_file") and t.get("key_env"):
            problems.add(f"{path}.tunnel", "give key_file or key_env, not both")
            return
        given = t.get("key_file")
        if t.get("key_file"):
            base = os.path.dirname(problems.prefix) if os.path.exists(problems.prefix) else "."
            fn = t["key_file"] if os.path.isabs(t["key_file"]) else os.path.join(base, t["key_file"])
            t["key_file"] = os.path.abspath(fn)
        if t.get("key_file") or t.get("key_env"):
            problems.read_outside()
        try:
            read_key(t.get("key_file"), t.get("key_env"))
        except OSError as e:
            where = "" if os.path.isabs(given) else " (relative to the topology file)"
            problems.add(f"{path}.tunnel.key_file", f"cannot read {given}{where}: {e.strerror}")
        except KeyError:
            problems.add(f"{path}.tunnel.key_env", f"the environment variable {t['key_env']} is not set")
        except ValueError as e:
            problems.add(f"{path}.tunnel", f"the key: {e}")
        if iface.options.get("multi_queue"):
            problems.add(f"{path}.multi_queue", "the tunnel reads one queue: leave multi_queue off")
        given = [f for f in ("listen", "peer") if isinstance(t.get(f), str)]
        for f in given:
            try:
                parse_addr(t[f])
            except ValueError as e:
                problems.add(f"{path}.tunnel.{f}", str(e))
                return
        if len(given) == 2:
            try:
                role(*endpoints(t["listen"], t["peer"]))
            except ValueError as e:
                problems.add(f"{path}.tunnel", str(e))

    def lint(self, ifaces, topo, problems, warnings):
        """Two tunnels cannot listen on one UDP address of a namespace (the
        second end fails to bind, EADDRINUSE); a wildcard address takes its
        port on every address (an IPv6 one on IPv4's too)."""
        import ipaddress
        seen = []
        for i in ifaces:
            t = i.options.get("tunnel")
            if not t:
                continue
            _fam, (addr, port) = parse_addr(t["listen"])
            ip = ipaddress.ip_address(addr)
            for j, jip, jport in seen:
                if j.netns == i.netns and jport == port and (
                        ip == jip or jip.is_unspecified and (jip.version == 6 or ip.version == 4)
                        or ip.is_unspecified and (ip.version == 6 or jip.version == 4)):
                    problems.add(f"{i.path}.tunnel.listen", f"{t['listen']} is taken by the tunnel of {j.label} "
                                 f"({j.options['tunnel']['listen']}): the second end could not bind it "
                                 "(EADDRINUSE); give another port")
                    break
            else:
                seen.append((i, ip, port))

    def matches(self, link):
        if link.kind != "tun" or link.data is None:
            return False
        a = nl.parse(link.data)
        return IFLA_TUN_TYPE in a and a[IFLA_TUN_TYPE][0] == self.type_id

    def create(self, ctx, iface):
        o = iface.options
        with ctx.entered(iface.netns):
            tun_ioctl.create(iface.name, tap=self.type_id == 2, owner=o.get("owner"), group=o.get("group"),
                          multi_queue=bool(o.get("multi_queue")), vnet_hdr=bool(o.get("vnet_hdr")),
                          link_group=ctx.group)   # tagged before it outlives us
        attrs = rtnl.link_attrs(mtu=iface.mtu, mac=iface.mac, group=ctx.group,
                                master=ctx.ifindex(*iface.master_key()) if iface.master else None)
        sock, idx = ctx.sock(iface.netns), ctx.ifindex(*iface.key)
        down_first = ctx.joins_down(iface)   # a bond takes only down ports: join, then up
        rtnl.set_link(sock, idx, up=None if down_first else iface.up, attrs=attrs)
        if iface.master:
            ctx.joined(iface)
        if down_first and iface.up:
            rtnl.set_link(sock, idx, up=True)
        if (iface.options.get("tunnel") or {}).get("listen"):   # not a dead one's observed state, restored by undo
            self._start_tunnel(iface)

    def _start_tunnel(self, iface):
        """Run `vnet tunnel` for the device, detached; wait until it is up."""
        t = iface.options["tunnel"]
        d, conf, pidfile = daemon.paths("tunnel", iface.netns, iface.name)
        os.makedirs(d, exist_ok=True)
        with open(conf, "w") as f:
            json.dump(t, f)
        argv = [sys.executable, "-m", "vnet", "tunnel", *self._tunnel_args(iface, t.get("key_file")),
                "--supervise", "--pidfile", pidfile, "--stats", os.path.join(d, f"{iface.name}.stats")]
        log = os.path.join(d, f"{iface.name}.log")
        env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.dirname(__file__)))}
        with open(log, "w") as out:
            p = daemon.start_held(argv, stdout=out, stderr=out, env=env, start_new_session=True)
        end = time.monotonic() + 60   # two Python starts (supervisor, end), on a slow machine
        while not daemon.alive(pidfile) and time.monotonic() < end:
            if p.poll() is not None:   # its last line says why (the rest is the log's)
                with open(log) as f:
                    why = (f.read().strip().splitlines() or ["no message"])[-1][-300:]
                raise OSError(5, f"vnet tunnel for {iface.label} exited {p.returncode}: {why}")
            time.sleep(0.02)
        if not daemon.alive(pidfile):
            p.kill()
            raise OSError(110, f"vnet tunnel for {iface.label} did not start in 60 s")
        daemon.let_go(p)   # until now it dies with this process: a kill here leaves no orphan

    def release(self, k, ns, name):
        d, conf, pidfile = daemon.paths("tunnel", ns, name)
        if os.path.exists(pidfile) or os.path.exists(conf) or os.path.exists(os.path.join(d, f"{name}.log")):
            daemon.stop(pidfile, files=(conf, *(os.path.join(d, f"{name}.{x}") for x in ("log", "stats"))))
            with contextlib.suppress(OSError):
                os.rmdir(d)   # the namespace's directory, once it holds nothing

    def observe_more(self, link, opts, dumps):
        """The tunnel vnet runs for this device, if any (a dead one shows as such)."""
        _d, conf, pidfile = daemon.paths("tunnel", dumps.ns, link.name)
        try:
            with open(conf) as f:
                opts["tunnel"] = json.load(f)
        except (OSError, ValueError):
            return
        if daemon.alive(pidfile) is None:
            opts["tunnel"] = {"state": "vnet tunnel not running"}
        elif daemon.alive(pidfile + ".child") is None:   # its supervisor runs, the end does not (yet)
            opts["tunnel"] = {"state": "vnet tunnel not running (its supervisor is starting it again)"}

    def observed_extra(self, link, resolve, dumps):
        d, _conf, pidfile = daemon.paths("tunnel", dumps.ns, link.name)
        pid = daemon.alive(pidfile)
        if not pid:
            return {}
        import signal
        stats = os.path.join(d, f"{link.name}.stats")
        try:
            before = os.stat(stats).st_mtime_ns
        except OSError:
            before = 0
        os.kill(pid, signal.SIGUSR1)   # the tunnel writes its counters
        end = time.monotonic() + 1
        while time.monotonic() < end:
            try:
                if os.stat(stats).st_mtime_ns != before:
                    with open(stats) as f:
                        return {"tunnel_counters": json.load(f)}
            except (OSError, ValueError):
                pass
            time.sleep(0.01)
        return {}

    def iproute2_add(self, iface):
        return ipcmd(iface.netns, "tuntap", "add", "dev", iface.name, "mode", self.name, *self.iproute2(iface))

    def iproute2_extra(self, iface):
        args = (["mtu", iface.mtu] if iface.mtu else []) + (["address", iface.mac] if iface.mac else [])
        out = [ipcmd(iface.netns, "link", "set", iface.name, *args)] if args else []
        t = iface.options.get("tunnel")
        if t:
            key_file = os.path.relpath(t["key_file"]) if t.get("key_file") else None
            out.append(" ".join(["vnet", "tunnel", *self._tunnel_args(iface, key_file), "&"]))
        return out

    def _tunnel_args(self, iface, key_file):
        """`vnet tunnel`'s options for the device's declared tunnel (what
        apply runs, and what `vnet script` prints)."""
        t = iface.options["tunnel"]
        return tunnel_options.argv(netns=iface.netns, dev=iface.name, tap=self.type_id == 2, listen=t["listen"],
                                   peer=t["peer"], key_file=key_file, key_env=t.get("key_env"),
                                   underlay_mtu=t.get("underlay_mtu"), nice=t.get("nice"))

    def iproute2(self, iface):
        out = []
        o = iface.options
        if o.get("owner") is not None:
            out += ["user", str(o["owner"])]
        if o.get("group") is not None:
            out += ["group", str(o["group"])]
        if o.get("multi_queue"):
            out.append("multi_queue")
        if o.get("vnet_hdr"):
            out.append("vnet_hdr")
        return out


    def tunnels(self, options):
        t = options.get("tunnel") or {}
        if not t.get("listen") or not t.get("peer"):
            return []
        local, peer = (a.rsplit(":", 1)[0].strip("[]") for a in (t["listen"], t["peer"]))
        sealed = "sealed" if t.get("key_file") or t.get("key_env") or t.get("sealed") else "plain"
        return [(local, peer, f"vnet tunnel, UDP {t['peer'].rsplit(':', 1)[1]}, {sealed}")]

    def processes(self, dev, live):
        """Who reads the device: the `vnet tunnel` a file declares, or on the
        live machine every process with a file descriptor attached to it. The
        kernel names the device in the descriptor's fdinfo (`iff:`) but not
        its namespace: a holder in the device's namespace is its reader; one
        elsewhere (it entered the namespace only to open it) is when no other
        TUN/TAP device drawn has that name."""
        if live is None:
            return ["vnet tunnel"] if dev.options.get("tunnel") else []
        if "tun_holders" not in live:
            live["tun_holders"] = _tun_holders()
        holders = live["tun_holders"].get(dev.name, [])
        try:
            ino = os.stat(f"/run/netns/{dev.netns}" if dev.netns else "/proc/self/ns/net").st_ino
        except OSError:
            ino = None
        here = [label for i, label in holders if i == ino]
        namesakes = [d for d in live.get("devices", ()) if d.name == dev.name and isinstance(d.kind_module, TunTap)]
        return here or ([label for _i, label in holders] if len(namesakes) == 1 else [])


def _tun_holders():
    """{device name: [(network namespace inode, "name [pid]"), ...]} of every
    process holding a TUN/TAP file descriptor."""
    out = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") != "/dev/net/tun":
                    continue
                with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                    iff = next((ln.split()[1] for ln in f if ln.startswith("iff:")), None)
                ino = os.stat(f"/proc/{pid}/ns/net").st_ino
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except (OSError, IndexError):
                continue
            if iff:
                held = (ino, f"{_program(argv)} [{pid}]")
                if held not in out.setdefault(iff, []):
                    out[iff].append(held)
    return out


def _program(argv):
    """A process's name as a person would say it: `vnet tunnel` for ours."""
    words = [os.path.basename(a.decode(errors="replace")) for a in argv if a]
    if len(words) >= 4 and words[1:3] == ["-m", "vnet"]:
        return f"vnet {words[3]}"
    return words[0] if words else "?"


class Tun(TunTap):
    name, type_id = "tun", 1
    txqueuelen = 500   # tun.c's TUN_READQ_SIZE (a TAP gets Ethernet's 1000)
    arp = False        # point-to-point, no ARP
    doc = "a layer-3 device whose other end is a process reading IP packets"
    link_layer = "ip"
    shape, colour = "cds", "#fce5cd"
    example = "fig1b-tun-tunnel.yaml"
    sample = """\
    - {name: tun0, kind: tun, netns: net1, multi_queue: true, up: false, addresses: ["fd00::1/64"]}
"""   # tests/golden/script/all-kinds.yaml


class Tap(TunTap):
    name, type_id = "tap", 2
    doc = "a layer-2 device whose other end is a process reading Ethernet frames"
    max_mtu = 65535 - 14   # tun.c: MAX_MTU less the Ethernet header ("mtu greater than device maximum")
    shape, colour = "cds", "#f6b26b"
    example = "fig19-macvtap.yaml"
    sample = """\
    - {name: tap0, kind: tap, owner: 1000, master: br0, mtu: 9000, isolated: true, learning: false, cost: 10,
       priority: 5, hairpin: true}
"""   # tests/golden/script/all-kinds.yaml


TUN = Tun()
TAP = Tap()


def _user(uid):
    """A user id as `ip -d link show` prints a TUN's owner: the name when it has one."""
    import pwd
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return uid


def _group(gid):
    import grp
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return gid


def _flat(d, pre=""):
    """(key, value) of nested counters, the keys joined by '_'."""
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _flat(v, f"{pre}{k}_")
        else:
            yield f"{pre}{k}", v
