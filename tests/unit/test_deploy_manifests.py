"""deploy/kubernetes/ without a cluster: every manifest parses and holds the
kinds it should; the DaemonSet mounts the node's directories where the
installer script looks for them; the installer script, run against a
directory standing for a node, writes an executable naming the node's paths
and keeps and prunes builds as it says; and each NetworkAttachmentDefinition's
CNI configuration passes vnet's own validation with no kernel (read as the
plugin reads it, validated as ADD validates it, under the interface name the
example pods give it), while a broken copy of each is rejected."""
import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from vnet.cni import config, versions
from vnet.cni.commands import Env
from vnet.cni.errors import CniError
from vnet.cni.main import NETWORK_NAME
from vnet.errors import SpecError
from vnet.kinds.macsec_sa import KEY_LEN
from vnet.topofile.loader import parse

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "kubernetes"
NAD = "NetworkAttachmentDefinition"
KINDS = {"vnet-cni-daemonset.yaml": ["DaemonSet"], "nad-macsec.yaml": [NAD, NAD], "nad-vxcan.yaml": [NAD],
         "nad-bond.yaml": [NAD], "pod-example.yaml": ["Pod", "Pod"]}
NETNS = "/run/netns/x"
# what each definition makes, as (name, namespace: None for the host's) -> kind; the pod's interface by its name
MADE = {"vnet-macsec-a": {("eth1", None): "external", ("eth1.100", None): "vlan", ("msec0", NETNS): "macsec"},
        "vnet-macsec-b": {("eth1", None): "external", ("eth1.100", None): "vlan", ("msec0", NETNS): "macsec"},
        "vnet-can": {("can0", NETNS): "vxcan"},
        "vnet-bond": {("eth1", None): "external", ("eth2", None): "external", ("port0", NETNS): "macvlan",
                      ("port1", NETNS): "macvlan", ("bond0", NETNS): "bond"}}


def docs(name):
    return [d for d in yaml.safe_load_all((DEPLOY / name).read_text()) if d is not None]


def nads():
    return {d["metadata"]["name"]: d for name in KINDS if name.startswith("nad-") for d in docs(name)}


def conf_of(name):
    return json.loads(nads()[name]["spec"]["config"])


def pod_interfaces():
    """network -> the interface names the example pods give it (Multus's
    net1, net2... by position where a pod names none)."""
    out = {}
    for pod in docs("pod-example.yaml"):
        for i, sel in enumerate(json.loads(pod["metadata"]["annotations"]["k8s.v1.cni.cncf.io/networks"])):
            out.setdefault(sel["name"], set()).add(sel.get("interface", f"net{i + 1}"))
    return out


