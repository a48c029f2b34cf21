"""`vnet tunnel` (Figure 1b): packets of every size both ways, TCP and UDP,
layer 3 and layer 2; with a key, forged, modified and replayed datagrams
dropped and counted; a wrong key gives nothing; a restarted end recovers."""
import fcntl
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time

import pytest

from lab import plan_json
from vnet.check.ping import ping

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIG1B = os.path.join(ROOT, "examples", "fig1b-tun-tunnel.yaml")
KEY = open(os.path.join(ROOT, "examples", "keys", "tunnel.hex")).read().strip()


def _tunnel_pids(supervisors=False):
    """The running `vnet tunnel` processes that carry packets (or, with
    ``supervisors``, those that run them for vnet apply):
    [(namespace or None, pid)...]."""
    out = []
    mine = os.stat("/proc/self/ns/mnt").st_ino   # this test's sandbox: another run's tunnels are not counted
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/cmdline", "rb") as f:
                    cmdline = f.read()
                if os.stat(f"/proc/{p}/ns/mnt").st_ino != mine:
                    continue
            except OSError:
                continue
            if b"vnet\0tunnel\0" in cmdline and (b"\0--supervise\0" in cmdline) == supervisors:
                argv = cmdline.split(b"\0")
                ns = argv[argv.index(b"--netns") + 1].decode() if b"--netns" in argv else None
                out.append((ns, int(p)))
    return out


class Ends:
    """The two tunnel processes of a test, always stopped."""

    def __init__(self, sandbox, key=KEY, key2=None, tap=False):
        self.sandbox, self.procs, self.tap = sandbox, {}, tap
        self.keys = {"site1": key, "site2": key2 if key2 is not None else key}

    def start(self, site):
        me, peer = ("192.168.1.1", "192.168.1.2") if site == "site1" else ("192.168.1.2", "192.168.1.1")
        pidfile = str(self.sandbox.tmp / f"{site}.pid")
        if os.path.exists(pidfile):
            os.unlink(pidfile)
        argv = [sys.executable, "-m", "vnet", "tunnel", "--netns", site, "--dev", "tap0" if self.tap else "tun0",
                "--listen", f"{me}:4789", "--peer", f"{peer}:4789", "--stats", self.stats(site),
                "--pidfile", pidfile]
        env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")}
        if self.keys[site]:
            argv += ["--key-env", "TUNNEL_KEY"]
            env["TUNNEL_KEY"] = self.keys[site]
        argv += ["--tap"] if self.tap else []
        p = self.procs[site] = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
        end = time.monotonic() + 30   # the pid file: it runs, and handles its signals
        while not os.path.exists(pidfile) and p.poll() is None and time.monotonic() < end:
            time.sleep(0.01)
        if p.poll() is not None or not os.path.exists(pidfile):
            p.kill()
            p.wait()
            self.procs.pop(site)
            raise AssertionError(f"the {site} end did not start: {p.stderr.read()}")

    def stats(self, site):
        return str(self.sandbox.tmp / f"{site}.stats")

    def counters(self, site):
        """The counters, as the tunnel writes them when asked (SIGUSR1)."""
        def written():   # each write is a new file put in place
            try:
                st = os.stat(self.stats(site))
            except FileNotFoundError:
                return None
            return st.st_ino, st.st_mtime_ns
        before = written()
        os.kill(self.procs[site].pid, signal.SIGUSR1)
        end = time.monotonic() + 10
        while written() == before and time.monotonic() < end:
            time.sleep(0.01)
        with open(self.stats(site)) as f:
            return json.load(f)

    def stop(self, site, sig=signal.SIGTERM):
        p = self.procs.pop(site)
        p.send_signal(sig)
        p.wait(10)

    def __enter__(self):
        try:
            self.start("site1")
            self.start("site2")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        for site in list(self.procs):
            self.stop(site)


def _apply(sandbox, tap=False):
    """Figure 1b without its tunnel options: the test runs the ends itself."""
    import re
    body = re.sub(r"\n    tunnel: \{[^}]*\}", "", open(FIG1B).read())
    if tap:
        body = body.replace("name: tun0\n    kind: tun", "name: tap0\n    kind: tap")
    # no IPv6 of their own on the tunnel's devices: the counters move for the tests' traffic alone
    dev = "tap0" if tap else "tun0"
    body = body.replace("checks:", "sysctls:\n" + "".join(
        f"  - {{netns: {ns}, key: net.ipv6.conf.{dev}.disable_ipv6, value: 1}}\n" for ns in ("site1", "site2"))
        + "checks:")
    f = sandbox.write("fig1b.yaml", body)
    sandbox.vnet("apply", f)
    return f


def _sizes_cross(ns, dst, mtu):
    """Echoes of sizes up to the MTU (don't fragment) all answered."""
    for size in (0, 1, 56, 500, 1000, mtu - 28 - 1, mtu - 28):
        assert ping(ns, dst, timeout=2, size=size, df=True), f"{size}-byte echo from {ns} to {dst} lost"
    assert not ping(ns, dst, timeout=1, size=mtu - 28 + 1, df=True), "a packet above the MTU passed unfragmented"


def _socket(ns, kind):
    from vnet.kernel.session import Kernel
    with Kernel() as k, k.entered(ns):
        return socket.socket(socket.AF_INET, kind)


def _udp_every_size(src, dst, dst_addr, mtu):
    """A UDP datagram of every payload size the MTU allows, don't fragment,
    from namespace ``src`` to ``dst``, each received intact (in lockstep: no
    buffer anywhere may overflow)."""
    rx, tx = _socket(dst, socket.SOCK_DGRAM), _socket(src, socket.SOCK_DGRAM)
    with rx, tx:
        rx.bind((dst_addr, 5001))
        rx.settimeout(2)
        tx.setsockopt(socket.IPPROTO_IP, 10, 2)   # IP_MTU_DISCOVER: IP_PMTUDISC_DO
        for size in range(mtu - 28 + 1):
            data = os.urandom(size)
            for _try in range(3):   # the first may wait for the neighbour to resolve
                tx.sendto(data, (dst_addr, 5001))
                try:
                    got = rx.recv(65536)
                except socket.timeout:
                    continue
                break
            else:
                raise AssertionError(f"a {size}-byte UDP datagram from {src} to {dst} was lost three times")
            assert got == data, f"a {size}-byte UDP datagram from {src} to {dst} came out as {len(got)} other bytes"


