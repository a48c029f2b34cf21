"""MACsec (Figures 20-21), in the kernel: matching keys pass traffic and the
wire carries only encrypted MACsec frames; a wrong key isolates; re-keying
by re-apply keeps a running ping going; what vnet observes through its own
generic netlink code agrees with `ip macsec show`; keys are never shown."""
import json
import os
import re
import socket
import time

import pytest

from lab import apply_json, pings_during, plan_json
from vnet.check.ping import ping

EX = os.path.join(os.path.dirname(__file__), "..", "..", "examples")
FIG20 = os.path.join(EX, "fig20-macsec.yaml")
KEY_A = open(os.path.join(EX, "keys", "fig20-a.hex")).read().strip()
KEY_B = open(os.path.join(EX, "keys", "fig20-b.hex")).read().strip()
MARK = b"VNET-PLAINTEXT-MARKER"


def _capture(ns, dev, trigger):
    """Raw frames seen on ``dev`` in ``ns`` while ``trigger`` runs (vnet's own capture)."""
    from vnet.check.capture import Capture
    from vnet.kernel.session import Kernel
    with Kernel() as k, Capture(k, ns, dev) as cap:
        trigger()
    return [f.data for f in cap.frames]


def _udp(ns, dst, payload):
    from vnet.kernel.session import Kernel
    with Kernel() as k, k.entered(ns):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with s:
        for _ in range(3):
            s.sendto(payload, (dst, 9999))
            time.sleep(0.1)


def _copy(sandbox, name, text):
    """The example beside its keys, so its relative key files resolve."""
    os.makedirs(os.path.join(sandbox.tmp, "keys"), exist_ok=True)
    for k in ("fig20-a.hex", "fig20-b.hex"):
        with open(os.path.join(sandbox.tmp, "keys", k), "w") as f:
            f.write(open(os.path.join(EX, "keys", k)).read())
    return sandbox.write(name, text)


@pytest.mark.needs("macsec", "veth")
def test_fig20_encrypted_traffic_and_ip_macsec_agrees(sandbox):
    apply_json(sandbox, FIG20)
    assert ping("net1", "10.20.0.2", timeout=2) and ping("net2", "10.20.0.1", timeout=2)
    frames = _capture("net2", "veth2", lambda: _udp("net1", "10.20.0.2", MARK * 4))
    sealed = [f for f in frames if f[12:14] == b"\x88\xe5"]
    assert len(sealed) >= 3, f"{len(sealed)} MACsec frames on the veth for 3 datagrams"
    # nothing else: the veths' IPv6 is off before they go up, so not even
    # their duplicate address detection or MLD reaches the wire
    others = sorted({f[12:14].hex() for f in frames if f[12:14] != b"\x88\xe5"})
    assert not others, f"the veth carries ethertypes {others} besides MACsec"
    assert not any(MARK in f for f in frames), "plaintext payload on the wire"

    # our own genl decoding against iproute2's
    shown = json.loads(sandbox.vnet("show", "--json", "fig20").stdout)
    mine = next(d for d in shown["devices"] if d["netns"] == "net1" and d["name"] == "macsec0")
    ipm = sandbox.sh("ip -n net1 macsec show macsec0")
    assert "cipher suite: GCM-AES-128" in ipm and "encrypt on" in ipm
    sci = re.search(r"TXSC: ([0-9a-f]{16})", ipm).group(1)
    assert mine["sci"] == sci == "0200000020010001"
    tx = re.search(r"^\s+(\d): PN (\d+), state on, key ([0-9a-f]+)", ipm.split("RXSC")[0], re.M)
    assert mine["tx_sas"][0].startswith(f"{tx.group(1)} key {tx.group(3)} ***")
    rxsci = re.search(r"RXSC: ([0-9a-f]{16})", ipm).group(1)
    rxkey = re.search(r"^\s+(\d): PN \d+, state on, key ([0-9a-f]+)", ipm.split("RXSC")[1], re.M)
    assert list(mine["rx_channels"]) == [rxsci] == ["0200000020020001"]
    assert mine["rx_channels"][rxsci][0].startswith(f"{rxkey.group(1)} key {rxkey.group(2)} ***")
    assert mine["options"]["validate"] == "strict" and mine["options"]["cipher"] == "gcm-aes-128"

    # keys never shown: not in show, plan, export or script
    outputs = [sandbox.vnet("show", "fig20").stdout, sandbox.vnet("show", "--json", "fig20").stdout,
               sandbox.vnet("export", "fig20").stdout, sandbox.vnet("script", FIG20).stdout,
               sandbox.vnet("plan", FIG20).stdout]
    for out in outputs:
        assert KEY_A not in out and KEY_B not in out
    assert "***" in outputs[2]
    assert plan_json(sandbox, FIG20) == []
    sandbox.vnet("destroy", "fig20")


