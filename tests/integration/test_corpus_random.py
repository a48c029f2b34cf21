"""Random networks built by hand round-trip through `vnet export`.

Each seed writes a lab as a person would at a shell: `ip` and `bridge`
commands making namespaces, bridges (STP and its timers, snooping), veth
pairs between them, macvlans and macvtaps in every mode, TUN/TAP devices,
VXLANs (and, in the guest's full kernel, dummies, bonds with ports, VLANs
of both protocols, IPVLANs and IPVTAPs in every mode, vcans and vxcan
pairs), link fields (MTU, MAC, queue length, alias, the ARP, multicast,
allmulticast and promiscuous flags, down), bridge port options, addresses
of every flavour, routes of every kind vnet knows, policy routing rules, static neighbours, and sysctls. Commands
the kernel refuses (a random lab asks for impossible things too) are
left out, as a person would drop them: what the kernel holds after the
rest is exported, applied in a fresh sandbox, and must give the same
kernel state field by field, with an empty plan after it."""
import os
import random

import pytest
from test_corpus import round_trip

SEEDS = int(os.environ.get("VNET_RANDOM_LABS", "12"))
FIRST = int(os.environ.get("VNET_RANDOM_LABS_FROM", "0"))
# labs with the kinds this kernel may lack too (bond, VLAN, IPVLAN, CAN...): in the guest
FULL_SEEDS = int(os.environ.get("VNET_RANDOM_FULL_LABS", "6"))


class Lab:
    """A random lab's commands, and what it has made so far."""

    def __init__(self, seed):
        self.r = random.Random(seed)
        self.seed = seed
        self.cmds = []
        self.nss = [None] + [f"n{i}" for i in range(self.r.randint(1, 3))]
        self.devs = {ns: [] for ns in self.nss}      # ns -> [(name, kind)]
        self.count = 0
        self.taken = set()      # bond ports

    def ip(self, ns, line):
        self.cmds.append(("ip " if ns is None else f"ip -n {ns} ") + line)

    def ns_exec(self, ns, line):
        self.cmds.append(line if ns is None else f"ip netns exec {ns} {line}")

    def name(self, stem):
        self.count += 1
        # now and then a dot in it, as a VLAN's eth0.10 (its sysctls' keys then hold it)
        return f"{stem}.{self.count}" if self.maybe(0.1) else f"{stem}{self.count}"

    def pick(self, ns, kinds=None):
        devs = [d for d, k in self.devs[ns] if kinds is None or k in kinds]
        return self.r.choice(devs) if devs else None

    def kind(self, ns, dev):
        return dict(self.devs[ns])[dev]

    def maybe(self, p=0.5):
        return self.r.random() < p


def _bridge(lab, ns):
    name = lab.name("br")
    opts = []
    r = lab.r
    if lab.maybe(0.4):
        opts += ["stp_state", "1"]
    if lab.maybe(0.3):
        opts += ["forward_delay", str(r.choice([400, 800, 1500, 3000]))]
    if lab.maybe(0.2):
        opts += ["hello_time", str(r.choice([100, 200, 500]))]
    if lab.maybe(0.2):
        opts += ["max_age", str(r.choice([600, 2000, 4000]))]
    if lab.maybe(0.3):
        opts += ["ageing_time", str(r.choice([0, 3000, 30000, 60000]))]
    if lab.maybe(0.3):
        opts += ["priority", str(r.choice([0, 4096, 32768, 61440]))]
    if lab.maybe(0.2):
        opts += ["mcast_snooping", "0"]
    if lab.maybe(0.2):
        opts += ["group_fwd_mask", str(r.choice([0, 8, 0x4000]))]
    lab.ip(ns, f"link add {name} type bridge " + " ".join(opts))
    lab.devs[ns].append((name, "bridge"))


def _veth(lab, ns):
    a, b = lab.name("va"), lab.name("vb")
    ns, other = _pair_ends(lab, ns)
    lab.ip(ns, f"link add {a} type veth peer name {b}" + (f" netns {other}" if other != ns else ""))
    lab.devs[ns].append((a, "veth"))
    lab.devs[other].append((b, "veth"))
    for end, where in ((a, ns), (b, other)):
        br = lab.pick(where, {"bridge"})
        if br and lab.maybe(0.5):
            lab.ip(where, f"link set {end} master {br}")
            _port_options(lab, where, end)