def _tcp_stream(src, dst, dst_addr, nbytes=8 << 20):
    """``nbytes`` of TCP from ``src`` to a server in ``dst``, which answers
    with their SHA-256: equal to what was sent."""
    import hashlib
    import threading
    data = os.urandom(nbytes)
    srv, cli = _socket(dst, socket.SOCK_STREAM), _socket(src, socket.SOCK_STREAM)
    with srv, cli:
        srv.bind((dst_addr, 5002))
        srv.listen(1)
        srv.settimeout(10)

        def serve():
            conn, _a = srv.accept()
            with conn:
                conn.settimeout(20)
                h, left = hashlib.sha256(), nbytes
                while left:
                    chunk = conn.recv(1 << 20)
                    if not chunk:
                        break
                    h.update(chunk)
                    left -= len(chunk)
                conn.sendall(h.digest())
        t = threading.Thread(target=serve, daemon=True)
        t.start()
        cli.settimeout(20)
        cli.connect((dst_addr, 5002))
        cli.sendall(data)
        assert cli.recv(32) == hashlib.sha256(data).digest(), f"TCP from {src} to {dst}: the bytes came out changed"
        t.join(5)


@pytest.mark.needs("veth")
@pytest.mark.parametrize("tap", [False, True], ids=["tun-l3", "tap-l2"])
@pytest.mark.parametrize("key", [KEY, None], ids=["sealed", "plain"])
def test_every_size_both_ways_tcp_and_udp(sandbox, tap, key):
    f = _apply(sandbox, tap)
    dev = "tap0" if tap else "tun0"
    with Ends(sandbox, key=key, tap=tap) as ends:
        mtu = sandbox.links("site1")[dev]["mtu"]
        assert mtu == 1500 - 28 - 16 - 10 - (16 if key else 0) - (14 if tap else 0)
        _sizes_cross("site1", "10.99.0.2", mtu)
        _sizes_cross("site2", "10.99.0.1", mtu)
        _udp_every_size("site1", "site2", "10.99.0.2", mtu)
        _udp_every_size("site2", "site1", "10.99.0.1", mtu)
        before = ends.counters("site1")
        _tcp_stream("site1", "site2", "10.99.0.2")
        _tcp_stream("site2", "site1", "10.99.0.1")
        r = sandbox.vnet("check", "--json", f, check=False)
        failed = [c["check"] for c in json.loads(r.stdout)["checks"] if not c["ok"]]
        # plain: the inner addresses are seen on the underlay, as the example's last check says
        assert len(failed) == (0 if key else 1) and all("contains" in c for c in failed), r.stdout
        if not key:
            assert "NO KEY" in ends.procs["site1"].stderr.readline()
        c = ends.counters("site1")
        assert sum(c["drops"].values()) == 0, c
        sent, carried = c["tx_packets"] - before["tx_packets"], c["tx_bytes"] - before["tx_bytes"]
        assert carried >= 8 << 20
        # the offload mode at work: the stream's packets crossed as super-packets, many MTUs each
        assert carried / sent > 4 * mtu, f"{sent} messages for {carried} bytes: no super-packets"
    sandbox.vnet("destroy", f)


def _datagrams(sandbox, ends, sender=(192, 168, 1, 1), answered=True):
    """Real tunnel datagrams sent by ``sender`` (site1; site2 is .2), taken
    off site2's underlay while site1 pings across (answered, or not when
    site2's end is not running)."""
    from vnet.check.capture import Capture, udp_dport
    from vnet.kernel.session import Kernel
    with Kernel() as k, Capture(k, "site2", "wan") as cap:
        assert ping("site1", "10.99.0.2", timeout=2 if answered else 0.5) == answered
    out = []
    for fr in cap.frames:
        if udp_dport(fr) == 4789 and fr.data[12:14] == b"\x08\x00" and fr.data[26:30] == bytes(sender):
            ihl = (fr.data[14] & 0xF) * 4
            out.append(fr.data[14 + ihl + 8:14 + ihl + struct.unpack("!H", fr.data[14 + ihl + 4:14 + ihl + 6])[0]])
    assert out, "no tunnel datagram seen on the underlay"
    return out


def _inject(payloads):
    """Send datagrams to site2's tunnel port from a socket of the test's own."""
    from vnet.kernel.session import Kernel
    with Kernel() as k, k.entered("site1"):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with s:
        for p in payloads:
            s.sendto(p, ("192.168.1.2", 4789))
    time.sleep(0.3)


@pytest.mark.needs("veth", "udp_gso_refused_without_csum")
def test_a_path_that_refuses_udp_gso_gets_the_datagrams_one_by_one(sandbox):
    """Debian 12's kernel refuses every UDP GSO send (EIO) through a device
    that does not offload checksums: the tunnel says so and sends datagrams
    one by one; TCP both ways still crosses whole."""
    from kernel_features import tx_checksum
    from vnet.kernel.session import Kernel
    f = _apply(sandbox)
    with Kernel() as k:
        for ns in ("site1", "site2"):
            with k.entered(ns):
                tx_checksum("wan", False)
    with Ends(sandbox) as ends:
        _tcp_stream("site1", "site2", "10.99.0.2", nbytes=1 << 20)
        _tcp_stream("site2", "site1", "10.99.0.1", nbytes=1 << 20)
        for site in ("site1", "site2"):
            assert ends.counters(site)["drops"]["send_failed"] == 0
        procs = dict(ends.procs)
    for site, p in procs.items():
        assert "refuses UDP GSO" in p.stderr.read(), site
    sandbox.vnet("destroy", f)


