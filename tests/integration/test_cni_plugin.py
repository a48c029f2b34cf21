"""vnet as a CNI plugin, run as a container runtime runs it: the installed
executable, the spec's environment, the configuration on stdin, the
result or error object read from stdout. Host-local IPAM (the Debian
reference plugin) keeps its reservations in the test's directory; the
"host NIC" is one end of a veth pair in the sandbox."""
import json
import os
import subprocess
import sys

import pytest


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REFERENCE = "/usr/lib/cni"

# no skip when the reference plugins are missing: scripts/setup.sh installs
# containernetworking-plugins, and a missing one is a failure to see


class Cni:
    def __init__(self, sandbox, tmp):
        self.sandbox, self.tmp = sandbox, tmp
        self.bin = str(tmp / "bin")
        os.makedirs(self.bin)
        for p in ("host-local", "static", "tuning", "macvlan"):
            os.symlink(f"{REFERENCE}/{p}", f"{self.bin}/{p}")
        subprocess.run([sys.executable, "-m", "vnet", "cni", "install", "--dir", self.bin], check=True,
                       capture_output=True, env={**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")})
        self.ipam_dir = str(tmp / "ipam")
        sandbox.external("eth1")

    def conf(self, version="1.0.0", name="net1", subnet="10.30.0.0/24", **body):
        c = {"cniVersion": version, "name": name, "type": "vnet", **body}
        if subnet:
            c["ipam"] = {"type": "host-local", "subnet": subnet, "dataDir": self.ipam_dir,
                         "routes": [{"dst": "0.0.0.0/0"}]}
        return c

    def container(self, name):
        self.sandbox.sh(f"ip netns add {name}")
        return f"/run/netns/{name}"

    def call(self, command, conf, container="c1", ifname="eth0", netns=None, env=None, stdin=None, plugin="vnet"):
        e = {"CNI_COMMAND": command, "CNI_CONTAINERID": container, "CNI_IFNAME": ifname,
             "CNI_NETNS": f"/run/netns/{container}" if netns is None else netns, "CNI_PATH": self.bin,
             "PATH": os.environ["PATH"], **(env or {})}
        e = {k: v for k, v in e.items() if v is not None}
        data = stdin if stdin is not None else json.dumps(conf).encode()
        r = subprocess.run([f"{self.bin}/{plugin}"], input=data, env=e, capture_output=True)
        out = json.loads(r.stdout) if r.stdout.strip() else None
        return r.returncode, out, r.stderr.decode()

    def start(self, command, conf, container, stdout=subprocess.PIPE):
        """The plugin started on ``container`` (eth0), its stdin written and closed."""
        env = {**os.environ, "CNI_COMMAND": command, "CNI_CONTAINERID": container, "CNI_IFNAME": "eth0",
               "CNI_NETNS": f"/run/netns/{container}", "CNI_PATH": self.bin}
        p = subprocess.Popen([f"{self.bin}/vnet"], env=env, stdin=subprocess.PIPE, stdout=stdout)
        p.stdin.write(json.dumps(conf).encode())
        p.stdin.close()
        return p

    def add_at_once(self, conf, names):
        """ADD on a fresh container of each name, all at once; their results (each asserted a success)."""
        for n in names:
            self.container(n)
        procs = [self.start("ADD", conf, n) for n in names]
        results = [json.loads(p.stdout.read()) for p in procs]
        assert [p.wait() for p in procs] == [0] * len(names), [r for r in results if "code" in r][:3]
        return results

    def ok(self, command, conf, **kw):
        rc, out, err = self.call(command, conf, **kw)
        assert rc == 0, f"{command} exited {rc}: {out} {err}"
        return out

    def reserved(self, net="net1"):
        d = os.path.join(self.ipam_dir, net)
        return sorted(f for f in os.listdir(d) if f[0].isdigit()) if os.path.isdir(d) else []


@pytest.fixture
def cni(sandbox, tmp_path):
    return Cni(sandbox, tmp_path)


def addr_of(sandbox, ns, dev="eth0"):
    return [a["local"] for a in json.loads(sandbox.sh(f"ip -n {ns} -j addr show dev {dev}"))[0]["addr_info"]
            if a["family"] == "inet"]


def test_macvlan_in_the_reference_keys_add_check_del(cni, sandbox):
    cni.container("c1"), cni.container("c2")
    conf = cni.conf(master="eth1", mode="bridge")
    r1 = cni.ok("ADD", conf, container="c1")
    cni.ok("ADD", conf, container="c2")
    assert r1["cniVersion"] == "1.0.0"
    assert [i["name"] for i in r1["interfaces"]] == ["eth0"] and r1["interfaces"][0]["sandbox"] == "/run/netns/c1"
    assert r1["ips"] == [{"address": "10.30.0.2/24", "gateway": "10.30.0.1", "interface": 0}]
    link = sandbox.links("c1")["eth0"]
    assert link["linkinfo"]["info_kind"] == "macvlan" and link["linkinfo"]["info_data"]["mode"] == "bridge"
    assert link["address"] == r1["interfaces"][0]["mac"]
    assert "default via 10.30.0.1 dev eth0" in sandbox.sh("ip -n c1 route")
    sandbox.sh("ip netns exec c1 ping -c1 -W2 10.30.0.3")
    cni.ok("CHECK", {**conf, "prevResult": r1}, container="c1")
    cni.ok("DEL", conf, container="c1")
    assert "eth0" not in sandbox.links("c1")
    assert cni.reserved() == ["10.30.0.3"]
    cni.ok("DEL", conf, container="c1")   # again: done already is done
    cni.ok("DEL", conf, container="c2")
    # no record, no lock file: a host that runs a million containers keeps nothing of them
    assert cni.reserved() == [] and not [f for f in os.listdir("/run/vnet") if f.endswith((".json", ".lock"))]


def test_check_names_the_drift(cni, sandbox):
    cni.container("c1")
    conf = cni.conf(master="eth1", mode="bridge", mtu=1400)
    r = cni.ok("ADD", conf)
    sandbox.sh("ip -n c1 link set eth0 mtu 1300")
    rc, out, _ = cni.call("CHECK", {**conf, "prevResult": r})
    assert rc != 0 and out["code"] == 101 and "mtu" in out["msg"], out
    sandbox.sh("ip -n c1 link set eth0 mtu 1400 && ip -n c1 addr flush dev eth0")
    rc, out, _ = cni.call("CHECK", {**conf, "prevResult": r})
    assert out["code"] == 101 and "10.30.0.2/24" in out["msg"], out


def test_check_names_a_device_someone_put_in_the_attachments_place(cni, sandbox):
    """eth0 deleted and made again by hand: not the attachment's any more,
    which CHECK reports as drift (101), not as a conflict of ADD's (103)."""
    cni.container("c1")
    conf = cni.conf(master="eth1")
    r = cni.ok("ADD", conf)
    sandbox.sh("ip -n c1 link del eth0 && ip -n c1 link add eth0 type veth peer name other")
    rc, out, _ = cni.call("CHECK", {**conf, "prevResult": r})
    assert rc != 0 and out["code"] == 101 and "eth0" in out["msg"] and "differs from what ADD made" in out["msg"], out
    cni.ok("DEL", conf)
    assert sandbox.links("c1")["eth0"]["linkinfo"]["info_kind"] == "veth"   # not the attachment's: left alone
    assert cni.reserved() == []


def test_add_on_an_existing_ifname_fails_and_reserves_nothing(cni, sandbox):
    cni.container("c1")
    sandbox.sh("ip -n c1 link add eth0 type veth peer name other")
    rc, out, _ = cni.call("ADD", cni.conf(master="eth1"))
    assert rc != 0 and out["code"] == 103 and "eth0 exists already" in out["msg"]
    assert cni.reserved() == []
    assert sandbox.links("c1")["eth0"]["linkinfo"]["info_kind"] == "veth"   # left alone


def test_a_failed_add_leaves_nothing_and_releases_the_address(cni, sandbox):
    cni.container("c1")
    rc, out, _ = cni.call("ADD", cni.conf(master="eth1", mac="02:00:00:00:00:00:01", kind="macvlan"))
    assert rc != 0 and out["code"] == 7
    rc, out, _ = cni.call("ADD", cni.conf(master="nosuch0"))
    assert rc != 0 and out["code"] in (100, 103), out
    assert "nosuch0" in out["msg"]
    assert set(sandbox.links("c1")) == {"lo"} and cni.reserved() == []


def test_del_succeeds_when_the_namespace_or_the_master_is_gone(cni, sandbox):
    cni.container("c1"), cni.container("c2")
    conf = cni.conf(master="eth1")
    cni.ok("ADD", conf, container="c1")
    cni.ok("ADD", conf, container="c2")
    sandbox.sh("ip netns del c1")
    cni.ok("DEL", conf, container="c1", netns="")
    sandbox.sh("ip link del eth1")
    cni.ok("DEL", conf, container="c2")
    cni.ok("DEL", {k: v for k, v in conf.items() if k != "prevResult"}, container="c2")
    assert cni.reserved() == []


def test_bridge_in_the_reference_keys_shares_one_bridge(cni, sandbox):
    cni.container("c1"), cni.container("c2")
    conf = cni.conf(bridge="cnibr0", isGateway=True, isDefaultGateway=True)
    r1 = cni.ok("ADD", conf, container="c1")
    cni.ok("ADD", conf, container="c2")
    assert [i["name"] for i in r1["interfaces"]][0::2] == ["cnibr0", "eth0"]
    assert r1["ips"][0]["interface"] == 2 and "sandbox" not in r1["interfaces"][1]
    host = sandbox.links()
    assert host[r1["interfaces"][1]["name"]]["master"] == "cnibr0"
    assert "10.30.0.1/24" in sandbox.sh("ip addr show dev cnibr0")
    sandbox.sh("ip netns exec c1 ping -c1 -W2 10.30.0.3 && ip netns exec c1 ping -c1 -W2 10.30.0.1")
    cni.ok("DEL", conf, container="c1")
    assert r1["interfaces"][1]["name"] not in sandbox.links() and "cnibr0" in sandbox.links()
    cni.ok("DEL", conf, container="c2")
    assert "cnibr0" in sandbox.links()   # shared: no attachment removes it


def test_bridge_hairpin_mode_on_the_shared_bridge(cni, sandbox):
    """``hairpinMode``: a port option on the port of a bridge the attachment
    does not own (the network's shared one), set by ADD, its drift named by
    CHECK."""
    cni.container("c1")
    conf = cni.conf(bridge="cnibr0", hairpinMode=True)
    r = cni.ok("ADD", conf)
    port = r["interfaces"][1]["name"]
    assert sandbox.links()[port]["linkinfo"]["info_slave_data"]["hairpin"] is True
    cni.ok("CHECK", {**conf, "prevResult": r})
    sandbox.sh(f"ip link set {port} type bridge_slave hairpin off")
    rc, out, _ = cni.call("CHECK", {**conf, "prevResult": r})
    assert rc != 0 and out["code"] == 101 and f"port {port}: hairpin false -> true" in out["msg"], out
    cni.ok("DEL", conf)
    assert set(sandbox.links("c1")) == {"lo"} and port not in sandbox.links() and cni.reserved() == []


def test_promisc_mode_makes_the_bridge_promiscuous_and_check_names_its_loss(cni, sandbox):
    """promiscMode: the bridge vnet makes is promiscuous (its own topology
    says so: an attachment without the key leaves it so); CHECK
    passes, and names the bridge once someone turns promiscuous mode off."""
    cni.container("c1"), cni.container("c2")
    conf = cni.conf(bridge="cnibr0", isGateway=True, promiscMode=True)
    r = cni.ok("ADD", conf)
    bridge = sandbox.links()["cnibr0"]
    assert "PROMISC" in bridge["flags"] and bridge["promiscuity"] == 1, bridge
    cni.ok("CHECK", {**conf, "prevResult": r})
    plain = cni.conf(bridge="cnibr0", isGateway=True)
    cni.ok("ADD", plain, container="c2")
    assert "PROMISC" in sandbox.links()["cnibr0"]["flags"]
    sandbox.sh("ip link set cnibr0 promisc off")
    rc, out, _ = cni.call("CHECK", {**conf, "prevResult": r})
    assert rc != 0 and out["code"] == 101 and "bridge cnibr0: promiscuous mode is off" in out["msg"], out
    cni.ok("DEL", conf)
    cni.ok("DEL", plain, container="c2")


def test_a_port_vlan_on_a_bridge_that_does_not_filter_vlans_is_refused(cni, sandbox):
    """A bridge someone else made, without VLAN filtering: a port VLAN on it
    would not isolate anything, and the bridge is not vnet's to change; the
    plan refuses before anything is made."""
    cni.container("c1")
    sandbox.external("port9")
    sandbox.sh("ip link add theirs0 address 02:00:00:00:00:09 type bridge && ip link set theirs0 up && "
               "ip link set port9 master theirs0")
    sandbox.settle("theirs0")   # its IPv6 link-local route comes a moment later
    before = sandbox.dump_all()
    rc, out, _ = cni.call("ADD", cni.conf(bridge="theirs0", vlan=100))
    assert rc != 0 and out["code"] == 103 and "bridge 'theirs0' does not filter VLANs" in out["msg"], out
    assert sandbox.dump_all() == before and cni.reserved() == []


def test_a_stack_in_vnets_syntax(cni, sandbox):
    """A macvlan on the host NIC in the container with a second address, and a
    veth whose host end is a port of an existing bridge."""
    cni.container("c1")
    sandbox.sh("ip link add br9 type bridge && ip link set br9 up")
    conf = cni.conf(interfaces=[
        {"kind": "veth", "name": "side0", "addresses": ["192.168.9.2/24"], "peer": {"master": "br9"}},
        {"kind": "macvlan", "link": "eth1", "mode": "private"}])
    r = cni.ok("ADD", conf)
    links = sandbox.links("c1")
    assert links["eth0"]["linkinfo"]["info_data"]["mode"] == "private" and "side0" in links
    host_end = [i["name"] for i in r["interfaces"] if "sandbox" not in i]
    assert sandbox.links()[host_end[0]]["master"] == "br9"
    assert r["ips"][0]["interface"] == [i["name"] for i in r["interfaces"]].index("eth0")
    cni.ok("CHECK", {**conf, "prevResult": r})
    cni.ok("DEL", conf)
    assert set(sandbox.links("c1")) == {"lo"} and host_end[0] not in sandbox.links()


def test_chained_before_tuning_and_gc(cni, sandbox):
    cni.container("c1"), cni.container("c2")
    conf = cni.conf(version="1.0.0", master="eth1")
    r = cni.ok("ADD", conf)
    tuned = cni.ok("ADD", {"cniVersion": "1.0.0", "name": "net1", "type": "tuning", "mtu": 1280,
                           "prevResult": r}, plugin="tuning")
    assert tuned["ips"] == r["ips"] and sandbox.links("c1")["eth0"]["mtu"] == 1280
    cni.ok("ADD", conf, container="c2")
    gc = {**cni.conf(version="1.1.0", master="eth1"), "cni.dev/valid-attachments":
          [{"containerID": "c2", "ifname": "eth0"}]}
    cni.ok("GC", gc, container="", ifname="", netns="")
    assert set(sandbox.links("c1")) == {"lo"} and "eth0" in sandbox.links("c2")
    assert cni.reserved() == ["10.30.0.3"]


@pytest.mark.parametrize("version", ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"])
def test_each_version_gets_its_results_shape(cni, version):
    cni.container("c1")
    r = cni.ok("ADD", cni.conf(version=version, master="eth1"))
    assert r["cniVersion"] == version
    assert ("version" in r["ips"][0]) == (version < "1.0.0")
    assert cni.ok("VERSION", {"cniVersion": version})["supportedVersions"][-1] == "1.1.0"


def test_status(cni, sandbox):
    cni.ok("STATUS", cni.conf(version="1.1.0", master="eth1"), container="", ifname="", netns="")
    rc, out, _ = cni.call("STATUS", cni.conf(version="1.1.0", master="nosuch0"), container="", ifname="", netns="")
    assert rc != 0 and out["code"] == 50 and "nosuch0" in out["msg"]


def test_runtimes_probe_version_with_dummy_values(cni):
    out = cni.ok("VERSION", {"cniVersion": "1.0.0"}, ifname="dummy", netns="dummy")
    assert out == {"cniVersion": "1.0.0", "supportedVersions": ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]}


def test_keys_are_matched_without_regard_to_case_and_unknown_ones_are_accepted(cni, sandbox):
    cni.container("c1")
    conf = cni.conf(MASTER="eth1", Mode="private", capabilities={"ips": True}, somethingElse=1)
    cni.ok("ADD", conf, env={"CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAME=p;K8S_POD_NAMESPACE=default"})
    assert sandbox.links("c1")["eth0"]["linkinfo"]["info_data"]["mode"] == "private"


BAD = [
    # (what, conf or raw stdin, env changes, code, words in the message)
    ("stdin not JSON", b"{nope", {}, 6, "not JSON"),
    ("stdin a list", b"[]", {}, 6, "not an object"),
    ("no cniVersion", {"cniVersion": None, "master": "eth1"}, {}, 7, "cniVersion"),
    ("old cniVersion", {"cniVersion": "0.2.0", "master": "eth1"}, {}, 1, "0.2.0"),
    ("future cniVersion", {"cniVersion": "9.0.0"}, {}, 1, "9.0.0"),
    ("no name", {"name": None, "master": "eth1"}, {}, 7, "name"),
    ("bad name", {"name": "a b", "master": "eth1"}, {}, 7, "name"),
    ("empty CNI_COMMAND", {"master": "eth1"}, {"CNI_COMMAND": ""}, 4, "CNI_COMMAND"),
    ("bad CNI_COMMAND", {"master": "eth1"}, {"CNI_COMMAND": "ATTACH"}, 4, "CNI_COMMAND"),
    ("no CNI_CONTAINERID", {"master": "eth1"}, {"CNI_CONTAINERID": None}, 4, "CNI_CONTAINERID"),
    ("no CNI_IFNAME", {"master": "eth1"}, {"CNI_IFNAME": None}, 4, "CNI_IFNAME"),
    ("long CNI_IFNAME", {"master": "eth1"}, {"CNI_IFNAME": "x" * 16}, 4, "CNI_IFNAME"),
    ("relative CNI_NETNS", {"master": "eth1"}, {"CNI_NETNS": "c1"}, 4, "CNI_NETNS"),
    ("missing netns", {"master": "eth1"}, {"CNI_NETNS": "/run/netns/nosuch"}, 3, "/run/netns/nosuch"),
    ("bad mode", {"master": "eth1", "mode": "bridged"}, {}, 7, "mode"),
    ("bad vlanId", {"master": "eth1", "vlanId": 5000}, {}, 7, "vlanId"),
    ("bad mtu", {"master": "eth1", "mtu": 20}, {}, 7, "mtu"),
    ("unknown kind", {"kind": "wormhole"}, {}, 7, "wormhole"),
    ("no kind", {"mtu": 1400}, {}, 7, "kind"),
    ("typo of a key", {"mastr": "eth1"}, {}, 7, "master"),
    ("typo of an option", {"kind": "vxlan", "vnii": 4}, {}, 7, "vni"),
    ("ipMasq not a boolean", {"bridge": "b0", "ipMasq": "yes"}, {}, 7, "ipMasq: \"yes\" is not true or false"),
    ("promiscMode not a boolean", {"bridge": "b0", "promiscMode": "yes"}, {}, 7,
     "promiscMode: \"yes\" is not true or false"),
    ("vlan with isGateway", {"bridge": "b0", "vlan": 100, "isGateway": True}, {}, 2, "isGateway with vlan"),
    ("bad vlan", {"bridge": "b0", "vlan": 5000}, {}, 7, "vlan: 5000"),
    ("bad vlanTrunk range", {"bridge": "b0", "vlanTrunk": [{"minID": 20, "maxID": 10}]}, {}, 7, "vlanTrunk[0]"),
    ("ipam without type", {"master": "eth1", "ipam": {"subnet": "10.0.0.0/24"}}, {}, 7, "ipam.type"),
    ("ipam not found", {"master": "eth1", "ipam": {"type": "nosuch-ipam"}}, {}, 102, "nosuch-ipam"),
    ("ipam fails", {"master": "eth1", "ipam": {"type": "host-local", "subnet": "10.0.0.0/33"}}, {}, 102,
     "host-local"),
    ("interfaces not a list", {"interfaces": {"kind": "dummy"}}, {}, 7, "interfaces"),
    ("interface name not ifname", {"interfaces": [{"kind": "macvlan", "link": "eth1", "name": "x"}]}, {}, 7,
     "CNI_IFNAME"),
    ("interface bad netns", {"interfaces": [{"kind": "macvlan", "link": "eth1", "netns": "elsewhere"}]}, {}, 7,
     "netns"),
    ("interface bad option", {"interfaces": [{"kind": "macvlan", "link": "eth1", "mode": "loud"}]}, {}, 7,
     "interfaces[0] (eth0).mode"),
    ("check without prevResult", {"master": "eth1"}, {"CNI_COMMAND": "CHECK"}, 7, "prevResult"),
    ("check on 0.3.1", {"cniVersion": "0.3.1", "master": "eth1", "prevResult": {}}, {"CNI_COMMAND": "CHECK"}, 1,
     "CHECK"),
    ("gc without valid list", {"cniVersion": "1.1.0", "master": "eth1"}, {"CNI_COMMAND": "GC"}, 7,
     "valid-attachments"),
]


@pytest.mark.parametrize("what,conf,env,code,words", BAD, ids=[b[0] for b in BAD])
def test_bad_input_gets_the_error_object_and_changes_nothing(cni, sandbox, what, conf, env, code, words):
    cni.container("c1")
    before = sandbox.dump_all()
    stdin = conf if isinstance(conf, bytes) else None
    if isinstance(conf, dict):   # the keys given to None are left out
        conf = {k: v for k, v in {"cniVersion": "1.0.0", "name": "net1", "type": "vnet", **conf}.items()
                if v is not None}
    rc, out, err = cni.call(env.get("CNI_COMMAND", "ADD"), conf, env=env, stdin=stdin)
    assert rc != 0
    assert out["code"] == code and words in out["msg"] + out.get("details", ""), out
    assert "Traceback" not in err
    assert sandbox.dump_all() == before and cni.reserved() == []


@pytest.mark.parametrize("form", ["macvlan", "bridge"])
def test_fifty_adds_at_once_get_distinct_addresses_and_del_cleans_all(cni, sandbox, form):
    body = {"master": "eth1"} if form == "macvlan" else {"bridge": "cnibr1", "isGateway": True}
    conf = cni.conf(subnet="10.31.0.0/24", **body)
    names = [f"p{i}" for i in range(50)]
    results = cni.add_at_once(conf, names)
    addrs = {r["ips"][0]["address"] for r in results}
    assert len(addrs) == 50
    for n, r in zip(names, results):
        assert addr_of(sandbox, n) == [r["ips"][0]["address"].split("/")[0]]
    for n in names:
        cni.ok("DEL", conf, container=n)
    assert cni.reserved() == []
    assert all(set(sandbox.links(n)) == {"lo"} for n in names)
    assert not [n for n in sandbox.links() if n.startswith("veth")]


def kill_each_add_then_del(cni, sandbox, conf, delays, then=lambda delay: None):
    """For each delay, a container whose ADD is killed (SIGKILL) that long
    after it started, then the runtime's DEL: the container holds lo only,
    and ``then(delay)`` holds too."""
    import signal
    import time
    for i, delay in enumerate(delays):
        c = f"k{i}"
        cni.container(c)
        p = cni.start("ADD", conf, c, stdout=subprocess.DEVNULL)
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
        cni.ok("DEL", conf, container=c)
        assert set(sandbox.links(c)) == {"lo"}, (delay, sandbox.links(c))
        then(delay)


def test_an_add_killed_at_any_moment_is_cleaned_up_by_del(cni, sandbox):
    """SIGKILL at a spread of moments of an ADD (before IPAM, during it,
    mid-apply, after): the runtime's DEL then leaves nothing."""
    kill_each_add_then_del(cni, sandbox, cni.conf(bridge="cnibr2", isGateway=True),
                           [0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.15])
    assert cni.reserved() == []
    assert not [n for n in sandbox.links() if n.startswith("veth")]


def server_pids():
    out = subprocess.run(["pgrep", "-f", "vnet.cni.server"], capture_output=True, text=True).stdout.split()
    mine = os.stat("/proc/self/ns/net").st_ino
    return [p for p in out if _netns_inode(p) == mine]


def _netns_inode(pid):
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None   # gone (or a zombie) meanwhile


def wait_for_a_server():
    """Until a warm vnet is up: its process there, and listening (it takes
    away the mark of its start then). Its process alone is not enough: one
    killed before it listens leaves its mark, and for SPAWN_WAIT no call
    starts another (seen on a loaded machine: no server after the kill)."""
    import glob
    import time
    from vnet.statedir import state_dir
    end = time.monotonic() + 30   # its start imports and warms vnet: seconds on a loaded machine
    while (not server_pids() or glob.glob(os.path.join(state_dir(), "cni-*.sock.starting"))) \
            and time.monotonic() < end:
        time.sleep(0.05)


def three_containers_and_a_warm_vnet(cni):
    """Containers c1-c3, and a warm vnet started (by a VERSION call): the
    configuration of a macvlan on eth1 for them."""
    for c in ("c1", "c2", "c3"):
        cni.container(c)
    conf = cni.conf(master="eth1")
    cni.ok("VERSION", conf)
    wait_for_a_server()
    return conf


@pytest.mark.parametrize("executable", ["compiled", "script"])
def test_calls_are_handed_to_one_warm_vnet_and_run_alone_without_it(cni, sandbox, executable):
    """The first call starts a warm vnet for the next ones; its answers are
    the same as a call run in its own process (VNET_CNI_SERVER=0); a call
    from another network namespace is not handed to it. The same through
    the compiled executable (the default where a C compiler is) and the
    Python script alone (--no-compile)."""
    if executable == "script":
        subprocess.run([sys.executable, "-m", "vnet", "cni", "install", "--dir", cni.bin, "--no-compile"],
                       check=True, capture_output=True, env={**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")})
    with open(f"{cni.bin}/vnet", "rb") as f:
        assert f.read(3) == (b"\x7fEL" if executable == "compiled" else b"#!/"), "scripts/setup.sh installs gcc"
    conf = three_containers_and_a_warm_vnet(cni)
    assert len(server_pids()) == 1
    served = cni.ok("ADD", conf, container="c1")
    alone = cni.ok("ADD", conf, container="c2", env={"VNET_CNI_SERVER": "0"})
    assert [sorted(i) for i in served["interfaces"]] == [sorted(i) for i in alone["interfaces"]]
    assert served["ips"][0]["address"] != alone["ips"][0]["address"]
    # from another namespace (its own host NIC): run in its own process, in that namespace
    sandbox.sh("ip netns add other && ip -n other link add eth1 type veth peer name eth1p && ip -n other link set eth1 up")
    r = subprocess.run(["ip", "netns", "exec", "other", f"{cni.bin}/vnet"], input=json.dumps(conf).encode(),
                       capture_output=True, env={**os.environ, "CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c3",
                                                 "CNI_IFNAME": "eth0", "CNI_NETNS": "/run/netns/c3",
                                                 "CNI_PATH": cni.bin})
    assert r.returncode == 0, r.stdout
    assert "eth0" in sandbox.links("c3") and sandbox.links("c3")["eth0"]["link_netnsid"] is not None
    assert len(server_pids()) == 1
    for c in ("c1", "c2"):
        cni.ok("DEL", conf, container=c)


def test_a_bridge_vnet_did_not_make_is_used_but_never_changed(cni, sandbox):
    cni.container("c1"), cni.container("c2")
    sandbox.sh("ip link add theirs type bridge && ip link set theirs up")
    rc, out, _ = cni.call("ADD", cni.conf(bridge="theirs", isGateway=True), container="c1")
    assert rc != 0 and out["code"] == 103 and "10.30.0.1/24" in out["msg"], out
    assert cni.reserved() == [] and set(sandbox.links("c1")) == {"lo"}
    assert "inet " not in sandbox.sh("ip addr show dev theirs")   # vnet added no address to it
    sandbox.sh("ip addr add 10.30.0.1/24 dev theirs")
    cni.ok("ADD", cni.conf(bridge="theirs", isGateway=True), container="c2")
    sandbox.sh("ip netns exec c2 ping -c1 -W2 10.30.0.1")


def test_a_killed_warm_vnet_fails_no_call_and_is_replaced(cni, sandbox):
    """The warm vnet killed (SIGKILL, its socket left behind): the next call
    runs in its own process, succeeds, and starts a new warm vnet."""
    import signal
    import time
    conf = three_containers_and_a_warm_vnet(cni)
    (old,) = server_pids()
    cni.ok("ADD", conf, container="c1")
    os.kill(int(old), signal.SIGKILL)
    while old in server_pids():
        time.sleep(0.01)
    cni.ok("ADD", conf, container="c2")
    wait_for_a_server()
    now = server_pids()
    assert len(now) == 1 and now != [old], (old, now)
    cni.ok("ADD", conf, container="c3")   # through the new one
    for c in ("c1", "c2", "c3"):
        assert "eth0" in sandbox.links(c)
        cni.ok("DEL", conf, container=c)
        assert set(sandbox.links(c)) == {"lo"}
    assert cni.reserved() == []


BAD_ENV = [
    # (what, command, env changes, words): refused as libcni's skel refuses them, code 4
    ("ADD without CNI_PATH", "ADD", {"CNI_PATH": None}, "required env variables [CNI_PATH] missing"),
    ("DEL without CNI_PATH", "DEL", {"CNI_PATH": None}, "required env variables [CNI_PATH] missing"),
    ("CHECK without CNI_PATH", "CHECK", {"CNI_PATH": None}, "required env variables [CNI_PATH] missing"),
    ("GC without CNI_PATH", "GC", {"CNI_PATH": None}, "required env variables [CNI_PATH] missing"),
    ("STATUS without CNI_PATH", "STATUS", {"CNI_PATH": None}, "required env variables [CNI_PATH] missing"),
    ("ADD without several", "ADD", {"CNI_PATH": None, "CNI_IFNAME": None, "CNI_CONTAINERID": None},
     "required env variables [CNI_CONTAINERID,CNI_IFNAME,CNI_PATH] missing"),
    ("ADD with a bad container id", "ADD", {"CNI_CONTAINERID": "bad id/with space"},
     "invalid characters in containerID"),
    ("DEL with a bad container id", "DEL", {"CNI_CONTAINERID": "-lead"}, "invalid characters in containerID"),
    ("CHECK with a bad container id", "CHECK", {"CNI_CONTAINERID": "a%b"}, "invalid characters in containerID"),
]


@pytest.mark.parametrize("what,command,env,words", BAD_ENV, ids=[b[0] for b in BAD_ENV])
def test_a_missing_or_malformed_variable_is_code_4_and_changes_nothing(cni, sandbox, what, command, env, words):
    cni.container("c1")
    before = sandbox.dump_all()
    conf = {**cni.conf(version="1.1.0", master="eth1"), "cni.dev/valid-attachments": [],
            "prevResult": {"cniVersion": "1.1.0", "interfaces": [], "ips": []}}
    rc, out, err = cni.call(command, conf, env=env)
    assert rc != 0 and out["code"] == 4 and words in out["msg"], out
    assert "Traceback" not in err
    assert sandbox.dump_all() == before and cni.reserved() == []


@pytest.mark.parametrize("command", ["GC", "STATUS"])
@pytest.mark.parametrize("version", ["0.4.0", "1.0.0"])
def test_gc_and_status_before_1_1_0_are_code_1(cni, sandbox, command, version):
    """GC and STATUS came with CNI 1.1.0: asked in an earlier version they
    are refused (code 1, libcni's words), and GC removes nothing."""
    cni.container("c1")
    conf = cni.conf(version=version, master="eth1")
    cni.ok("ADD", conf)
    rc, out, _ = cni.call(command, {**conf, "cni.dev/valid-attachments": []}, container="", ifname="", netns="")
    assert rc != 0 and out["code"] == 1 and f"config version does not allow {command}" in out["msg"], out
    assert "eth0" in sandbox.links("c1") and cni.reserved() == ["10.30.0.2"]


def test_cni_versions_of_a_configuration_list_is_accepted(cni, sandbox):
    """``cniVersions`` (a list's, which libcni may pass with a single
    configuration) is no unknown field, however close to ``cniVersion``."""
    cni.container("c1")
    r = cni.ok("ADD", cni.conf(master="eth1", cniVersions=["1.0.0", "1.1.0"]))
    assert r["cniVersion"] == "1.0.0" and "eth0" in sandbox.links("c1")


def test_the_mac_the_runtime_asks_for_in_the_reference_bridge_plugins_order(cni, sandbox):
    """MAC= of CNI_ARGS (with IgnoreUnknown, as runtimes pass it), then
    args.cni.mac over it, then runtimeConfig.mac over both; other keys of
    CNI_ARGS go on to IPAM as they are (host-local's IP=)."""
    for c in ("c1", "c2", "c3", "c4"):
        cni.container(c)
    conf = cni.conf(master="eth1")
    env = {"CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAME=p;MAC=02:00:00:00:04:01"}
    cases = [("c1", conf, "02:00:00:00:04:01"),
             ("c2", {**conf, "args": {"cni": {"mac": "02:00:00:00:04:02"}}}, "02:00:00:00:04:02"),
             ("c3", {**conf, "args": {"cni": {"mac": "02:00:00:00:04:02"}},
                     "runtimeConfig": {"mac": "02:00:00:00:04:03"}}, "02:00:00:00:04:03")]
    for c, body, mac in cases:
        r = cni.ok("ADD", body, container=c, env=env)
        assert sandbox.links(c)["eth0"]["address"] == mac and r["interfaces"][0]["mac"] == mac, (c, r)
        cni.ok("CHECK", {**body, "prevResult": r}, container=c, env=env)
    r = cni.ok("ADD", conf, container="c4", env={"CNI_ARGS": "IP=10.30.0.50"})
    assert r["ips"][0]["address"] == "10.30.0.50/24" and addr_of(sandbox, "c4") == ["10.30.0.50"]
    for c in ("c1", "c2", "c3"):
        cni.ok("DEL", conf, container=c, env=env)
    cni.ok("DEL", conf, container="c4", env={"CNI_ARGS": "IP=10.30.0.50"})
    assert cni.reserved() == []


def lock_files():
    return sorted(f for f in os.listdir("/run/vnet") if f.endswith(".lock")) if os.path.isdir("/run/vnet") else []


def test_a_failed_add_leaves_no_lock_file_and_del_removes_a_stray_one(cni, sandbox):
    """A pod whose ADD fails again and again piles up no lock files in
    /run/vnet; a DEL of an attachment without a record takes away a lock
    file an earlier call left."""
    from vnet.cni.config import attachment_name
    cni.container("c1")
    conf = cni.conf(master="eth1", mtu=9000)   # above the master's: the kernel refuses it
    for _ in range(3):
        rc, out, _ = cni.call("ADD", conf)
        assert rc != 0 and out["code"] == 100, out
    assert lock_files() == [] and cni.reserved() == [] and set(sandbox.links("c1")) == {"lo"}
    stray = f"/run/vnet/{attachment_name('net1', 'c1', 'eth0')}.lock"
    open(stray, "w").close()
    cni.ok("DEL", conf)
    assert lock_files() == []


def test_a_failed_add_takes_away_a_bridge_lock_file_without_a_record(cni, sandbox):
    """A lock file of the network's bridge topology, which has no record (a
    bridge ADD killed before the bridge was made): an ADD that fails
    takes it away with its own."""
    from vnet.cni.commands import Env
    from vnet.cni.config import bridge_doc, read
    cni.container("c1")
    conf = {**cni.conf(bridge="cnibr5"), "runtimeConfig": {"mac": "02:00:00:00:00:00:01"}}   # not a MAC
    env = Env({"CNI_CONTAINERID": "c1", "CNI_NETNS": "/run/netns/c1", "CNI_IFNAME": "eth0"})
    os.makedirs("/run/vnet", exist_ok=True)
    open(f"/run/vnet/{bridge_doc(read(conf, env))['name']}.lock", "w").close()
    rc, out, _ = cni.call("ADD", conf)
    assert rc != 0 and out["code"] == 7, out
    assert lock_files() == [] and cni.reserved() == [] and "cnibr5" not in sandbox.links()


def test_check_when_the_namespace_is_gone_is_code_3(cni, sandbox):
    cni.container("c1")
    conf = cni.conf(master="eth1")
    r = cni.ok("ADD", conf)
    sandbox.sh("ip netns del c1")
    rc, out, _ = cni.call("CHECK", {**conf, "prevResult": r})
    assert rc != 0 and out["code"] == 3 and "/run/netns/c1" in out["msg"], out
    cni.ok("DEL", conf, netns="")
    assert cni.reserved() == []


@pytest.mark.parametrize("version", ["0.3.1", "1.0.0"])
def test_without_ipam_the_result_has_no_ips(cni, sandbox, version):
    """``ipam: {}`` or none: the result leaves ``ips`` out, as the reference plugins do."""
    cni.container("c1")
    for conf in (cni.conf(version=version, subnet=None, master="eth1"),
                 {**cni.conf(version=version, subnet=None, master="eth1"), "ipam": {}}):
        r = cni.ok("ADD", conf)
        assert "ips" not in r and [i["name"] for i in r["interfaces"]] == ["eth0"], r
        cni.ok("DEL", conf)


RECIPAM = """#!{python}
# an IPAM plugin that logs each call, fails those its configuration says
# (until the file LOG.healed exists), and leaves addresses to host-local
import json, os, subprocess, sys
conf = json.loads(sys.stdin.buffer.read())
cmd, cid = os.environ["CNI_COMMAND"], os.environ.get("CNI_CONTAINERID", "")
log = conf["ipam"]["log"]
with open(log, "a") as f:
    f.write(json.dumps({{"command": cmd, "container": cid, "conf": conf}}) + "\\n")
fail = conf["ipam"].get("fail", {{}}).get(cmd)
if fail and cid.startswith(fail[2]) and not os.path.exists(log + ".healed"):
    print(json.dumps({{"cniVersion": "1.0.0", "code": fail[0], "msg": fail[1]}}))
    sys.exit(1)
if cmd in ("GC", "STATUS"):
    sys.exit(0)
conf["cniVersion"] = "1.0.0"
sys.exit(subprocess.run(["{host_local}"], input=json.dumps(conf).encode()).returncode)
"""


@pytest.fixture
def recipam(cni, tmp_path):
    """(conf, calls, heal): a configuration (1.1.0, macvlan on eth1) whose
    IPAM plugin logs each call, failing the commands ``fail`` names
    ({command: [code, msg, container id prefix]}); calls() the calls since
    the last; heal() ends the failures."""
    path = os.path.join(cni.bin, "recipam")
    with open(path, "w") as f:
        f.write(RECIPAM.format(python=sys.executable, host_local=f"{REFERENCE}/host-local"))
    os.chmod(path, 0o755)
    log = str(tmp_path / "recipam.log")

    def conf(fail=None, **body):
        return {**cni.conf(version="1.1.0", subnet=None, master="eth1", **body),
                "ipam": {"type": "recipam", "subnet": "10.30.0.0/24", "dataDir": cni.ipam_dir, "log": log,
                         "fail": fail or {}}}

    def calls():
        if not os.path.exists(log):
            return []
        with open(log) as f:
            out = [json.loads(ln) for ln in f]
        os.unlink(log)
        return out
    return conf, calls, lambda: open(log + ".healed", "w").close()


def test_gc_goes_on_past_failures_reports_them_all_and_a_later_gc_retries(cni, sandbox, recipam):
    """Six stale attachments, IPAM's DEL failing for two: GC removes the
    four others, reports both failures in one error object, and keeps the
    two (devices and record: the address is released before the devices
    go); once IPAM works again, the next GC removes them."""
    conf_of, calls, heal = recipam
    conf = conf_of(fail={"DEL": [999, "fake DEL failure", "bad"]})
    cni.container("c1")
    names = ["good1", "bad1", "good2", "bad2", "good3", "good4"]
    for n in names:
        cni.ok("ADD", conf, container=n, netns="/run/netns/c1", ifname=f"e{n}")
    calls()
    gc = {**conf, "cni.dev/valid-attachments": []}
    rc, out, err = cni.call("GC", gc, container="", ifname="", netns="")
    assert rc != 0 and out["code"] == 102 and "2 error(s)" in out["msg"], out
    assert "bad1/ebad1" in out["msg"] and "bad2/ebad2" in out["msg"] and "fake DEL failure" in out["msg"]
    assert sorted(set(sandbox.links("c1")) - {"lo"}) == ["ebad1", "ebad2"]
    assert len(cni.reserved()) == 2
    assert [c["command"] for c in calls()] == ["DEL"] * 6 + ["GC"]
    heal()
    cni.ok("GC", gc, container="", ifname="", netns="")
    assert set(sandbox.links("c1")) == {"lo"} and cni.reserved() == []
    assert sorted((c["command"], c["container"]) for c in calls()) == [("DEL", "bad1"), ("DEL", "bad2"), ("GC", "")]
    assert lock_files() == [] and not [f for f in os.listdir("/run/vnet") if f.endswith(".json")]


def test_gc_and_status_are_passed_on_to_the_ipam_plugin(cni, sandbox, recipam):
    """GC reaches the IPAM plugin with the same stdin (its valid
    attachments); STATUS too, and its error is vnet's (51 kept, another
    code as 50); its GC failure is reported after vnet's own work."""
    conf_of, calls, _heal = recipam
    cni.container("c1"), cni.container("c2")
    conf = conf_of()
    cni.ok("ADD", conf, container="c1")
    cni.ok("ADD", conf, container="c2")
    calls()
    valid = [{"containerID": "c2", "ifname": "eth0"}]
    cni.ok("GC", {**conf, "cni.dev/valid-attachments": valid}, container="", ifname="", netns="")
    del_c1, gc = calls()
    assert (del_c1["command"], del_c1["container"], gc["command"]) == ("DEL", "c1", "GC")
    assert gc["conf"]["cni.dev/valid-attachments"] == valid and gc["conf"]["name"] == "net1"
    cni.ok("STATUS", conf, container="", ifname="", netns="")
    assert [c["command"] for c in calls()] == ["STATUS"]
    for code, want in ((51, 51), (50, 50), (999, 50)):
        rc, out, _ = cni.call("STATUS", conf_of(fail={"STATUS": [code, "no addresses left", ""]}),
                              container="", ifname="", netns="")
        assert rc != 0 and out["code"] == want and "no addresses left" in out["msg"], out
    gc_fails = {**conf_of(fail={"GC": [999, "fake GC failure", ""]}), "cni.dev/valid-attachments": []}
    rc, out, _ = cni.call("GC", gc_fails, container="", ifname="", netns="")
    assert rc != 0 and "fake GC failure" in out["msg"] and out["code"] == 102, out
    assert set(sandbox.links("c2")) == {"lo"} and cni.reserved() == []   # vnet's own work done all the same


def test_an_ipam_plugin_that_does_not_know_gc_or_status_is_no_error(cni, sandbox):
    """Debian's host-local speaks CNI up to 1.0.0: GC and STATUS passed on
    to it get "unknown CNI_COMMAND" (or, without a container id, "missing
    containerID"), which is not a failure; vnet's DEL of each stale
    attachment releases its address."""
    cni.container("c1")
    conf = cni.conf(version="1.1.0", master="eth1")
    cni.ok("ADD", conf)
    cni.ok("STATUS", conf, container="", ifname="", netns="")
    cni.ok("STATUS", conf, container="x", ifname="eth0", netns="")
    cni.ok("GC", {**conf, "cni.dev/valid-attachments": []}, container="x", ifname="eth0", netns="")
    assert set(sandbox.links("c1")) == {"lo"} and cni.reserved() == []
