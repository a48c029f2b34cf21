"""deploy/kubernetes/ without a cluster: every manifest parses and holds the
kinds it should; the DaemonSet mounts the node's directories where the
installer script looks for them; the installer script, run against a
directory standing for a node, writes an executable naming the node's paths
and keeps and prunes builds as it says."""
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "kubernetes"
KINDS = {"vnet-cni-daemonset.yaml": ["DaemonSet"]}


def docs(name):
    return [d for d in yaml.safe_load_all((DEPLOY / name).read_text()) if d is not None]


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
    text = (node / "opt/cni/bin/vnet").read_text()
    assert text.splitlines()[0] == f"#!/opt/vnet/0.1.0-aaaa/bin/{python} -IS"
    assert "sys.path[:0] = ['/opt/vnet/0.1.0-aaaa/lib/python3.11/site-packages']" in text
    assert (node / "opt/vnet/0.1.0-aaaa/BUILD_ID").exists() and os.access(node / "opt/cni/bin/vnet", os.X_OK)
    (node / "opt/vnet/someone-elses").mkdir()
    install_on_node(tmp_path, "0.1.0-bbbb")
    assert sorted(os.listdir(node / "opt/vnet")) == ["0.1.0-aaaa", "0.1.0-bbbb", "someone-elses"]
    _, out = install_on_node(tmp_path, "0.1.0-cccc")
    assert "removed the old build /opt/vnet/0.1.0-aaaa" in out
    assert sorted(os.listdir(node / "opt/vnet")) == ["0.1.0-bbbb", "0.1.0-cccc", "someone-elses"]
    assert (node / "opt/cni/bin/vnet").read_text().startswith("#!/opt/vnet/0.1.0-cccc/")