@pytest.mark.needs("veth")
def test_forged_modified_and_replayed_datagrams_are_dropped_and_counted(sandbox):
    f = _apply(sandbox)
    with Ends(sandbox) as ends:
        real = _datagrams(sandbox, ends)
        before = ends.counters("site2")
        _inject([real[0]])                                   # replayed
        # modified: a counter not seen yet (else it is dropped as a replay before
        # any decryption) and one bit of the ciphertext flipped
        flipped = bytearray(real[-1])
        flipped[2:8] = (int.from_bytes(flipped[2:8], "little") + 1000).to_bytes(6, "little")
        flipped[-20] ^= 0x01
        _inject([bytes(flipped)])
        head = struct.Struct("<BB6s6sBx")   # type, count, counter (little-endian), epoch, index
        _inject([head.pack(0x5B, 1, b"\1\0\0\0\0\0", b"\xff" * 6, 0) + os.urandom(60)])   # forged
        _inject([head.pack(0x5A, 1, b"\1\0\0\0\0\0", b"\0" * 6, 0) + b"plaintext"])      # unsealed, to a tunnel with a key
        after = ends.counters("site2")
        d0, d1 = before["drops"], after["drops"]
        assert d1["replayed"] == d0["replayed"] + 1
        assert d1["forged"] == d0["forged"] + 2
        assert d1["unsealed"] == d0["unsealed"] + 1
        assert after["rx_packets"] == before["rx_packets"], "an injected datagram reached the device"
        assert ping("site1", "10.99.0.2"), "the tunnel stopped working after the attack"
    sandbox.vnet("destroy", f)


@pytest.mark.needs("veth")
def test_one_flipped_bit_alone_gets_a_datagram_dropped(sandbox):
    """A datagram the receiver has not seen (taken off the wire while its end
    was down), one ciphertext bit flipped: dropped as forged; the same
    datagram untouched: taken."""
    f = _apply(sandbox)
    with Ends(sandbox) as ends:
        assert ping("site1", "10.99.0.2")
        ends.stop("site2")
        unseen = _datagrams(sandbox, ends, answered=False)[-1]
        ends.start("site2")
        before = ends.counters("site2")
        flipped = bytearray(unseen)
        flipped[-20] ^= 0x01                                 # in the ciphertext (the tag is the last 16)
        _inject([bytes(flipped)])
        mid = ends.counters("site2")
        assert mid["drops"]["forged"] == before["drops"]["forged"] + 1
        assert mid["rx_packets"] == before["rx_packets"]
        _inject([unseen])
        after = ends.counters("site2")
        assert after["rx_packets"] == mid["rx_packets"] + 1 and after["drops"] == mid["drops"]   # taken
    sandbox.vnet("destroy", f)


@pytest.mark.needs("veth")
def test_an_end_drops_its_own_datagrams_sent_back_to_it(sandbox):
    """Both ends hold one key. site2 started last, so its session is the
    newer: its own datagram, sent back to it, would be taken as its peer's
    restart, and site1's traffic dropped from then on as an old session."""
    f = _apply(sandbox)
    with Ends(sandbox) as ends:
        own = _datagrams(sandbox, ends, sender=(192, 168, 1, 2))
        before = ends.counters("site2")
        _inject(own[-1:])                                   # to site2's port, from site1's namespace
        after = ends.counters("site2")
        assert after["drops"]["reflected"] == before["drops"]["reflected"] + 1
        assert after["rx_packets"] == before["rx_packets"], "site2 took its own datagram for its peer's"
        assert ping("site1", "10.99.0.2") and ping("site2", "10.99.0.1"), "the reflection cut the tunnel"
    sandbox.vnet("destroy", f)


def test_addresses_that_cannot_make_a_tunnel_are_refused_before_anything_is_made(sandbox):
    for listen, peer, said in [("tunnel.example:4789", "10.0.0.2:4789", "'tunnel.example' is not an IP address"),
                               ("10.0.0.1:4789", "[fd00::2]:4789", "one is IPv4, the other IPv6"),
                               ("10.0.0.1:4789", "10.0.0.1:4789", "the same address"),
                               ("0.0.0.0:4789", "10.0.0.2:4789", "give the address, or another port")]:
        r = sandbox.vnet("tunnel", "--dev", "tun0", "--listen", listen, "--peer", peer, check=False)
        assert r.returncode == 2 and said in r.stderr and "Traceback" not in r.stderr, (listen, peer, r.stderr)
        assert "tun0" not in sandbox.links()
    # told not to make its device (as a supervisor starts an end again): none there, none made
    r = sandbox.vnet("tunnel", "--no-create", "--dev", "tun0", "--listen", "10.0.0.1:4789", "--peer", "10.0.0.2:4789",
                     check=False)
    assert r.returncode == 7 and "tun0: no such device" in r.stderr, r.stderr
    assert "tun0" not in sandbox.links()


@pytest.mark.needs("veth")
def test_wrong_key_gives_no_connectivity(sandbox):
    f = _apply(sandbox)
    with Ends(sandbox, key=KEY, key2="ab" * 32) as ends:
        assert not ping("site1", "10.99.0.2", timeout=1, count=2)
        assert ends.counters("site2")["drops"]["forged"] >= 1
    sandbox.vnet("destroy", f)


@pytest.mark.needs("veth")
def test_a_restarted_end_recovers(sandbox):
    f = _apply(sandbox)
    with Ends(sandbox) as ends:
        for sig in (signal.SIGKILL, signal.SIGTERM):          # killed, or stopped
            assert ping("site1", "10.99.0.2")
            ends.stop("site1", sig)
            assert not ping("site1", "10.99.0.2", timeout=1)
            ends.start("site1")                             # a new session: counters from 1 again
            assert ping("site1", "10.99.0.2", timeout=2), f"no traffic after the restart ({sig.name})"
            assert ping("site2", "10.99.0.1", timeout=2)
            assert ends.counters("site2")["drops"]["stale_session"] == 0
    assert plan_json(sandbox, f) == []
    sandbox.vnet("destroy", f)


