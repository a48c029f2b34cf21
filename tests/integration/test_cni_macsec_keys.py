"""MACsec keys from the container runtime: a configuration declares
``"capabilities": {"macsecKeys": true}``, the runtime passes
``runtimeConfig.macsecKeys`` (key name -> hex), an SA names its key with
``key_runtime``. Driven through the installed executable as a runtime
calls it (test_cni_plugin.Cni). What a user must be able to rely on: a key
missing or malformed is code 7 naming the SA and the key's name, and no
key's value is ever in a result, an error, the log (stderr), vnet's
records under /run/vnet, `vnet list`/`show`/`export`, or what the IPAM
plugin reads. The traffic test needs MACsec and VLANs (not in this host's
kernel): it runs in the full-kernel guest."""
import json
import os

import pytest

from test_cni_kinds import capture, udp
from test_cni_plugin import REFERENCE, Cni, addr_of

EX = os.path.join(os.path.dirname(__file__), "..", "..", "examples")
KEY_A, KEY_B = (open(os.path.join(EX, "keys", k)).read().strip() for k in ("fig20-a.hex", "fig20-b.hex"))
MARK = b"VNET-PLAINTEXT-MARKER"


@pytest.fixture
def cni(sandbox, tmp_path):
    c = Cni(sandbox, tmp_path)
    # an IPAM plugin that keeps what it reads on stdin, then is host-local
    c.ipam_seen = str(tmp_path / "ipam-stdin")
    spy = os.path.join(c.bin, "spy-ipam")
    with open(spy, "w") as f:
        f.write(f"#!/bin/sh\ntee -a {c.ipam_seen} | exec {REFERENCE}/host-local\n")
    os.chmod(spy, 0o755)
    return c


def secure(cni, lower, mine, theirs, tx="a", rx="b", keys=None, capable=True, **sa):
    """A VLAN of host NIC ``lower`` moved into the pod, MACsec on it (the
    container's interface); its SAs' keys named ``tx`` and ``rx``, passed
    by the runtime as ``keys`` (default: a and b)."""
    conf = cni.conf(name="secure", interfaces=[
        {"kind": "vlan", "name": "vl100", "link": lower, "id": 100, "mac": mine},
        {"kind": "macsec", "link": "vl100", "port": 1, "encrypt": True, "validate": "strict",
         "tx": {"an": 0, "key_id": "01", "key_runtime": tx, **sa},
         "rx": [{"mac": theirs, "port": 1, "sas": [{"an": 0, "key_id": "02", "key_runtime": rx}]}]}])
    conf["ipam"]["type"] = "spy-ipam"
    if capable:
        conf["capabilities"] = {"macsecKeys": True}
    conf["runtimeConfig"] = {"macsecKeys": {"a": KEY_A, "b": KEY_B} if keys is None else keys}
    return conf


def state_files():
    """Every file vnet keeps under /run/vnet (the sandbox's own /run), with its text."""
    out = {}
    for top, _dirs, files in os.walk("/run/vnet"):
        for f in files:
            p = os.path.join(top, f)
            try:
                with open(p, "rb") as fh:
                    out[p] = fh.read().decode(errors="replace")
            except OSError:
                pass   # a socket
    return out


def assert_no_key(*texts, keys=(KEY_A, KEY_B)):
    """No key's hex (either case) in any of ``texts``."""
    for t in texts:
        t = t if isinstance(t, str) else json.dumps(t)
        for k in keys:
            assert k.lower() not in t.lower(), f"a key is in: {t[:300]}"


def ipam_seen(cni):
    return open(cni.ipam_seen).read() if os.path.exists(cni.ipam_seen) else ""


# -- the configuration's mistakes: code 7, the SA and the key named, no value shown ------------

BAD = [
    # (what, secure() arguments, words in the message)
    ("no such key", dict(tx="tx0"), ["interfaces[1] (eth0).tx.key_runtime: no key named 'tx0' in "
                                     "runtimeConfig.macsecKeys"]),
    ("an rx SA's key missing", dict(rx="rx9"), ["interfaces[1] (eth0).rx[0].sas[0].key_runtime: no key named 'rx9'"]),
    ("no capability declared, no keys passed", dict(capable=False, keys={}),
     ["tx.key_runtime: no key named 'a'", '"capabilities": {"macsecKeys": true}']),
    ("not hex", dict(keys={"a": "NOTHEX" + KEY_A, "b": KEY_B}),
     ["tx.key_runtime: the key is not hex (in runtimeConfig.macsecKeys['a'])"]),
    ("too short", dict(keys={"a": KEY_A[:-2], "b": KEY_B}),
     ["tx.key_runtime: gcm-aes-128 takes a 16-byte key, this one has 15 bytes"]),
    ("keys not an object", dict(keys=[KEY_A]), ["runtimeConfig.macsecKeys: expected an object"]),
    ("a key not a string", dict(keys={"a": 1234, "b": KEY_B}), ['runtimeConfig.macsecKeys["a"]: expected the key']),
    ("two key sources", dict(key="00" * 16), ["tx: give the key as exactly one of key, key_file, key_env or "
                                              "key_runtime"]),
]