def _pair_ends(lab, ns):
    """Where a pair's two ends go: ``ns`` and another (or the same);
    made from vnet's own namespace when one end is there (`ip` has no
    name for it from another)."""
    other = lab.r.choice(lab.nss)
    return (other, ns) if other is None else (ns, other)


def _port_options(lab, ns, port):
    r = lab.r
    opts = []
    for flag in ("hairpin", "guard", "root_block", "fastleave", "learning", "flood", "proxy_arp", "mcast_flood",
                 "bcast_flood", "neigh_suppress", "isolated"):
        if lab.maybe(0.12):
            opts += [flag, r.choice(["on", "off"])]
    if lab.maybe(0.2):
        opts += ["cost", str(r.choice([1, 2, 100, 65535]))]
    if lab.maybe(0.2):
        opts += ["priority", str(r.choice([0, 8, 63]))]
    if opts:
        lab.ns_exec(ns, f"bridge link set dev {port} " + " ".join(opts))


def _macvlan(lab, ns, kind):
    lower = lab.pick(ns, {"veth"})
    if lower is None:
        return
    name = lab.name("mv" if kind == "macvlan" else "mt")
    mode = lab.r.choice(["private", "vepa", "bridge", "passthru"])
    extra = " nopromisc" if mode == "passthru" and lab.maybe(0.3) else ""
    lab.ip(ns, f"link add link {lower} name {name} type {kind} mode {mode}{extra}")
    lab.devs[ns].append((name, kind))


def _tuntap(lab, ns):
    mode = lab.r.choice(["tun", "tap"])
    name = lab.name(mode)
    opts = [o for o in ("multi_queue", "vnet_hdr") if lab.maybe(0.25)]
    if lab.maybe(0.2):
        opts += ["user", "0"]
    if lab.maybe(0.2):
        opts += ["group", "0"]
    lab.ip(ns, f"tuntap add dev {name} mode {mode} " + " ".join(opts))
    lab.devs[ns].append((name, mode))


def _vxlan(lab, ns):
    r = lab.r
    name = lab.name("vx")
    opts = [f"id {r.randint(1, 9999)}", f"dstport {r.choice([4789, 8472, 4790])}"]
    v6 = lab.maybe(0.3)
    opts.append(f"local {'fd00:99::1' if v6 else '192.0.2.1'}")
    if lab.maybe(0.5):
        opts.append(f"remote {'fd00:99::2' if v6 else '192.0.2.' + str(r.randint(2, 200))}")
    if lab.maybe(0.3):
        opts.append(f"ttl {r.choice([1, 16, 64, 255])}")
    if lab.maybe(0.2):
        opts.append("nolearning")
    if lab.maybe(0.2):
        opts.append(f"ageing {r.choice([0, 60, 300])}")
    lab.ip(ns, f"link add {name} type vxlan " + " ".join(opts))
    lab.devs[ns].append((name, "vxlan"))


def _dummy(lab, ns):
    name = lab.name("dm")
    lab.ip(ns, f"link add {name} type dummy")
    lab.devs[ns].append((name, "dummy"))


def _bond(lab, ns):
    r = lab.r
    name = lab.name("bo")
    mode = r.choice(["balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb",
                     "balance-alb"])
    opts = [f"mode {mode}"]
    if lab.maybe(0.6):
        opts.append(f"miimon {r.choice([50, 100, 250])}")
        if lab.maybe(0.4):
            opts.append(f"updelay {r.choice([0, 100, 500])} downdelay {r.choice([0, 100, 500])}")
    if mode in ("balance-xor", "802.3ad", "balance-tlb") and lab.maybe(0.5):
        opts.append(f"xmit_hash_policy {r.choice(['layer2', 'layer3+4', 'layer2+3'])}")
    if mode == "802.3ad" and lab.maybe(0.5):
        opts.append(f"lacp_rate {r.choice(['slow', 'fast'])}")
    if mode == "802.3ad" and lab.maybe(0.3):
        opts.append(f"min_links {r.choice([0, 1, 2])}")
    lab.ip(ns, f"link add {name} type bond " + " ".join(opts))
    lab.devs[ns].append((name, "bond"))
    # ports: devices made so far that are not ports or lowers already
    free = [d for d, k in lab.devs[ns] if k in ("veth", "dummy") and d not in lab.taken]
    for port in r.sample(free, min(len(free), r.randint(0, 2))):
        lab.ip(ns, f"link set {port} master {name}")
        lab.taken.add(port)