@pytest.mark.needs("macsec", "veth")
def test_wrong_rx_key_isolates(sandbox):
    wrong = open(FIG20).read().replace(
        'sas: [{an: 0, key_id: "01", key_file: keys/fig20-a.hex}]',
        'sas: [{an: 0, key_id: "01", key_env: VNET_WRONG_KEY}]')
    os.environ["VNET_WRONG_KEY"] = "00" * 16
    try:
        f = _copy(sandbox, "wrong.yaml", wrong)
        apply_json(sandbox, f)
    finally:
        del os.environ["VNET_WRONG_KEY"]
    assert not ping("net1", "10.20.0.2", timeout=1, count=2), "a wrong MACsec key still passes traffic"
    sandbox.vnet("destroy", "fig20")


@pytest.mark.needs("macsec", "veth")
def test_rekey_by_reapply_keeps_a_ping_going(sandbox):
    f = _copy(sandbox, "fig20.yaml", open(FIG20).read())
    apply_json(sandbox, f)
    assert ping("net1", "10.20.0.2", timeout=2)
    # new keys: each side sends with AN 1, and receives both AN 0 and AN 1
    os.environ["VNET_KEY_C"], os.environ["VNET_KEY_D"] = "11" * 16, "22" * 16
    try:
        text = open(FIG20).read()
        text = text.replace('tx: {an: 0, key_id: "01", key_file: keys/fig20-a.hex}',
                            'tx: {an: 1, key_id: "03", key_env: VNET_KEY_C}')
        text = text.replace('tx: {an: 0, key_id: "02", key_file: keys/fig20-b.hex}',
                            'tx: {an: 1, key_id: "04", key_env: VNET_KEY_D}')
        text = text.replace('sas: [{an: 0, key_id: "02", key_file: keys/fig20-b.hex}]',
                            'sas: [{an: 0, key_id: "02", key_file: keys/fig20-b.hex}, '
                            '{an: 1, key_id: "04", key_env: VNET_KEY_D}]')
        text = text.replace('sas: [{an: 0, key_id: "01", key_file: keys/fig20-a.hex}]',
                            'sas: [{an: 0, key_id: "01", key_file: keys/fig20-a.hex}, '
                            '{an: 1, key_id: "03", key_env: VNET_KEY_C}]')
        f2 = _copy(sandbox, "rekey.yaml", text)
        changes = plan_json(sandbox, f2)
        assert sorted(c["object"] for c in changes) == ["link net1/macsec0", "link net2/macsec0"]
        assert all(c["action"] == "modify" for c in changes)
        results = pings_during("net1", "10.20.0.2", lambda: apply_json(sandbox, f2), after=1.5, timeout=0.5)
        lost = results.count(False)
        assert len(results) >= 10 and lost <= 1, f"{lost} of {len(results)} pings lost while re-keying"
        assert plan_json(sandbox, f2) == []
        ipm = sandbox.sh("ip -n net1 macsec show macsec0")
        assert re.search(r"TXSC: [0-9a-f]{16} on SA 1", ipm), ipm
        tx = ipm.split("RXSC")[0]
        assert re.search(r"1: PN (\d+), state on, key 03", tx), ipm
        assert not re.search(r"\b0: PN", tx), "the old TX SA is still there"
        pn = int(re.search(r"1: PN (\d+), state on, key 03", tx).group(1))
        assert pn > 1, "the new SA carried nothing"
    finally:
        del os.environ["VNET_KEY_C"], os.environ["VNET_KEY_D"]
    sandbox.vnet("destroy", "fig20")


@pytest.mark.needs("macsec", "veth")
def test_xpn_cipher_with_salt_and_ssci(sandbox):
    """GCM-AES-XPN-256: 64-bit packet numbers, 32-byte keys, a salt and an SSCI per SA."""
    text = open(FIG20).read()
    for side, (tx_key, ssci) in {"01": ("VNET_XPN_A", 1), "02": ("VNET_XPN_B", 2)}.items():
        text = text.replace(f'key_id: "{side}", key_file: keys/fig20-{"a" if side == "01" else "b"}.hex',
                            f'key_id: "{side}", key_env: {tx_key}, ssci: {ssci}, salt: "{side * 12}"')
    text = text.replace("encrypt: true", "encrypt: true\n    cipher: gcm-aes-xpn-256")
    os.environ["VNET_XPN_A"], os.environ["VNET_XPN_B"] = "a1" * 32, "b2" * 32
    try:
        f = _copy(sandbox, "xpn.yaml", text)
        apply_json(sandbox, f)
        assert plan_json(sandbox, f) == []
    finally:
        del os.environ["VNET_XPN_A"], os.environ["VNET_XPN_B"]
    assert ping("net1", "10.20.0.2", timeout=2) and ping("net2", "10.20.0.1", timeout=2)
    ipm = sandbox.sh("ip -n net1 macsec show macsec0")
    assert "GCM-AES-XPN-256" in ipm, ipm
    assert "ssci" in ipm.lower()
    sandbox.vnet("destroy", "fig20")
