"""A real container runtime, podman 4.3 (CNI backend), against the reference
CNI plugins, all inside the test's sandbox: a container sees its interface
and address, reaches another container, and after removal nothing is left
(no host-side interface, no IPAM reservation, no namespace, no cache).
What podman sends a plugin is recorded and kept in tests/corpus/cni/.
The harness vnet's own CNI plugin will be run with."""
import json
import os
import time

import pytest

import conftest
from cni_capture import calls, logging_plugins, normalized, stable
from podman import REFERENCE_PLUGINS, Podman, make_rootfs

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "tests", "corpus", "cni")

# no skip without podman or runc: scripts/setup.sh installs them, and a missing one is a failure to see
pytestmark = [pytest.mark.root]


@pytest.fixture(scope="session")
def rootfs(tmp_path_factory):
    return make_rootfs(tmp_path_factory.mktemp("busybox-rootfs"))


@pytest.fixture(autouse=True)
def _podman_left_the_machine_alone(sandbox):
    """Nothing new where podman, conmon and libcni write by default: the
    machine's /run, /var/lib, /dev/shm and /etc/cni/net.d."""
    before = machine_dirs()
    yield
    after = machine_dirs()
    assert after == before, {d: sorted(after[d] - before[d]) for d in after if after[d] != before[d]}


def machine_dirs():
    run = f"/proc/self/fd/{conftest._machine_run}"   # the machine's /run, beneath the sandbox's
    where = {"/run": run, "/var/lib": "/var/lib", "/dev/shm": "/dev/shm", "/etc/cni/net.d": "/etc/cni/net.d"}
    return {d: set(os.listdir(p)) if os.path.isdir(p) else set() for d, p in where.items()}


def host_local(tmp_path, subnet):
    return {"type": "host-local", "dataDir": str(tmp_path / "ipam"), "ranges": [[{"subnet": subnet}]]}


def bridge_net(tmp_path, sandbox):
    plugin = {"type": "bridge", "bridge": "cnitest0", "isGateway": True, "ipam": host_local(tmp_path, "10.99.0.0/24")}
    return {"cniVersion": "0.4.0", "name": "cnibr", "plugins": [plugin]}, ["cnitest0", "lo"]


def macvlan_net(tmp_path, sandbox):
    sandbox.external("cnimv0")   # a veth pair, both ends up: the master
    plugin = {"type": "macvlan", "master": "cnimv0", "mode": "bridge", "ipam": host_local(tmp_path, "10.98.0.0/24")}
    return {"cniVersion": "0.4.0", "name": "cnimv", "plugins": [plugin]}, ["cnimv0", "cnimv0-p", "lo"]


@pytest.mark.parametrize("make_net", [bridge_net, macvlan_net], ids=["bridge", "macvlan"])
def test_container_addressed_reachable_and_gone(sandbox, tmp_path, rootfs, make_net):
    net, host_links = make_net(tmp_path, sandbox)
    name, subnet = net["name"], net["plugins"][0]["ipam"]["ranges"][0][0]["subnet"]
    with Podman(tmp_path, [REFERENCE_PLUGINS], {name: net}, rootfs) as pm:
        addr = pm.run(["ip", "-o", "-4", "addr", "show", "eth0"], network=name)
        assert f"inet {subnet.rsplit('.', 1)[0]}." in addr, addr
        a = pm.start("a", network=name)
        during = pm.leftovers()
        assert during["reservations"] == {name: [a]} and len(during["netns"]) == 1, during
        assert "1 packets received" in pm.ping(a, network=name)
        pm.remove("a")
        assert pm.leftovers() == {"reservations": {name: []}, "links": host_links, "netns": [],
                                  "cni_cache": [], "containers": []}