def with_keys(conf, tmp_path, extra_bytes=0):
    """``conf`` with each MACsec key file (a file on the node) made under
    ``tmp_path``, holding a random key of its cipher's length (plus
    ``extra_bytes``)."""
    conf = copy.deepcopy(conf)
    for it in conf.get("interfaces", []):
        if it.get("kind") != "macsec":
            continue
        sas = [it.get("tx")] + [sa for ch in it.get("rx", []) for sa in ch.get("sas", [])]
        for sa in filter(None, sas):
            assert os.path.isabs(sa["key_file"]), "a plugin has no topology file to be relative to"
            path = tmp_path / sa["key_file"].lstrip("/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(os.urandom(KEY_LEN[it.get("cipher", "gcm-aes-128")] + extra_bytes).hex() + "\n")
            sa["key_file"] = str(path)
    return conf


def validated(conf, ifname):
    """The attachment's Topology, as the plugin gets it for ADD: the version
    and name checked, the keys read, the configuration read for a container,
    the document validated by the topology loader."""
    versions.check(conf["cniVersion"])
    assert NETWORK_NAME.fullmatch(conf["name"])
    conf = config.canonical(conf)
    env = Env({"CNI_CONTAINERID": "0123abcd", "CNI_NETNS": NETNS, "CNI_IFNAME": ifname})
    net = config.read(conf, env)
    return parse(net.doc, f"network {conf['name']!r}")


def test_every_manifest_parses_and_has_its_kinds():
    assert sorted(p.name for p in DEPLOY.glob("*.yaml")) == sorted(KINDS)
    for name, kinds in KINDS.items():
        assert [d["kind"] for d in docs(name)] == kinds, name


def test_the_daemonset_installs_into_the_nodes_directories():
    ds = docs("vnet-cni-daemonset.yaml")[0]
    assert ds["apiVersion"] == "apps/v1" and ds["metadata"]["namespace"] == "kube-system"
    spec = ds["spec"]["template"]["spec"]
    assert spec["hostNetwork"] is True
    assert ds["spec"]["selector"]["matchLabels"].items() <= ds["spec"]["template"]["metadata"]["labels"].items()
    (init,), (main,) = spec["initContainers"], spec["containers"]
    assert init["securityContext"]["privileged"] is True and init["image"] == main["image"]
    # the command is the script the Dockerfile puts in the image
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert f"COPY deploy/kubernetes/install-on-node.sh {init['command'][0]}\n" in dockerfile
    assert re.search(r"^ARG BASE=python:3\.11-slim$", dockerfile, re.M)
    assert re.search(r"^RUN make-prefix /opt/vnet /src$", dockerfile, re.M)
    # each path on the node is mounted under /host at the same path, from a hostPath of that path
    script = (DEPLOY / "install-on-node.sh").read_text()
    defaults = dict(re.findall(r"^(\w+)=\$\{\1:-([^}]*)\}", script, re.M))
    assert defaults["VNET_SRC"] == "/opt/vnet" and defaults["HOST"] == "/host"
    volumes = {v["name"]: v.get("hostPath", {}).get("path") for v in spec["volumes"]}
    mounts = {m["mountPath"]: m for m in init["volumeMounts"]}
    env = {e["name"]: e["value"] for e in init["env"]}
    assert env == {"VNET_HOME": defaults["VNET_HOME"], "CNI_BIN_DIR": defaults["CNI_BIN_DIR"]}
    assert env["CNI_BIN_DIR"] == "/opt/cni/bin"
    for path in env.values():
        assert volumes[mounts[defaults["HOST"] + path]["name"]] == path
        assert not mounts[defaults["HOST"] + path].get("readOnly")
    root = mounts[defaults["HOST_ROOT"]]
    assert volumes[root["name"]] == "/" and root["readOnly"] is True


def fake_build(tmp_path, build_id):
    """What the image's /opt/vnet looks like to the installer script: an
    interpreter (this one), a site-packages, a BUILD_ID."""
    src = tmp_path / "image" / build_id
    (src / "bin").mkdir(parents=True)
    (src / "lib" / "python3.11" / "site-packages").mkdir(parents=True)
    os.symlink(sys.executable, src / "bin" / "python3")
    (src / "BUILD_ID").write_text(build_id + "\n")
    return src


def install_on_node(tmp_path, build_id):
    """Run the installer script against a directory standing for the node
    (no root of the node mounted: its checks are skipped)."""
    node = tmp_path / "node"
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT / "src"), "VNET_SRC": str(fake_build(tmp_path, build_id)),
           "HOST": str(node), "HOST_ROOT": str(tmp_path / "no-root")}
    r = subprocess.run(["sh", str(DEPLOY / "install-on-node.sh")], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "not checking that the node runs" in r.stderr
    return node, r.stdout


def test_the_installer_names_the_nodes_paths_and_keeps_the_previous_build(tmp_path):
    node, out = install_on_node(tmp_path, "0.1.0-aaaa")
    assert "copied build 0.1.0-aaaa to /opt/vnet/0.1.0-aaaa on the node" in out
    python = os.path.basename(os.path.realpath(sys.executable))
    text = plugin_script(node).read_text()
    assert text.splitlines()[0] == f"#!/opt/vnet/0.1.0-aaaa/bin/{python} -IS"
    assert "sys.path[:0] = ['/opt/vnet/0.1.0-aaaa/lib/python3.11/site-packages']" in text
    assert (node / "opt/vnet/0.1.0-aaaa/BUILD_ID").exists() and os.access(node / "opt/cni/bin/vnet", os.X_OK)
    (node / "opt/vnet/someone-elses").mkdir()
    install_on_node(tmp_path, "0.1.0-bbbb")
    assert sorted(os.listdir(node / "opt/vnet")) == ["0.1.0-aaaa", "0.1.0-bbbb", "someone-elses"]
    _, out = install_on_node(tmp_path, "0.1.0-cccc")
    assert "removed the old build /opt/vnet/0.1.0-aaaa" in out
    assert sorted(os.listdir(node / "opt/vnet")) == ["0.1.0-bbbb", "0.1.0-cccc", "someone-elses"]
    assert plugin_script(node).read_text().startswith("#!/opt/vnet/0.1.0-cccc/")


def plugin_script(node):
    """The Python plugin on the node: the executable, or the script beside
    it where the installer had a C compiler (the executable compiled)."""
    exe = node / "opt/cni/bin/vnet"
    return exe if exe.read_bytes()[:2] == b"#!" else node / "opt/cni/bin/.vnet-python"


def test_each_definition_is_a_vnet_configuration():
    assert sorted(nads()) == sorted(MADE)
    for name, nad in nads().items():
        assert nad["apiVersion"] == "k8s.cni.cncf.io/v1"
        assert isinstance(nad["spec"]["config"], str)
        conf = json.loads(nad["spec"]["config"])
        assert conf["type"] == "vnet" and conf["name"] == name and conf["cniVersion"] in versions.SUPPORTED
    assert set(pod_interfaces()) == set(MADE), "the example pods use every definition"


@pytest.mark.parametrize("name", sorted(MADE))
def test_each_definition_passes_vnets_validation(name, tmp_path):
    for ifname in pod_interfaces()[name]:
        topo = validated(with_keys(conf_of(name), tmp_path), ifname)
        made = {(e.name, e.netns): i.kind for i in topo.interfaces for e in i.endpoints()}
        # the host's end of a pair is named for the attachment, as the reference plugins name theirs
        host_ends = {k for k in made if k[1] is None and re.fullmatch(r"(veth|vxcan)[0-9a-f]{8}", k[0])}
        assert {k: v for k, v in made.items() if k not in host_ends} == MADE[name]
        assert len(host_ends) == (1 if name == "vnet-can" else 0)


def test_the_bond_takes_the_pods_address_through_static_ipam():
    conf = conf_of("vnet-bond")
    assert conf["ipam"] == {"type": "static"} and conf["capabilities"] == {"ips": True}
    pods = [json.loads(p["metadata"]["annotations"]["k8s.v1.cni.cncf.io/networks"]) for p in docs("pod-example.yaml")]
    ips = [s["ips"] for sels in pods for s in sels if s["name"] == "vnet-bond"]
    assert len(ips) == 2 and len({tuple(i) for i in ips}) == 2


def _set(path, value):
    def change(conf):
        *walk, last = path
        d = conf
        for k in walk:
            d = d[k]
        d[last] = value
    return change


# a broken copy of each definition, and the words vnet rejects it with
BROKEN = [
    ("vnet-macsec-a", "a key one byte too long", None, "gcm-aes-128 takes a 16-byte key, this one has 17 bytes"),
    ("vnet-macsec-b", "validate: sometimes", _set(["interfaces", 1, "validate"], "sometimes"), "validate"),
    ("vnet-macsec-a", "the VLAN id out of range", _set(["interfaces", 0, "id"], 5000), "5000"),
    ("vnet-can", "a CAN device with an Ethernet MTU", _set(["interfaces", 0, "mtu"], 9000), "not a CAN MTU"),
    ("vnet-can", "the pod's end named by the definition", _set(["interfaces", 0, "name"], "vxcan0"),
     "named by the runtime"),
    ("vnet-bond", "a primary in a mode without one", _set(["interfaces", 2, "mode"], "balance-rr"),
     "only used in active-backup"),
    ("vnet-bond", "the pod not naming the interface bond0", "net1", "a port must be in its master's namespace"),
]


@pytest.mark.parametrize("name, what, change, words", BROKEN, ids=[b[1] for b in BROKEN])
def test_a_broken_copy_is_rejected(name, what, change, words, tmp_path):
    conf = with_keys(conf_of(name), tmp_path, extra_bytes=1 if change is None else 0)
    ifname = sorted(pod_interfaces()[name])[0]
    if isinstance(change, str):
        ifname = change
    elif change is not None:
        change(conf)
    with pytest.raises((SpecError, CniError)) as e:
        validated(conf, ifname)
    assert words in str(e.value)
