"""The benchmarks' sandbox: a benchmark runs itself again inside a private
mount and network namespace with its own /run (the machine's network and
/run/netns are never touched), with --inner added to its arguments."""
import os
import shlex
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_inside(script, argv):
    """Exit with the status of ``script`` run with ``argv`` and --inner in a fresh sandbox."""
    cmd = ("mount -t tmpfs tmpfs /run && mkdir -p /run/netns && ip link set lo up && exec "
           + shlex.join([sys.executable, os.path.abspath(script), "--inner", *argv]))
    sys.exit(subprocess.call(["unshare", "--mount", "--net", "sh", "-c", cmd],
                             env={**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")}))