def _vlan(lab, ns):
    r = lab.r
    lower = lab.pick(ns, {"veth", "dummy", "bond", "bridge", "vlan"})
    if lower is None:
        return
    name = lab.name("vl")
    opts = [f"id {r.randint(1, 4094)}"]
    if lab.maybe(0.3):
        opts.insert(0, "proto 802.1ad")
    if lab.maybe(0.2):
        opts.append("reorder_hdr off")
    if lab.maybe(0.15):
        opts.append("loose_binding on")
    if lab.maybe(0.15):
        opts.append(f"egress-qos-map {r.randint(0, 7)}:{r.randint(0, 7)}")
    lab.ip(ns, f"link add link {lower} name {name} type vlan " + " ".join(opts))
    lab.devs[ns].append((name, "vlan"))


def _ipvlan(lab, ns, kind):
    r = lab.r
    lower = lab.pick(ns, {"veth", "dummy", "bond"})
    if lower is None or lower in lab.taken:
        return
    name = lab.name("iv" if kind == "ipvlan" else "it")
    mode = r.choice(["l2", "l3", "l3s"])
    flag = r.choice(["", " bridge", " private", " vepa"])
    lab.ip(ns, f"link add {name} link {lower} type {kind} mode {mode}{flag}")
    lab.devs[ns].append((name, kind))


def _can(lab, ns):
    if lab.maybe(0.5):
        name = lab.name("vcan")
        lab.ip(ns, f"link add {name} type vcan")
        lab.devs[ns].append((name, "vcan"))
        return
    a, b = lab.name("xa"), lab.name("xb")
    ns, other = _pair_ends(lab, ns)
    lab.ip(ns, f"link add {a} type vxcan peer name {b}" + (f" netns {other}" if other != ns else ""))
    lab.devs[ns].append((a, "vxcan"))
    lab.devs[other].append((b, "vxcan"))


CAN = {"vcan", "vxcan"}


def _link_fields(lab, ns, dev):
    r = lab.r
    parts = []
    if lab.maybe(0.25):
        parts += ["mtu", str(r.choice([1280, 1400, 1450, 1500, 9000]))]
    if lab.maybe(0.2):
        parts += ["address", "02:%02x:%02x:%02x:%02x:%02x" % tuple(r.randrange(256) for _ in range(5))]
    if lab.maybe(0.15):
        parts += ["txqueuelen", str(r.choice([0, 64, 500, 1000, 5000]))]
    if lab.maybe(0.15):
        parts += ["alias", r.choice(["uplink", "'port 7'", "tenant-a"])]
    for flag, vals in (("arp", ("on", "off")), ("multicast", ("on", "off")), ("allmulticast", ("on", "off")),
                       ("promisc", ("on", "off"))):
        if lab.maybe(0.1):
            parts += [flag, r.choice(vals)]
    if parts:
        lab.ip(ns, f"link set dev {dev} " + " ".join(parts))


