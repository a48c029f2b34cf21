"""A lab as a Python object, for people testing networked software:

    from vnet import Lab
    with Lab.from_file("examples/fig10-bridge.yaml") as lab:   # applied; destroyed on exit, even on error
        out = lab.run("net1", ["ping", "-c1", "10.0.10.2"])     # an argument list, never a shell string
        with lab.netns("net2"):                                  # sockets opened here live in net2
            ...
        proc = lab.popen("net2", ["python3", "-m", "http.server"])   # stopped when the lab ends

Processes run in a namespace the way `ip netns exec` runs them (network
namespace only); what a lab started is stopped before its namespaces go.

A lab never takes over: a topology already applied outside it (a record of
that name exists) is refused with LabInUse, naming the owner, unless the lab
is made with ``reuse=True``; a reused lab is applied (converged to the file)
but not destroyed on exit. A lab destroys only what it applied."""
import contextlib
import signal
import subprocess

from .errors import PlanError, VnetError


class LabInUse(PlanError):
    """The topology, or a namespace or device of it, is already applied
    outside this lab (exit code 6, as a conflict)."""


class Lab:
    def __init__(self, topology, check=False, reuse=False):
        self.topology = topology
        self.check_on_enter = check
        self.reuse = reuse
        self.procs = []
        self._k = None
        self.applied = False    # by this lab: down() destroys it
        self.reused = False     # applied before this lab: down() leaves it

    @classmethod
    def from_file(cls, path, check=False, reuse=False):
        """A lab from a topology file (validated now, applied on ``with`` or ``up()``)."""
        from .api import load
        return cls(load(path), check=check, reuse=reuse)

    @property
    def name(self):
        return self.topology.name

    # ---- life cycle ------------------------------------------------------------
    def up(self):
        """Apply the topology (verified); with ``check`` also run its checks
        and raise CheckFailed if one fails. A topology applied outside the
        lab raises LabInUse, unless ``reuse``."""
        from .api import apply
        from .kernel.session import Kernel
        if self.applied or self.reused:
            raise RuntimeError(f"lab {self.name!r} is up already")
        owner = _applied_outside(self.topology)
        if owner and not (self.reuse and owner[0] == self.name):
            raise LabInUse(owner[1])
        self._k = Kernel()
        if owner:
            self.reused = True    # not ours to destroy
        else:
            self.applied = True   # from here on, down() cleans up whatever apply left
        apply(self.topology)
        if self.check_on_enter:
            failed = [r for r in self.check() if not r.ok]
            if failed:
                raise CheckFailed(failed)
        return self

    def down(self):
        """Stop what the lab started, then destroy the topology if the lab
        applied it (a reused one is left as it was found: applied)."""
        from .api import destroy
        from .ownership import Record
        errors = []
        for p in reversed(self.procs):
            with contextlib.suppress(ProcessLookupError):
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
                    try:
                        p.wait(5)
                    except subprocess.TimeoutExpired:
                        p.kill()
                        p.wait()
        self.procs.clear()
        if self.applied and Record.load(self.name).exists():
            try:
                destroy(self.name)
            except Exception as e:   # noqa: BLE001 - reported after the rest is closed
                errors.append(e)
        self.applied = self.reused = False
        if self._k is not None:
            self._k.close()
            self._k = None
        if errors:
            raise errors[0]

    def __enter__(self):
        try:
            return self.up()
        except BaseException:
            self.down()
            raise

    def __exit__(self, *exc):
        self.down()

    # ---- inside the lab -------------------------------------------------------
    def _kernel(self):
        if self._k is None:
            from .kernel.session import Kernel
            self._k = Kernel()
        return self._k

    def netns(self, ns):
        """``with lab.netns("net1"):`` this thread is in net1 (sockets opened
        in the block stay there)."""
        if ns is not None and ns not in self.topology.namespaces:
            raise ValueError(f"{ns!r} is not a namespace of lab {self.name!r}: {', '.join(self.topology.namespaces)}")
        return self._kernel().entered(ns)

    def run(self, ns, argv, check=False, timeout=60, **kw):
        """Run ``argv`` (a list) in namespace ``ns``; its CompletedProcess, with text output."""
        _argv_ok(argv)
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        with self.netns(ns):
            return subprocess.run(argv, check=check, timeout=timeout, **kw)

    def popen(self, ns, argv, **kw):
        """Start ``argv`` in namespace ``ns``; stopped (SIGTERM, then SIGKILL) when the lab ends."""
        _argv_ok(argv)
        with self.netns(ns):
            p = subprocess.Popen(argv, **kw)
        self.procs.append(p)
        return p

    def check(self):
        """Run the topology's checks: a list of results (``.ok``, ``.check``, ``.observed``...)."""
        from .check.run import run
        return run(self.topology, self._kernel())

    def ping(self, ns, addr, timeout=2.0, count=1):
        from .check.ping import ping
        return ping(ns, addr, timeout=timeout, count=count)


def _applied_outside(topo):
    """(owner, message) when ``topo`` or one of its namespaces or devices is
    already recorded by a topology (its own record first), else None."""
    from .ownership import Record, recorded_names
    from .statedir import state_dir
    import os
    rec = Record.load(topo.name)
    if rec.exists():
        src = f" from {rec.source}" if rec.source else ""
        return topo.name, (f"topology {topo.name!r} is already applied (applied{src}; its record is {rec.path}): "
                           f"a lab does not take over a topology it did not apply. Destroy it first "
                           f"(vnet destroy {topo.name}), or reuse it (Lab(..., reuse=True), the vnet_reuse "
                           f"marker or --vnet-reuse), which leaves it applied after the lab")
    mine_ns = set(topo.namespaces)
    mine_dev = {key for key, (i, _e) in topo.by_key().items() if i.kind_module.creatable}   # not externals
    for other in recorded_names():
        if other == topo.name:
            continue
        try:
            o = Record.load(other)
        except (OSError, ValueError, VnetError):
            continue   # unreadable: apply says what it finds in the kernel
        shared = sorted(mine_ns & set(o.namespaces)) or sorted(f"{d[1]}" + (f" in {d[0]}" if d[0] else "")
                                                               for d in mine_dev & set(o.devices))
        if shared:
            return other, (f"topology {topo.name!r} declares {', '.join(map(repr, shared[:5]))}, owned by topology "
                           f"{other!r} (its record is {os.path.join(state_dir(), other + '.json')}): a lab does not "
                           f"take over what another topology applied")
    return None


class CheckFailed(AssertionError):
    def __init__(self, results):
        super().__init__("checks failed: " + "; ".join(f"{r.check}: expected {r.expected}, observed {r.observed}"
                                                         for r in results))
        self.results = results


def _argv_ok(argv):
    if isinstance(argv, (str, bytes)):
        raise TypeError("give the command as a list of arguments, not a shell string")
