"""Run a topology's checks against the live kernel: each bounded in time,
each with what was expected and what was observed. Captures run around the
check they name; every socket and thread ends with its check, Ctrl-C too."""
import contextlib
import time

from ..topology.checks import FILTERS
from ..topology.struct import REQUIRED, Struct


class Result(Struct):
    _fields = (("check", REQUIRED), ("expected", REQUIRED), ("observed", REQUIRED), ("ok", REQUIRED),
               ("seconds", 0.0), ("detail", ""))

    def as_dict(self):
        return {"check": self.check, "expected": self.expected, "observed": self.observed, "ok": self.ok,
                "seconds": round(self.seconds, 3), "detail": self.detail}


def describe(c):
    """A check in one line, for the table."""
    a = c.args
    ns = lambda x: x if x is not None else "host"  # noqa: E731
    text = {
        "ping": lambda: f"ping {ns(a.get('from'))} -> {a['to']}",
        "tcp": lambda: f"tcp {ns(a.get('from'))} -> {a['to']}:{a['port']} (listener in {ns(a.get('listen'))})",
        "udp": lambda: f"udp {ns(a.get('from'))} -> {a['to']}:{a['port']} (responder in {ns(a.get('listen'))})",
        "mtu": lambda: f"mtu {a['size']} bytes, don't fragment, {ns(a.get('from'))} -> {a['to']}",
        "can": lambda: f"can {ns(a['from'].get('netns'))}/{a['from']['dev']} -> {ns(a['to'].get('netns'))}/{a['to']['dev']}",
        "capture": lambda: f"capture on {ns(a.get('netns'))}/{a['dev']} during '{a['during']}': "
                           + ", ".join(f"{k} {hex(a[k]) if k == 'ethertype' else a[k]}"
                                       for k in FILTERS if a.get(k) is not None),
    }[c.type]()
    return f"{c.name}: {text}" if c.name else text


def _traffic(k, c):
    """True when the traffic of check ``c`` passed."""
    from . import can, traffic
    from .ping import ping
    a = c.args
    if c.type == "ping":
        return ping(a.get("from"), a["to"], timeout=a["timeout"], count=a["count"])
    if c.type == "mtu":
        hdr = 48 if ":" in str(a["to"]) else 28   # IP + ICMP headers
        return ping(a.get("from"), a["to"], timeout=a["timeout"], count=2, size=a["size"] - hdr, df=True)
    if c.type in ("tcp", "udp"):
        return traffic.stream(k, a.get("from"), a["to"], a["port"], a.get("listen"), timeout=a["timeout"],
                              proto=c.type)
    if c.type == "can":
        return can.frame_passes((a["from"].get("netns"), a["from"]["dev"]), (a["to"].get("netns"), a["to"]["dev"]),
                                timeout=a["timeout"])
    raise AssertionError(c.type)


def run(topo, k, on_result=None):
    """[Result] for every check of ``topo``, in file order."""
    from .capture import Capture, matches
    captures = {}
    for c in topo.checks:
        if c.type == "capture":
            captures.setdefault(c.args["during"], []).append(c)
    seen = {}    # capture check -> its frames
    results = []
    for c in topo.checks:
        t0 = time.monotonic()
        if c.type == "capture":
            frames = seen.get(id(c))
            if frames is None:
                r = Result(describe(c), c.expect, "not run", False, detail=f"check {c.args['during']!r} comes later "
                           "in the file or failed to start")
            else:
                good = sum(matches(f, **{k: c.args.get(k) for k in FILTERS}) for f in frames)
                observed = "all" if good == len(frames) else "some" if good else "none"
                ok = bool(frames) and {"all": good == len(frames), "some": good > 0, "none": good == 0}[c.expect]
                r = Result(describe(c), f"{c.expect} frames match", f"{observed} of {len(frames)} frames match"
                           if frames else "no frames seen", ok, detail=f"{good} of {len(frames)} matched")
            results.append(r)
        else:
            caps = []
            try:
                with contextlib.ExitStack() as stack:   # captures run around the traffic, and always stop
                    for cc in captures.get(c.name, []) if c.name else []:
                        caps.append((cc, stack.enter_context(Capture(k, cc.args.get("netns"), cc.args["dev"]))))
                    passed = _traffic(k, c)
                observed = "reachable" if passed else "unreachable"
                r = Result(describe(c), c.expect, observed, observed == c.expect)
            except OSError as e:
                r = Result(describe(c), c.expect, "error", False, detail=str(e))
            for cc, cap in caps:
                seen[id(cc)] = cap.frames
            r.seconds = time.monotonic() - t0
            results.append(r)
        if on_result:
            on_result(results[-1])
    return results