def vnet_plugin(tmp_path):
    """vnet's CNI plugin installed as a runtime finds it: its own directory first in the plugin path."""
    import subprocess
    import sys
    d = tmp_path / "vnet-bin"
    subprocess.run([sys.executable, "-m", "vnet", "cni", "install", "--dir", str(d)], check=True, capture_output=True,
                   env={**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")})
    return str(d)


@pytest.mark.parametrize("make_net", [bridge_net, macvlan_net], ids=["bridge", "macvlan"])
def test_vnet_as_podmans_plugin(sandbox, tmp_path, rootfs, make_net):
    """The same networks with "type": "vnet": the container has its interface
    and address, reaches another, and nothing is left after removal (the
    DEL conmon sends, in its bare environment, included)."""
    net, host_links = make_net(tmp_path, sandbox)
    net["plugins"][0]["type"] = "vnet"
    name, subnet = net["name"], net["plugins"][0]["ipam"]["ranges"][0][0]["subnet"]
    with Podman(tmp_path, [vnet_plugin(tmp_path), REFERENCE_PLUGINS], {name: net}, rootfs) as pm:
        addr = pm.run(["ip", "-o", "-4", "addr", "show", "eth0"], network=name)
        assert f"inet {subnet.rsplit('.', 1)[0]}." in addr, addr
        a = pm.start("a", network=name)
        assert "1 packets received" in pm.ping(a, network=name)
        pm.remove("a")
        left = pm.leftovers()
        assert left == {"reservations": {name: []}, "links": host_links, "netns": [], "cni_cache": [],
                        "containers": []}, left
    assert not [f for f in os.listdir("/run/vnet") if f.endswith(".json") and not f.startswith("cni-bridge-")]


# every capability a runtime may fill in: podman's runtimeConfig shows which it does
CAPABILITIES = {c: True for c in ("portMappings", "ips", "mac", "aliases", "bandwidth", "ipRanges", "dns",
                                  "infinibandGUID", "deviceID")}
# a container with everything podman can pass a plugin
STATIC = ["--ip", "10.99.0.50", "--mac-address", "02:00:00:00:00:50", "-p", "8080:80", "--network-alias", "web"]


def capture_net(tmp_path):
    """The reference bridge, then tuning chained after it (a prevResult)."""
    first = {"type": "bridge", "bridge": "cnitest0", "isGateway": True, "capabilities": CAPABILITIES,
             "ipam": host_local(tmp_path, "10.99.0.0/24")}
    return {"cniVersion": "1.0.0", "name": "cnicap", "plugins": [first, {"type": "tuning"}]}


def sent_by_podman(tmp_path, rootfs):
    """The calls podman makes (not the bridge's own of host-local) for a
    container started with STATIC and removed."""
    plugins = logging_plugins(tmp_path / "plugins", REFERENCE_PLUGINS, tmp_path / "calls")
    with Podman(tmp_path, [plugins], {"cnicap": capture_net(tmp_path)}, rootfs) as pm:
        pm.start("a", "cnicap", STATIC)
        pm.remove("a")
    return [c for c in calls(tmp_path / "calls") if c["plugin"] in ("bridge", "tuning")]


def test_what_podman_sends_a_plugin(sandbox, tmp_path, rootfs):
    """VERSION to every plugin of the list before each ADD or DEL, never
    CHECK; the calls match the corpus (VNET_CAPTURE_CORPUS=1 rewrites it)."""
    sent = sent_by_podman(tmp_path, rootfs)
    said = [(c["env"]["CNI_COMMAND"], c["plugin"]) for c in sent]
    assert said[:2] == [("VERSION", "bridge"), ("VERSION", "tuning")], said
    assert [s for s in said if s[0] != "VERSION"] == [("ADD", "bridge"), ("ADD", "tuning"),
                                                     ("DEL", "tuning"), ("DEL", "bridge")], said
    first = {name: next(c for c in sent if (c["env"]["CNI_COMMAND"], c["plugin"]) == key)
             for name, key in (("VERSION", ("VERSION", "bridge")), ("ADD", ("ADD", "bridge")),
                               ("ADD-chained", ("ADD", "tuning")), ("DEL", ("DEL", "bridge")))}
    for name, call in first.items():
        got, path = normalized(call, tmp_path), os.path.join(CORPUS, f"podman-{name}.json")
        if os.environ.get("VNET_CAPTURE_CORPUS"):
            with open(path, "w") as f:
                f.write(json.dumps(got, indent=1) + "\n")
        with open(path) as f:
            assert stable(got) == stable(json.load(f)), name


def test_a_plugin_failing_version_loses_its_network(sandbox, tmp_path, rootfs):
    """podman 4.3 drops (with a warning) a network any of whose plugins
    fails VERSION or does not list the list's cniVersion: `--network` then
    finds no such network."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    for name in os.listdir(REFERENCE_PLUGINS):
        (plugins / name).symlink_to(os.path.join(REFERENCE_PLUGINS, name))
    (plugins / "tuning").unlink()
    (plugins / "tuning").write_text("#!/bin/sh\n[ \"$CNI_COMMAND\" = VERSION ] && "
                                    "echo '{\"cniVersion\":\"1.0.0\",\"supportedVersions\":[\"0.4.0\"]}' && exit 0\n"
                                    f"exec {REFERENCE_PLUGINS}/tuning\n")
    (plugins / "tuning").chmod(0o755)
    with Podman(tmp_path, [plugins], {"cnicap": capture_net(tmp_path)}, rootfs) as pm:
        r = pm.podman(*pm.run_args(["true"], "cnicap", ["--rm"]), check=False)
        assert r.returncode != 0 and "network not found" in r.stderr, r.stderr
        assert 'does not support config version \\"1.0.0\\"' in r.stderr, r.stderr


def test_a_container_that_ends_is_torn_down_by_conmon_in_a_bare_environment(sandbox, tmp_path, rootfs):
    """When a detached container ends, conmon's exit command (`podman
    container cleanup`) sends the DEL: not with the environment podman was
    run with, only a few variables of its own. A plugin relies on none."""
    plugins = logging_plugins(tmp_path / "plugins", REFERENCE_PLUGINS, tmp_path / "calls")
    with Podman(tmp_path, [plugins], {"cnicap": capture_net(tmp_path)}, rootfs) as pm:
        pm.env["VNET_SEEN"] = "podman's own environment"
        pm.start("a", "cnicap", cmd=["sleep", "0.2"])
        deleted = wait_for(lambda: [c for c in calls(tmp_path / "calls") if c["env"].get("CNI_COMMAND") == "DEL"])
    added = next(c for c in calls(tmp_path / "calls") if c["env"].get("CNI_COMMAND") == "ADD")
    assert added["env"]["VNET_SEEN"] and "VNET_SEEN" not in deleted[0]["env"]
    assert {k for k in deleted[0]["env"] if not k.startswith("CNI_")} <= BARE_ENV, deleted[0]["env"]


# what conmon's exit command runs a plugin with, besides CNI_* (PWD: the wrapper's shell)
BARE_ENV = {"PATH", "HOME", "CONTAINERS_CONF", "TMPDIR", "XDG_RUNTIME_DIR", "_CONTAINERS_USERNS_CONFIGURED",
            "_CONTAINERS_ROOTLESS_UID", "_OCI_SYNCPIPE", "_OCI_STARTPIPE", "PWD"}


def wait_for(found, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not (got := found()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return got
