"""One end of the tunnel, its loop, signals and counters: ``Tunnel`` is the
sending side (``wire.Sealing``), the receiving side
(``reassembly.Reassembly``) and the I/O (``batched.BatchedIO``) around one
epoll loop that runs until SIGTERM and writes its counters on SIGUSR1 and
at the end."""
import json
import os
import select
import signal
import sys

from .batched import BatchedIO
from .reassembly import Reassembly
from .wire import Sealing

DROPS = ("forged", "replayed", "reflected", "stale_session", "malformed", "unsealed", "sealed_without_key",
         "incomplete", "send_failed", "write_failed")


class Tunnel(BatchedIO, Reassembly, Sealing):
    """One end of the tunnel. Its buffers are made once, in slots of one
    datagram each; a message takes consecutive slots (``wire.Sealing``).
    In: a burst is received as an iovec that puts the headers in one buffer
    and the payloads end to end in another, so a whole message is checked
    at once and written to the device (or decrypted) where it lies
    (``reassembly``). No per-datagram Python object, no join; a contiguous
    send because gathering 90 pieces costs the kernel about 10 us per 64 KiB
    message (measured, docs/benchmarks.md). Messages of one datagram (TCP's
    ACKs) read in one wakeup take slots 0, 1, 2... and leave together, and
    the other end takes such a batch apart (``from_device``, ``_batch``)."""

    def __init__(self, dev, sock, peer, key=None, chunk=1400, role=0):
        self._init_sending(key, chunk, role)
        self._init_io(dev, sock, peer)
        # rx_whole: messages taken whole from one read (one datagram, or a burst
        # that was exactly one message in order); rx_chunks: datagrams taken one
        # by one (a message over several bursts, or bursts out of order)
        self.stats = {"tx_packets": 0, "tx_bytes": 0, "rx_packets": 0, "rx_bytes": 0, "rx_whole": 0, "rx_chunks": 0,
                      "drops": dict.fromkeys(DROPS, 0)}
        self.running = True
        self._init_receiving()

    def run(self, stats_file=None, ready=None):
        """Carry packets until SIGTERM (or until the device is gone: then
        ``self.gone`` says so). ``ready(self)`` is called once the signals
        are handled: a SIGUSR1 (counters, please) that came before would end
        the process, as is its default. A signal also writes a byte into a
        pipe the loop watches, so SIGTERM ends a wait at once."""
        ep = select.epoll()
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        old_wake = signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        self.gone = None
        try:
            self._handle_signals(stats_file)
            self.dev.set_blocking(False)
            self.sock.setblocking(False)
            self._vectors()
            for fd in (self.dev.fileno(), self.sock.fileno(), wake_r):
                ep.register(fd, select.EPOLLIN)
            if ready:
                ready(self)
            self._carry(ep, wake_r)
        finally:
            signal.set_wakeup_fd(old_wake)
            os.close(wake_r)
            os.close(wake_w)
            ep.close()
        self.report(None, stats_file)

    def _handle_signals(self, stats_file):
        """SIGTERM and SIGINT end the loop; SIGUSR1 writes the counters."""
        def stop(*_a):
            self.running = False

        def dump(*_a):
            try:
                self.report(sys.stderr, stats_file)
            except OSError as e:   # a full disk, say: the tunnel goes on
                print(f"vnet tunnel: cannot write the counters: {e}", file=sys.stderr, flush=True)
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGUSR1, dump)

    def _carry(self, ep, wake_r):
        """The loop: carry what each wakeup brings until told to stop, or
        until the device is gone."""
        dfd, sfd = self.dev.fileno(), self.sock.fileno()
        from_device, from_peer, broken = self.from_device, self.from_peer, select.EPOLLERR | select.EPOLLHUP
        while self.running:
            for fd, ev in ep.poll(1.0):
                if fd == dfd:
                    if ev & broken:   # the device was deleted: nothing to carry any more
                        self.gone, self.running = "its device is gone (deleted?)", False
                        break
                    from_device()
                elif fd == sfd:
                    from_peer()
                else:
                    try:
                        while os.read(wake_r, 256):
                            pass
                    except BlockingIOError:
                        pass

    def report(self, out, stats_file):
        text = json.dumps(self.stats)
        if out is not None:
            print(text, file=out, flush=True)
        if stats_file:
            tmp = stats_file + ".tmp"
            with open(tmp, "w") as f:
                f.write(text)
            os.replace(tmp, stats_file)