@pytest.mark.needs("veth")
def test_sigterm_ends_the_tunnel_cleanly_with_its_last_counters_written(sandbox):
    f = _apply(sandbox)
    with Ends(sandbox) as ends:
        assert all(ping("site1", "10.99.0.2") for _ in range(3))
        p = ends.procs.pop("site1")
        assert not os.path.exists(ends.stats("site1"))   # written only when asked, and at the end
        p.send_signal(signal.SIGTERM)
        assert p.wait(5) == 0, p.stderr.read()
        with open(ends.stats("site1")) as fh:   # written on the way out
            last = json.load(fh)
        assert last["tx_packets"] >= 3 and last["rx_packets"] >= 3 and last["tx_bytes"] >= 3 * 84
        assert "Traceback" not in p.stderr.read()
    sandbox.vnet("destroy", f)


@pytest.mark.needs("veth")
def test_a_tunnel_whose_device_is_deleted_ends_and_says_so(sandbox):
    """Not a loop woken for ever by a device that is no more."""
    f = _apply(sandbox)
    with Ends(sandbox) as ends:
        sandbox.sh("ip -n site1 link del tun0")
        p = ends.procs.pop("site1")
        try:
            rc = p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            raise AssertionError("the tunnel ran on without its device") from None
        err = p.stderr.read()
        assert rc == 7 and "vnet tunnel: tun0: its device is gone" in err and "Traceback" not in err, err
    sandbox.vnet("destroy", f)