def _addresses(lab, ns, dev, subnet):
    r = lab.r
    if dev in lab.taken or lab.kind(ns, dev) in CAN:
        return   # a bond's port, a CAN device: no addresses
    for _ in range(r.choice([0, 1, 1, 2])):
        kind = r.random()
        host = r.randint(1, 250)
        if kind < 0.5:
            extra = (" noprefixroute" if lab.maybe(0.15) else "") + (f" metric {r.choice([5, 100])}" if lab.maybe(0.15) else "") \
                + (f" scope {r.choice(['link', 'host', 'site', '7'])}" if lab.maybe(0.15) else "")
            # each length from its own block: an address that is another's broadcast address
            # leaves the kernel's routes to the order they came in (not a lab's configuration)
            length = r.choice([24, 24, 16, 30, 32])
            third, last = {24: (0, host), 16: (5, host), 30: (3, host // 4 * 4 + 1), 32: (4, host)}[length]
            b = r.random()   # a broadcast address: none (ip's), the subnet's (vnet's), or another (off any address)
            extra += " brd +" if b < 0.25 else f" brd 10.{subnet}.9.{host}" if b < 0.3 and length in (16, 24) else ""
            if lab.maybe(0.15) and len(dev) <= 13:
                extra += f" label {dev}:{r.randint(0, 9)}"
            lab.ip(ns, f"addr add 10.{subnet}.{third}.{last}/{length} dev {dev}{extra}")
        elif kind < 0.65:
            lab.ip(ns, f"addr add 10.{subnet}.1.{host} peer 10.{subnet}.2.{host}/32 dev {dev}")
        else:
            extra = " noprefixroute" if lab.maybe(0.15) else ""
            lab.ip(ns, f"-6 addr add fd00:{subnet}::{host:x}/64 dev {dev} nodad{extra}")


def _routes(lab, ns, subnet):
    r = lab.r
    devs = [d for d, _k in lab.devs[ns]]
    for _ in range(r.choice([0, 1, 2, 3])):
        k = r.random()
        net = f"172.{r.randint(16, 31)}.{r.randint(0, 255)}.0/24"
        table = f" table {r.choice([100, 200])}" if lab.maybe(0.2) else ""
        metric = f" metric {r.choice([10, 100])}" if lab.maybe(0.3) else ""
        if k < 0.3 and devs:
            src = f" src 10.{subnet}.0.{r.randint(1, 250)}" if lab.maybe(0.2) else ""
            lab.ip(ns, f"route add {net} dev {r.choice(devs)}{src}{metric}{table}")
        elif k < 0.55 and devs:
            gw = f"10.{subnet if lab.maybe(0.7) else r.randint(1, 4)}.0.{r.randint(1, 250)}"
            onlink = " onlink" if lab.maybe(0.3) else ""
            lab.ip(ns, f"route add {net} via {gw} dev {r.choice(devs)}{onlink}{metric}{table}")
        elif k < 0.7:
            lab.ip(ns, f"route add {r.choice(['blackhole', 'unreachable', 'prohibit'])} {net}{metric}{table}")
        elif k < 0.8 and len(devs) >= 2:
            a, b = r.sample(devs, 2)
            # (a next hop's own onlink is one thing a file cannot say: README, "Left out")
            lab.ip(ns, f"route add {net} nexthop via 10.{subnet}.0.{r.randint(1, 250)} dev {a} "
                       f"nexthop via 10.{subnet}.0.{r.randint(1, 250)} dev {b}{table}")
        elif k < 0.9 and devs:
            lab.ip(ns, f"-6 route add fd99:{r.randint(1, 99)}::/64 dev {r.choice(devs)}{metric}{table}")
        elif devs:
            # through a gateway on an address's subnet (or a link-local one), from a chosen source
            gw = f"fd00:{subnet}::{r.randint(1, 250):x}" if lab.maybe(0.7) else f"fe80::{r.randint(1, 250):x}"
            src = f" src fd00:{subnet}::{r.randint(1, 250):x}" if lab.maybe(0.3) else ""
            lab.ip(ns, f"-6 route add fd98:{r.randint(1, 99)}::/64 via {gw} dev {r.choice(devs)}{src}{metric}{table}")


def _rules(lab, ns, subnet):
    """Policy routing rules, drawn from a generator of their own (the
    labs of each seed otherwise as before rules were drawn)."""
    r = random.Random(f"rules {lab.seed} {ns}")
    devs = [d for d, _k in lab.devs[ns]]
    for _ in range(r.choice([0, 0, 1, 2, 3])):
        six = r.random() < 0.3
        words = []
        if r.random() < 0.3:
            words.append("not")
        if r.random() < 0.5:
            words += ["from", f"fd00:{subnet}::/{r.choice([64, 128])}" if six else
                      f"10.{subnet}.{r.randint(0, 255)}.0/24"]
        if r.random() < 0.3:
            words += ["to", f"fd77:{r.randint(1, 99)}::/48" if six else f"192.0.{r.randint(0, 255)}.{r.randint(1, 9)}"]
        if r.random() < 0.2:
            words += ["fwmark", r.choice(["7", "0x10/0xff", "0/0x1"])]
        if r.random() < 0.2:
            words += ["tos", r.choice(["0x10", "0x8"])]
        for key in ("iif", "oif"):
            if r.random() < 0.15:
                words += [key, r.choice(devs + ["lo", "gone0"])]
        if r.random() < 0.15:
            words += ["suppress_prefixlength", str(r.choice([0, 8]))]
        if r.random() < 0.7:
            words += ["pref", str(r.randint(1, 32000))]
        words += [r.choice(["blackhole", "unreachable", "prohibit", "nop"])] if r.random() < 0.2 else \
            ["lookup", str(r.choice([100, 200, 1000, "main"]))]
        lab.ip(ns, ("-6 " if six else "") + "rule add " + " ".join(words))


def _neighbours(lab, ns, subnet):
    """Static and proxy neighbours, drawn from a generator of their own."""
    r = random.Random(f"neighbours {lab.seed} {ns}")
    devs = [d for d, k in lab.devs[ns] if k not in ("tun", "vcan", "vxcan")]   # (no MAC, no neighbours)
    for _ in range(r.choice([0, 0, 1, 2]) if devs else 0):
        dev, six = r.choice(devs), r.random() < 0.3
        address = f"fd00:{subnet}::{r.randint(1, 250):x}" if six else f"10.{subnet}.{r.randint(0, 9)}.{r.randint(1, 250)}"
        if r.random() < 0.25:
            lab.ip(ns, f"neigh add proxy {address} dev {dev}")
        else:
            lab.ip(ns, f"neigh add {address} lladdr 02:00:00:{r.randint(0, 255):02x}:00:{r.randint(1, 255):02x} "
                       f"dev {dev}" + (" nud permanent" if r.random() < 0.5 else ""))


def _sysctls(lab, ns):
    r = lab.r
    if lab.maybe(0.4):
        lab.ns_exec(ns, "sysctl -qw net.ipv4.ip_forward=1")
    if lab.maybe(0.2):
        lab.ns_exec(ns, "sysctl -qw net.ipv6.conf.all.forwarding=1")
    dev = lab.pick(ns)
    if dev and lab.maybe(0.3):
        key = r.choice(["rp_filter=2", "proxy_arp=1", "accept_local=1", "arp_ignore=1"])
        lab.ns_exec(ns, f"sysctl -qw net.ipv4.conf.{dev}.{key}")


def random_lab(seed, full=False):
    """A bash script building a random lab (each line may fail on its own);
    ``full``: with the kinds of the full kernel too."""
    lab = Lab(seed)
    for ns in lab.nss[1:]:
        lab.cmds.append(f"ip netns add {ns}")
    makers = [_bridge, _veth, _veth, _veth, lambda l, n: _macvlan(l, n, "macvlan"),
              lambda l, n: _macvlan(l, n, "macvtap"), _tuntap, _vxlan]
    if full:
        makers += [_dummy, _dummy, _bond, _bond, _vlan, _vlan, _vlan, lambda l, n: _ipvlan(l, n, "ipvlan"),
                   lambda l, n: _ipvlan(l, n, "ipvtap"), _can]
    for _ in range(lab.r.randint(4, 16 if full else 12)):
        ns = lab.r.choice(lab.nss)
        lab.r.choice(makers)(lab, ns)
    for i, ns in enumerate(lab.nss):
        for dev, _k in list(lab.devs[ns]):
            _link_fields(lab, ns, dev)
            _addresses(lab, ns, dev, i + 1)
            if lab.maybe(0.85):
                lab.ip(ns, f"link set dev {dev} up")
        _routes(lab, ns, i + 1)
        _rules(lab, ns, i + 1)
        _neighbours(lab, ns, i + 1)
        _sysctls(lab, ns)
    return "\n".join(lab.cmds) + "\n"


def build(script):
    """Run each line; the lines the kernel refuses are dropped. The script that ran."""
    import subprocess
    kept = []
    for line in script.splitlines():
        if subprocess.run(line, shell=True, capture_output=True).returncode == 0:
            kept.append(line)
    return "\n".join(kept) + "\n"


@pytest.mark.needs("veth", "bridge", "macvlan", "macvtap", "vxlan")
@pytest.mark.parametrize("seed", range(FIRST, FIRST + SEEDS))
def test_a_random_lab_built_by_hand_round_trips_through_export(sandbox, tmp_path, seed):
    ran = build(random_lab(seed))
    doc, diff = round_trip(sandbox, tmp_path, ":")   # built already, line by line
    if diff:
        pytest.fail("the re-created network differs:\n" + "\n".join(diff) + f"\n--- lab:\n{ran}--- export:\n{doc}",
                    pytrace=False)


@pytest.mark.needs("veth", "bridge", "macvlan", "macvtap", "vxlan", "dummy", "bond", "vlan", "ipvlan", "ipvtap",
                   "vcan", "vxcan")
@pytest.mark.parametrize("seed", range(FIRST, FIRST + FULL_SEEDS))
def test_a_random_lab_of_every_kind_built_by_hand_round_trips_through_export(sandbox, tmp_path, seed):
    ran = build(random_lab(seed, full=True))
    doc, diff = round_trip(sandbox, tmp_path, ":")
    if diff:
        pytest.fail("the re-created network differs:\n" + "\n".join(diff) + f"\n--- lab:\n{ran}--- export:\n{doc}",
                    pytrace=False)