@pytest.mark.parametrize("what,args,words", BAD, ids=[b[0] for b in BAD])
def test_a_bad_runtime_key_is_code_7_naming_the_sa_and_the_key(cni, sandbox, what, args, words):
    cni.container("c1")
    before = sandbox.dump_all()
    rc, out, err = cni.call("ADD", secure(cni, "eth1", "02:00:00:00:20:01", "02:00:00:00:20:02", **args))
    assert rc != 0 and out["code"] == 7, out
    for w in words:
        assert w in out["msg"], out
    assert "Traceback" not in err and out["msg"] in err
    assert_no_key(out, err, keys=(KEY_A, KEY_B, KEY_A[:-2]))
    assert "NOTHEX" not in out["msg"] + err
    assert sandbox.dump_all() == before and cni.reserved("secure") == [] and ipam_seen(cni) == ""


def test_a_key_named_in_a_file_is_refused(sandbox):
    """key_runtime is for a CNI configuration: a topology file has no
    runtime to pass keys, and says so."""
    f = sandbox.write("t.yaml", """name: ms
interfaces:
  - {name: eth1, kind: external}
  - {name: ms0, kind: macsec, link: eth1, port: 1, tx: {an: 0, key_id: "01", key_runtime: a}}
""")
    r = sandbox.vnet("plan", f, check=False)
    assert r.returncode == 2 and "interfaces[1] (ms0).tx.key_runtime: a key the container runtime passes: only " \
                                  "in a CNI network configuration" in r.stderr, r.stderr


def test_the_keys_reach_no_output_record_or_ipam(cni, sandbox):
    """Every call on a MACsec attachment with keys from the runtime: the
    keys are in none of its outputs, none of vnet's files, and not in what
    the IPAM plugin read (which got the rest of runtimeConfig). On this
    host's kernel (no MACsec) ADD is refused by the kernel (code 100) and
    undone; where it has MACsec (the guest, test_vlan_and_macsec_...) it
    succeeds, and the same holds of the live attachment."""
    cni.container("c1")
    conf = secure(cni, "eth1", "02:00:00:00:20:01", "02:00:00:00:20:02")
    conf["runtimeConfig"]["portMappings"] = []
    rc, out, err = cni.call("ADD", conf)
    seen = ipam_seen(cni)
    assert '"runtimeConfig": {"portMappings": []}' in seen, seen
    assert rc == 0 or out["code"] == 100, out
    outputs = [out, err, seen]
    for command in ("CHECK", "DEL", "DEL"):
        rc2, out2, err2 = cni.call(command, {**conf, "prevResult": out} if command == "CHECK" else conf)
        outputs += [out2 or "", err2]
    outputs += [sandbox.vnet("list", check=False).stdout, *state_files().values()]
    assert_no_key(*outputs)
    assert cni.reserved("secure") == []


# -- in the full-kernel guest: the keys at work ----------------------------------------------------------

@pytest.mark.needs("vlan", "macsec", "veth")
def test_vlan_and_macsec_with_runtime_keys_ping_encrypted_and_keep_them_secret(cni, sandbox):
    """Two containers, each a VLAN+MACsec stack on one end of a wire, their
    keys passed by the runtime: they ping each other, the wire carries
    MACsec in VLAN 100 and never the plaintext; CHECK (given the keys, as a
    runtime gives them) passes; no key is in the results, vnet's records,
    `vnet list`, `show` or `export`; DEL leaves nothing."""
    from vnet.check.ping import ping
    from vnet.cni.config import attachment_name
    host = set(sandbox.links())
    mac1, mac2 = "02:00:00:00:20:01", "02:00:00:00:20:02"
    conf1 = secure(cni, "eth1", mac1, mac2, tx="a", rx="b")
    conf2 = secure(cni, "eth1-p", mac2, mac1, tx="b", rx="a")
    conf2["interfaces"][1]["tx"]["key_id"], conf2["interfaces"][1]["rx"][0]["sas"][0]["key_id"] = "02", "01"
    outputs = []
    for c, conf in (("c1", conf1), ("c2", conf2)):
        cni.container(c)
        rc, r, err = cni.call("ADD", conf, container=c)
        assert rc == 0, (r, err)
        outputs += [r, err]
        rc, out, err = cni.call("CHECK", {**conf, "prevResult": r}, container=c)
        assert rc == 0, (out, err)
        outputs += [err]
    shown = sandbox.sh("ip -n c1 macsec show eth0")
    assert "encrypt on" in shown and "0200000020020001" in shown, shown
    assert addr_of(sandbox, "c1") == ["10.30.0.2"] and addr_of(sandbox, "c2") == ["10.30.0.3"]
    assert ping("c1", "10.30.0.3", timeout=2) and ping("c2", "10.30.0.2", timeout=2)
    frames = capture(None, "eth1-p", lambda: udp("c1", "10.30.0.3", MARK * 4))
    sealed = [f for f in frames if f.tags == [(0x8100, 100)] and f.ethertype == 0x88E5]
    assert len(sealed) >= 3 and not any(MARK in f.data for f in frames), len(sealed)
    name = attachment_name("secure", "c1", "eth0")
    assert f"/run/vnet/{name}.json" in state_files()
    outputs += [sandbox.vnet("list").stdout, sandbox.vnet("show", name).stdout,
                sandbox.vnet("show", "--json", name).stdout, sandbox.vnet("export", name).stdout,
                *state_files().values(), ipam_seen(cni)]
    assert_no_key(*outputs)
    for c, conf in (("c1", conf1), ("c2", conf2)):
        cni.ok("DEL", conf, container=c)
        assert set(sandbox.links(c)) == {"lo"}
    assert set(sandbox.links()) == host and cni.reserved("secure") == []