@pytest.mark.needs("veth")
def test_counters_asked_for_as_soon_as_the_pid_file_appears_do_not_end_the_tunnel(sandbox):
    """vnet show and apply's verify send SIGUSR1 once the pid file is there;
    a tunnel that wrote it before handling the signal died of it (apply,
    after restarting a killed end, left it dead one time in seven)."""
    _apply(sandbox)
    pidfile, stats = str(sandbox.tmp / "t.pid"), str(sandbox.tmp / "t.stats")
    argv = [sys.executable, "-m", "vnet", "tunnel", "--netns", "site1", "--dev", "tun0", "--listen",
            "192.168.1.1:4789", "--peer", "192.168.1.2:4789", "--pidfile", pidfile, "--stats", stats]
    p = subprocess.Popen(argv, env={**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")},
                         stderr=subprocess.PIPE, text=True)
    try:
        end = time.monotonic() + 15
        while not os.path.exists(pidfile) and p.poll() is None and time.monotonic() < end:
            time.sleep(0.001)
        assert os.path.exists(pidfile), p.stderr.read() if p.poll() is not None else "no pid file in 15 s"
        os.kill(p.pid, signal.SIGUSR1)
        end = time.monotonic() + 10
        while not os.path.exists(stats) and p.poll() is None and time.monotonic() < end:
            time.sleep(0.01)
        assert p.poll() is None, f"the tunnel ended on SIGUSR1 (exit {p.returncode})"
        with open(stats) as f:   # the counters it wrote when asked
            assert json.load(f)["drops"]["forged"] == 0
    finally:
        p.terminate()
        p.wait(10)


@pytest.mark.needs("veth")
def test_apply_runs_the_tunnel_supervised_and_destroy_stops_it(sandbox):
    def tunnels(supervisors=False):
        return dict(_tunnel_pids(supervisors))
    assert tunnels() == {} and tunnels(True) == {}
    r = sandbox.vnet("apply", "--check", FIG1B, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    ends, sups = tunnels(), tunnels(True)
    assert sorted(ends) == sorted(sups) == ["site1", "site2"]
    assert all(_ppid(ends[ns]) == sups[ns] for ns in ends), (ends, sups)
    assert plan_json(sandbox, FIG1B) == []
    shown = json.loads(sandbox.vnet("show", "--json", FIG1B).stdout)["devices"]
    t = next(d for d in shown if d["netns"] == "site1" and d["name"] == "tun0")
    assert t["tunnel_counters"]["tx_packets"] > 0 and t["tunnel_counters"]["drops"]["forged"] == 0
    assert KEY not in sandbox.vnet("show", "--json", FIG1B).stdout
    # the end itself dies: its supervisor starts it again, nobody has to apply
    os.kill(ends["site1"], signal.SIGKILL)
    assert ping("site1", "10.99.0.2", timeout=1, count=10), "no traffic after the end was killed"
    again = tunnels()
    assert again["site1"] != ends["site1"] and _ppid(again["site1"]) == sups["site1"]
    assert plan_json(sandbox, FIG1B) == []
    log = open(os.path.join(os.path.dirname(_pidfile("site1")), "tun0.log")).read()
    assert "ended (signal SIGKILL): starting it again" in log, log
    # the supervisor dies: its end goes with it, the plan says so and apply starts both again
    os.kill(sups["site1"], signal.SIGKILL)
    end = time.monotonic() + 5
    while "site1" in tunnels() and time.monotonic() < end:
        time.sleep(0.05)
    assert "site1" not in tunnels(), "an end outlived its supervisor"
    changes = plan_json(sandbox, FIG1B)
    assert len(changes) >= 1 and "vnet tunnel not running" in changes[0]["reason"], changes
    r = sandbox.vnet("apply", "--check", FIG1B, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert sorted(tunnels()) == sorted(tunnels(True)) == ["site1", "site2"] and plan_json(sandbox, FIG1B) == []
    # its device deleted: the end says so, and the supervisor does not start it again (for nothing)
    sandbox.sh("ip -n site2 link del tun0")
    end = time.monotonic() + 5
    while ("site2" in tunnels() or "site2" in tunnels(True)) and time.monotonic() < end:
        time.sleep(0.05)
    assert "site2" not in tunnels() and "site2" not in tunnels(True)
    log = open(os.path.join(os.path.dirname(_pidfile("site2")), "tun0.log")).read()
    assert "its device is gone" in log and "exit code 7: not started again" in log, log
    r = sandbox.vnet("apply", "--check", FIG1B, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    sandbox.vnet("destroy", FIG1B)
    assert tunnels() == tunnels(True) == {}, "a tunnel process outlived destroy"


@pytest.mark.needs("veth")
def test_a_supervised_tunnel_run_by_hand_makes_its_device_again_after_a_crash(sandbox):
    """`vnet tunnel --supervise` for a device that is not there: the end makes
    it (gone with the end, not persistent), so an end started again must make
    it again, not end for want of it."""
    _apply(sandbox)
    pidfile = str(sandbox.tmp / "hand.pid")
    sup = subprocess.Popen([sys.executable, "-m", "vnet", "tunnel", "--supervise", "--pidfile", pidfile,
                            "--netns", "site1", "--dev", "tun9", "--listen", "192.168.1.1:4790",
                            "--peer", "192.168.1.2:4790"], env={**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")},
                           stderr=subprocess.PIPE, text=True)
    try:
        end = time.monotonic() + 30
        while not os.path.exists(pidfile + ".child") and sup.poll() is None and time.monotonic() < end:
            time.sleep(0.02)
        first = int(open(pidfile + ".child").read().split()[0])
        assert "tun9" in sandbox.links("site1")
        os.kill(first, signal.SIGKILL)
        end = time.monotonic() + 30
        while time.monotonic() < end:
            try:
                again = int(open(pidfile + ".child").read().split()[0])
            except (OSError, ValueError, IndexError):
                again = first
            if again != first:
                break
            time.sleep(0.05)
        assert again != first and sup.poll() is None, "the end was not started again"
        assert "tun9" in sandbox.links("site1")
    finally:
        sup.terminate()
        assert sup.wait(15) == 0
    assert "tun9" not in sandbox.links("site1")


def _ppid(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rpartition(")")[2].split()[1])


def _pidfile(ns):
    from vnet import daemon
    return daemon.paths("tunnel", ns, "tun0")[2]


@pytest.mark.needs("veth")
def test_a_pid_given_to_another_process_since_is_never_signalled(sandbox):
    """A dead tunnel's pid file outlives it; once the kernel gives the pid to
    another process, show (SIGUSR1, whose default ends a process), plan and
    destroy (SIGTERM) must leave that process alone."""
    from vnet import daemon
    sandbox.vnet("apply", FIG1B)
    pidfile = _pidfile("site1")
    tunnel_pid, started = open(pidfile).read().split()
    assert started == daemon._started(int(tunnel_pid))
    os.kill(int(tunnel_pid), signal.SIGKILL)
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        with open(pidfile, "w") as f:     # as if the kernel had given the pid to `sleep`
            f.write(f"{stranger.pid} {started}\n")
        time.sleep(0.2)
        sandbox.vnet("show", FIG1B)
        changes = plan_json(sandbox, FIG1B)
        assert any("vnet tunnel not running" in c["reason"] for c in changes), changes
        sandbox.vnet("destroy", FIG1B)
        assert stranger.poll() is None, f"the stranger got a signal (exit {stranger.returncode})"
    finally:
        stranger.kill()
        stranger.wait()


def _priority(pid):
    """(the process's nice, its autogroup's nice or None: None without
    autogroups, and for a process in the root group, whose file is empty, as
    under a CI runner that never started a session of its own)."""
    with open(f"/proc/{pid}/stat") as f:
        nice = int(f.read().rpartition(")")[2].split()[16])
    try:
        with open(f"/proc/{pid}/autogroup") as f:
            words = f.read().split()
    except OSError:
        words = []
    return nice, int(words[-1]) if words else None


@pytest.mark.needs("veth")
def test_the_tunnel_runs_ahead_of_the_processes_it_serves_unless_told_otherwise(sandbox):
    """By default a tunnel runs at nice -5, and so does the autogroup of the
    session apply starts it in (a task's nice alone weighs nothing against
    other sessions); `nice:` (`--nice`) sets another, and the equivalent
    commands carry it (with the underlay's MTU)."""
    body = open(FIG1B).read().replace('peer: "192.168.1.1:4789", key_file', 'peer: "192.168.1.1:4789", nice: 3, key_file')
    body = body.replace("key_file: keys/", "underlay_mtu: 1400, key_file: keys/")
    assert "nice: 3" in body and body.count("underlay_mtu: 1400") == 2
    f = sandbox.write("fig1b.yaml", body.replace("key_file: keys/", "key_file: " + os.path.join(ROOT, "examples", "keys") + "/"))
    r = sandbox.vnet("apply", "--check", f, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    found = _tunnel_pids()
    assert sorted(ns for ns, _pid in found) == ["site1", "site2"]
    pids = dict(found)
    autogroups = os.path.exists(f"/proc/{pids['site1']}/autogroup")
    assert _priority(pids["site1"]) == (-5, -5 if autogroups else None)
    assert _priority(pids["site2"]) == (3, 3 if autogroups else None)
    assert plan_json(sandbox, f) == []
    script = sandbox.vnet("script", f).stdout
    assert "--nice 3" in script and script.count("--nice") == 1, script
    assert script.count("--underlay-mtu 1400") == 2, script
    sandbox.vnet("destroy", f)
    # run by hand, in a session it does not lead (a shell's, made for it, so
    # that its group starts at 0 whatever group the test runs in): its own
    # priority, its group's left alone
    _apply(sandbox)
    pidfile = sandbox.tmp / "hand.pid"
    shell = subprocess.Popen(["setsid", "sh", "-c", '"$@" & wait', "sh", sys.executable, "-m", "vnet", "tunnel",
                              "--netns", "site1", "--dev", "tun0", "--listen", "192.168.1.1:4789",
                              "--peer", "192.168.1.2:4789", "--pidfile", str(pidfile)],
                             env={**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")}, stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            if pidfile.exists() or shell.poll() is not None:
                break
            time.sleep(0.1)
        assert pidfile.exists(), shell.stderr.read() if shell.poll() is not None else "no pid file in 10 s"
        hand = int(pidfile.read_text().split()[0])
        assert os.getsid(hand) == shell.pid != hand
        assert _priority(hand) == (-5, 0 if autogroups else None)
    finally:
        if pidfile.exists():
            os.kill(int(pidfile.read_text().split()[0]), signal.SIGTERM)
        shell.wait(10)
    r = subprocess.run([sys.executable, "-m", "vnet", "tunnel", "--dev", "tun0", "--listen", "1.2.3.4:1", "--peer",
                        "1.2.3.4:2", "--nice", "20"], env={**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")},
                       capture_output=True, text=True)
    assert r.returncode == 1 and "a nice value is -20..19" in r.stderr, r.stderr   # a usage error


@pytest.mark.needs("veth")
def test_tun_api_reads_and_writes_packets_on_queues(sandbox):
    """vnet.tun: a multi-queue TUN in a namespace; an ICMP echo sent to an
    address behind it is read from a queue, and an answer written back is
    received by the sender."""
    import selectors
    from vnet import tun
    from vnet.check.ping import ping as ping_
    import threading
    sandbox.sh("ip netns add t1")
    with tun.open("tq0", netns="t1", queues=2) as dev:
        assert len(dev.queues) == 2 and dev.fileno() == dev.queues[0].fileno()
        sandbox.sh("ip -n t1 addr add 10.123.0.1/24 dev tq0 && ip -n t1 link set tq0 up")
        answered = []

        def responder():
            sel = selectors.DefaultSelector()
            for q in dev.queues:
                sel.register(q, selectors.EVENT_READ)
            end = time.monotonic() + 5
            while time.monotonic() < end and not answered:
                for key, _e in sel.select(0.2):
                    pkt = key.fileobj.read()
                    if len(pkt) >= 28 and pkt[9] == 1 and pkt[20] == 8:   # IPv4 ICMP echo request
                        ihl = (pkt[0] & 0xF) * 4
                        icmp = bytearray(pkt[ihl:])
                        icmp[0] = 0
                        icmp[2:4] = b"\0\0"
                        s = sum(struct.unpack(f"!{len(icmp) // 2}H", bytes(icmp[:len(icmp) // 2 * 2])))
                        s = (s >> 16) + (s & 0xFFFF)
                        icmp[2:4] = struct.pack("!H", ~(s + (s >> 16)) & 0xFFFF)
                        ip = bytearray(pkt[:ihl])
                        ip[12:16], ip[16:20] = pkt[16:20], pkt[12:16]
                        key.fileobj.write(bytes(ip) + bytes(icmp))
                        answered.append(len(pkt))
        t = threading.Thread(target=responder)
        t.start()
        assert ping_("t1", "10.123.0.2", timeout=3), "the answer written to the TUN did not arrive"
        t.join()
        assert answered
        # the kernel spreads flows over the queues: datagrams of 64 flows (source ports) reach both
        dev.set_blocking(False)
        out = _socket("t1", socket.SOCK_DGRAM)
        with out:
            for port in range(40000, 40064):
                out.sendto(b"flow", ("10.123.0.2", port))
        time.sleep(0.2)
        per_queue = []
        for q in dev.queues:
            n = 0
            while True:
                try:
                    n += q.read()[9] == 17
                except BlockingIOError:
                    break
            per_queue.append(n)
        assert sum(per_queue) == 64 and min(per_queue) > 0, f"UDP datagrams read per queue: {per_queue}"
    assert "tq0" not in sandbox.links("t1"), "a device tun.open created outlived its last queue"


def test_tun_api_with_asyncio(sandbox):
    """fileno() is all asyncio needs: a reader on the device's descriptor gets
    the echo request sent to an address behind it."""
    import asyncio
    from vnet import tun
    from vnet.check.ping import ping as ping_
    sandbox.sh("ip netns add t3")
    with tun.open("ta0", netns="t3") as dev:
        sandbox.sh("ip netns exec t3 sysctl -qw net.ipv6.conf.ta0.disable_ipv6=1 && "
                   "ip -n t3 addr add 10.127.0.1/24 dev ta0 && ip -n t3 link set ta0 up")
        dev.set_blocking(False)

        async def first_echo_request():
            loop, got = asyncio.get_running_loop(), asyncio.Queue()
            loop.add_reader(dev.fileno(), lambda: got.put_nowait(dev.read()))
            try:
                await loop.run_in_executor(None, lambda: ping_("t3", "10.127.0.2", timeout=0.5))
                while True:
                    pkt = await asyncio.wait_for(got.get(), 3)
                    if pkt[9] == 1 and pkt[20] == 8:
                        return pkt
            finally:
                loop.remove_reader(dev.fileno())
        pkt = asyncio.run(first_echo_request())
    assert pkt[12:16] == bytes([10, 127, 0, 1]) and pkt[16:20] == bytes([10, 127, 0, 2])


@pytest.mark.needs("veth")
def test_tun_offload_mode_reads_packets_with_their_virtio_header(sandbox):
    """offload=True: each read starts with a virtio_net_hdr; an echo request
    comes as one IPv4 packet that is no super-packet (gso_type none)."""
    from vnet import tun
    from vnet.check.ping import ping as ping_
    sandbox.sh("ip netns add t2")
    with tun.open("to0", netns="t2", offload=True) as dev:
        sandbox.sh("ip -n t2 addr add 10.124.0.1/24 dev to0 && ip -n t2 link set to0 up")
        dev.set_blocking(False)
        ping_("t2", "10.124.0.2", timeout=0.5)   # nobody answers; the request is what we read
        got = None
        for _ in range(20):
            try:
                hdr, pkt = dev.read_vnet()
            except BlockingIOError:
                continue
            if pkt[0] >> 4 == 4 and pkt[9] == 1:
                got = (hdr, bytes(pkt))
                break
        assert got is not None, "no ICMP packet read from the offload-mode TUN"
        assert got[0][1] == tun.GSO_NONE and got[1][16:20] == bytes([10, 124, 0, 2])


class _Joined:
    """Two offload-mode TUNs named so0 in namespaces ``a`` and ``b``
    (10.125.0.1 and .2), joined by the test's own loop: read_vnet from one,
    write_vnet to the other; ``seen``: (gso_type, gso_size, length) of each
    packet read."""

    def __init__(self, sandbox, a, b, **kw):
        from vnet import tun
        sandbox.sh(f"ip netns add {a} && ip netns add {b}")
        self.devs = [tun.open("so0", netns=ns, offload=True, **kw) for ns in (a, b)]
        for ns, me, other in ((a, "10.125.0.1", "10.125.0.2"), (b, "10.125.0.2", "10.125.0.1")):
            sandbox.sh(f"ip -n {ns} addr add {me} peer {other} dev so0 && ip -n {ns} link set so0 up")
        self.seen = []

    def carry(self):
        ep = select.epoll()
        a, b = self.devs
        for d in self.devs:
            ep.register(d.fileno(), select.EPOLLIN)
        while not self.stop.is_set():
            for fd, _ev in ep.poll(0.1):
                src, dst = (a, b) if fd == a.fileno() else (b, a)
                hdr, pkt = src.read_vnet()
                self.seen.append((hdr[1], hdr[3], len(pkt)))
                dst.write_vnet(hdr, pkt)
        ep.close()

    def __enter__(self):
        import threading
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.carry, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)
        for d in self.devs:
            d.close()


@pytest.mark.needs("veth")
def test_tun_offload_mode_hands_over_and_takes_back_tcp_super_packets(sandbox):
    """A TCP stream through two offload-mode TUNs joined by the test's own
    loop crosses intact, and what the loop read includes TCP super-packets
    (gso_type TCPV4, many MTUs long), which the other device took back whole."""
    from vnet import tun
    with _Joined(sandbox, "ta", "tb") as j:
        _tcp_stream("ta", "tb", "10.125.0.2", nbytes=4 << 20)
    supers = [s for s in j.seen if s[0] == tun.GSO_TCPV4]
    assert supers, f"no TCP super-packet among {len(j.seen)} packets read"
    assert max(n for _t, _g, n in supers) > 8 * 1500 and all(0 < g <= 1500 for _t, g, _n in supers)


@pytest.mark.needs("tun_uso")
def test_tun_udp_offload_hands_over_and_takes_back_udp_super_packets(sandbox):
    """udp_offload=True: one UDP_SEGMENT send of 20 datagrams is read as one
    super-packet (gso_type UDP_L4, gso_size 1000); written to the other
    device, it reaches the receiver as the 20 datagrams."""
    from vnet import tun
    with _Joined(sandbox, "ua", "ub", udp_offload=True) as j:
        rx, tx = _socket("ub", socket.SOCK_DGRAM), _socket("ua", socket.SOCK_DGRAM)
        with rx, tx:
            rx.bind(("10.125.0.2", 5003))
            rx.settimeout(3)
            data = os.urandom(20 * 1000)
            tx.sendmsg([data], [(17, 103, struct.pack("=H", 1000))], 0, ("10.125.0.2", 5003))   # UDP_SEGMENT
            got = [rx.recv(2000) for _ in range(20)]
    assert got == [data[i:i + 1000] for i in range(0, 20000, 1000)]
    assert (tun.GSO_UDP_L4, 1000, 20 * 1000 + 28) in j.seen, j.seen
    with pytest.raises(ValueError, match="udp_offload needs offload=True"):
        tun.open("x0", udp_offload=True)


class _Pipe:
    """One end of a pipe where the loop expects its device (fileno() is all it uses)."""

    def __init__(self, fd):
        self.fd = fd
        fcntl.fcntl(fd, 1031, 1 << 20)   # F_SETPIPE_SZ: room for the largest message
        os.set_blocking(fd, False)

    def fileno(self):
        return self.fd


class _Loop:
    """Two tunnel ends driven by the test (from_device, from_peer) over UDP
    between ``addrs``, GSO out and GRO in, with pipes standing for the two
    devices so that a message of any size can be handed over."""

    def __init__(self, key, addrs=("127.0.0.1", "127.0.0.1"), nss=(None, None)):
        from vnet.tunnel.batched import UDP_GRO
        from vnet.tunnel.loop import Tunnel
        self.fds = os.pipe() + os.pipe()
        self.socks = [_socket(ns, socket.SOCK_DGRAM) for ns in nss]
        for s, addr in zip(self.socks, addrs):   # the buffers vnet tunnel gives its socket
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
            s.bind((addr, 0))
            s.setblocking(False)
        self.socks[1].setsockopt(17, UDP_GRO, 1)
        self.a = Tunnel(_Pipe(self.fds[0]), self.socks[0], self.socks[1].getsockname(), key, chunk=1456)
        self.b = Tunnel(_Pipe(self.fds[3]), self.socks[1], self.socks[0].getsockname(), key, chunk=1456, role=1)
        self.a._vectors()
        self.b._vectors()
        os.set_blocking(self.fds[2], False)

    def cross(self, size):
        """A message of ``size`` bytes in at a's device: what comes out of b's."""
        msg = os.urandom(size)
        assert os.write(self.fds[1], msg) == size
        self.a.from_device()
        got, deadline = b"", time.monotonic() + 5
        while len(got) < size and time.monotonic() < deadline:   # lo may hand over in softirq, later
            select.select([self.socks[1]], [], [], 0.1)
            self.b.from_peer()
            try:
                got += os.read(self.fds[2], 1 << 20)
            except BlockingIOError:
                pass
        return msg, got

    def close(self):
        for s in self.socks:
            s.close()
        for fd in self.fds:
            os.close(fd)


SIZES = (10, 11, 1000, 1456 - 16 - 16, 1456, 20000, None, None, 65000)   # None: one_send, one_send + 1


def _sizes(key):
    from vnet.tunnel.wire import GSO_BYTES, HEADER
    one_send = GSO_BYTES // (HEADER + 1456) * 1456 - (16 if key else 0)
    return [s if s else one_send + (i == 7) for i, s in enumerate(SIZES)]


def test_the_loop_sends_one_gso_burst_per_message_and_splits_what_one_send_cannot_carry(sandbox):
    """The tunnel's own loop end to end over UDP on lo: every size crosses
    intact, in order, plain and sealed; a message of more datagrams than one
    GSO send carries (only possible when the device ignores gso_max_size)
    leaves in two."""
    for key in (None, bytes.fromhex(KEY)):
        loop = _Loop(key)
        try:
            for size in _sizes(key):
                msg, got = loop.cross(size)
                assert got == msg, (f"a {size}-byte message came out as {len(got)} bytes "
                                    f"({'sealed' if key else 'plain'}): {loop.a.stats}, {loop.b.stats}")
            a, b = loop.a, loop.b
            assert a.stats["tx_packets"] == b.stats["rx_packets"] == 9
            # one burst per message, but the two that took two sends: their first burst is incomplete
            assert b.stats["rx_whole"] == 7 and b.stats["rx_chunks"] == 2 * (44 + 1)
            assert sum(a.stats["drops"].values()) == sum(b.stats["drops"].values()) == 0
        finally:
            loop.close()


@pytest.mark.needs("veth", "udp_gso_refused_without_csum")
def test_the_loop_gives_up_gso_on_a_path_that_refuses_it_whatever_the_send(sandbox):
    """Over a veth without checksum offload on Debian 12's kernel, every
    kind of send meets EIO once: a message of one GSO send, one split over
    two sends, a batch. Each crosses whole, nothing twice."""
    from kernel_features import tx_checksum
    from vnet.tunnel.batched import _PER_BATCH, _PER_SEND
    sandbox.sh("ip netns add lp && ip link add la type veth peer name lb netns lp && "
               "ip addr add 10.128.0.1/24 dev la && ip -n lp addr add 10.128.0.2/24 dev lb && "
               "ip link set la up && ip -n lp link set lb up")
    tx_checksum("la", False)
    for key in (None, bytes.fromhex(KEY)):
        for first in (20000, _sizes(key)[7]):   # the first to meet EIO: one send, or split over two
            loop = _Loop(key, ("10.128.0.1", "10.128.0.2"), (None, "lp"))
            try:
                for size in (first, *_sizes(key)):
                    msg, got = loop.cross(size)
                    assert got == msg, f"a {size}-byte message came out as {len(got)} bytes: {loop.a.stats}"
                assert loop.a.stats["drops"]["send_failed"] == 0 and not loop.a._gso
                assert loop.a._out_args[_PER_SEND] == loop.a._out_args[_PER_BATCH] == 1   # one datagram a send
                assert loop.b.stats["drops"]["incomplete"] == 0 and loop.b.stats["rx_packets"] == 10
            finally:
                loop.close()


def test_one_datagram_messages_leave_together_and_every_message_keeps_its_order(sandbox):
    """TCP's ACKs are messages of one datagram each. Read in one wakeup,
    equal sizes leave in one UDP GSO send (a shorter one may end it; a
    larger one, or a message of several datagrams, goes after the batch, from
    the slot it was read into). Seen from the test's own GRO socket: the
    bursts as planned; opened by the other end: every message, in order."""
    from vnet.tunnel.batched import UDP_GRO
    from vnet.tunnel.loop import Tunnel
    from vnet.tunnel.wire import HEADER, TAG
    sizes = [62] * 5 + [50] + [62, 62, 20000, 62, 70, 9000]
    # (datagram size, datagrams) of each send: the batch of six ends with the shorter one; 20000 bytes
    # make their own send after the batch of two; 70 bytes, larger than the batch's 62, go alone;
    # 9000 bytes from slot 0 again, whose headers the batches had written over
    for key in (None, bytes.fromhex(KEY)):
        tag = TAG if key else 0
        d = HEADER + tag
        sends = [(62 + d, 6), (62 + d, 2), (HEADER + 1456, -(-(20000 + tag) // 1456)), (62 + d, 1), (70 + d, 1),
                 (HEADER + 1456, -(-(9000 + tag) // 1456))]
        rd, wr = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)   # each write read alone, as from a TUN
        wr.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        rd.setblocking(False)
        socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
        try:
            for s in socks:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
                s.bind(("127.0.0.1", 0))
            socks[1].setsockopt(17, UDP_GRO, 1)
            a = Tunnel(rd, socks[0], socks[1].getsockname(), key, chunk=1456)
            b = Tunnel(None, None, None, key, chunk=1456, role=1)
            a._vectors()
            msgs = [os.urandom(n) for n in sizes]
            for m in msgs:
                assert wr.send(m) == len(m)
            a.from_device()
            assert a.stats["tx_packets"] == len(msgs) and sum(a.stats["drops"].values()) == 0
            got, seen = [], []
            while len(seen) < len(sends):
                r, _w, _x = select.select([socks[1]], [], [], 5)
                assert r, f"{len(seen)} of {len(sends)} sends arrived: {seen}"
                data, anc, _f, _addr = socks[1].recvmsg(1 << 17, 64)
                seg = struct.unpack("=H", anc[0][2][:2])[0] if anc else len(data)
                seen.append((seg, -(-len(data) // seg)))
                got += [bytes(m) for m in b.open_burst(memoryview(data), seg)]
            assert seen == sends
            assert got == msgs, [len(m) for m in got]
            assert sum(b.stats["drops"].values()) == 0
        finally:
            for s in socks + [rd, wr]:
                s.close()
