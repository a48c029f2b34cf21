"""Undo at scale: an apply of N bridges stopped by SIGTERM once 80% of them
exist, timed from the signal to the exit (the undo), against `vnet destroy`
of all N and against deleting them one `ip -batch` line at a time, in one
run.

    sudo .venv/bin/python benchmarks/undo.py [--sizes 2000,10000]

Everything runs in a private mount + network namespace made for the run."""
import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VNET = [sys.executable, "-m", "vnet"]
ENV = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")}


def _sandboxed():
    """Re-run this script in a private mount + network namespace with its own /run."""
    if os.environ.get("VNET_BENCH_SANDBOX"):
        return
    script = ("mount -t tmpfs tmpfs /run && mkdir -p /run/netns && ip link set lo up && "
              'exec "$0" "$@"')
    os.execvpe("unshare", ["unshare", "-m", "-n", "--propagation", "private", "sh", "-c", script,
                           sys.executable, *sys.argv], {**os.environ, "VNET_BENCH_SANDBOX": "1"})


def _links():
    sys.path.insert(0, os.path.join(ROOT, "src"))
    from vnet.kernel import rtnl
    from vnet.kernel.session import Kernel
    with Kernel() as k:
        return len(rtnl.dump_links(k.sock(None))) - 1   # lo


def _run(argv, **kw):
    t0 = time.monotonic()
    subprocess.run(argv, check=True, env=ENV, stdout=subprocess.DEVNULL, **kw)
    return time.monotonic() - t0


def measure(n, tmp):
    f = os.path.join(tmp, f"many{n}.yaml")
    with open(f, "w") as fh:
        fh.write("name: many\ninterfaces:\n" + "".join(f"  - {{name: b{i}, kind: bridge}}\n" for i in range(n)))
    apply_s = _run(VNET + ["apply", f])
    destroy_s = _run(VNET + ["destroy", "many"])
    p = subprocess.Popen(VNET + ["apply", f], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while _links() < n * 4 // 5 and p.poll() is None:
        time.sleep(0.05)
    made = _links()
    t0 = time.monotonic()
    p.send_signal(signal.SIGTERM)
    _out, err = p.communicate()
    undo_s = time.monotonic() - t0
    assert p.returncode == 130 and _links() == 0, (p.returncode, err)
    # the baseline: the same bridges deleted one by one, as a script would
    batch = os.path.join(tmp, "add.batch")
    with open(batch, "w") as fh:
        fh.write("".join(f"link add b{i} type bridge\n" for i in range(made)))
    _run(["ip", "-batch", batch])
    with open(batch, "w") as fh:
        fh.write("".join(f"link del b{i}\n" for i in range(made)))
    one_by_one_s = _run(["ip", "-batch", batch])
    return apply_s, destroy_s, made, undo_s, one_by_one_s


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="2000,10000")
    args = ap.parse_args()
    _sandboxed()
    print(f"{'N':>6} {'apply s':>8} {'destroy s':>9} {'undone':>7} {'undo s':>7} {'undo/destroy':>12} "
          f"{'ip del 1 by 1 s':>15} {'undo/ip':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(x) for x in args.sizes.split(",")):
            apply_s, destroy_s, made, undo_s, one_s = measure(n, tmp)
            print(f"{n:>6} {apply_s:>8.2f} {destroy_s:>9.2f} {made:>7} {undo_s:>7.2f} {undo_s / destroy_s:>12.2f} "
                  f"{one_s:>15.2f} {undo_s / one_s:>8.3f}", flush=True)


if __name__ == "__main__":
    main()
