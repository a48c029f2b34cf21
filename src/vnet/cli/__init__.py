# PYTHON_ARGCOMPLETE_OK   (argcomplete looks for this mark: `vnet` completes its commands and topologies)
"""The `vnet` command: parse arguments, call the API, render. No logic here.

    parser, arguments   the commands, their options and help; argument types and completers
    report              exit codes, and a failure said in one line
    output, targets     JSON or human output; what FILE and FILE|NAME stand for
    reading             validate, plan, check, script, schema (a topology file)
    live                list, show, export, diagram, exec (the kernel's live state)
    changing            apply, destroy (the commands that change the kernel)
    tunnel              the tunnel program and its supervisor
    cni                 cni install (the plugin itself is vnet.cni)

A command's module is imported only when that command runs: `vnet plan`
pays for nothing else."""
import gc
import os
import sys
from importlib import import_module

from ..errors import VnetError
from . import parser, report

# the module of each command's cmd_<name>
COMMANDS = {**dict.fromkeys(("validate", "plan", "check", "script", "schema"), "reading"),
            **dict.fromkeys(("list", "show", "export", "diagram", "exec"), "live"),
            "apply": "changing", "destroy": "changing", "tunnel": "tunnel", "cni": "cni"}

# commands that read, decide, change and exit: the cycles they leave are few
# (a no-op plan of a thousand namespaces: a few hundred objects), and the
# collector's passes over the lab's tens of thousands of objects cost 5% of
# such a command (10 ms of a 0.2 s plan); their garbage goes with the process
SHORT = {"validate", "plan", "script", "schema", "list", "show", "export", "diagram", "apply", "destroy"}
_short_ran = []   # a one-shot command ran to its end in this process (entry() may skip the teardown)


def entry():
    """The `vnet` program itself (its console script, `python -m vnet`, the
    executable `vnet cni install` writes): main(), then, after a one-shot
    command, the process's end without Python's teardown, which would free
    a big lab's objects one by one (10 ms of a 0.25 s no-op plan of a
    thousand namespaces; more after an apply). Every file such a command
    writes is closed by then (each in a ``with``), its locks and sockets go
    with the process, and no thread of its is left; the output streams are
    flushed here. main() called in a longer process (a test) never ends it."""
    _short_ran.clear()   # (one run in-process before this one says nothing of this one)
    rc = main()
    if _short_ran:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):   # a closed or broken stream: nothing left to say there
                pass
        os._exit(rc if isinstance(rc, int) and 0 <= rc <= 255 else 1)
    return rc


def main(argv=None):
    """Run one vnet command; return its exit code. Nothing escapes as a
    traceback: a user's error, the kernel's refusal or a lack of privilege is
    one line with its exit code; anything else is a bug, said in one line
    (exit 70; VNET_DEBUG=1 shows the traceback). With `plan --exit-code`
    every outcome but 0 and 2 (changes pending) is 1, as CI expects."""
    if os.environ.get("CNI_COMMAND") is not None and not (sys.argv[1:] if argv is None else argv):
        from ..cni.main import main as plugin   # run by a container runtime, as the CNI plugin "vnet"
        return plugin()
    parsed = []
    rc = _main(argv, parsed)
    if parsed and getattr(parsed[0], "exit_code", False):
        return rc if rc == 0 or rc == report.PENDING and getattr(parsed[0], "pending", False) else 1
    return rc


def _main(argv, parsed):
    cmd, args = "command", None
    _forgiving_streams()
    try:
        try:
            p = parser.build()
            parser.complete(p)
            args = p.parse_args(argv)
            parsed.append(args)
        except SystemExit as e:   # --help, a usage error: argparse has said it
            return e.code if isinstance(e.code, int) else 1
        cmd = args.cmd
        return _run(args)
    except KeyboardInterrupt:   # Ctrl-C (an apply undoes itself before it gets here)
        print(f"vnet {cmd}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:   # `vnet script ... | head`: the reader has had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        return 0
    except report.OutputError as e:   # stdout is a full disk: said once, not again as Python exits
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        print(f"vnet {cmd}: cannot write the output: {e}", file=sys.stderr)
        return 1
    except VnetError as e:
        report.report(cmd, args, e)
        return e.exit_code
    except SystemExit:
        raise
    except BaseException as e:   # a bug: one line, the traceback on request
        return report.internal_error(cmd, args, e)


def _forgiving_streams():
    """stdout and stderr that take any text: a closed one (`vnet ... >&-`)
    goes nowhere, and a file name no encoding can show is no crash."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is None:
            setattr(sys, name, open(os.devnull, "w", errors="backslashreplace"))
        elif getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def _run(args):
    """The command's own function, from its module; an OSError that reaches
    here is said as the VnetError it stands for."""
    run = getattr(import_module(f"{__name__}.{COMMANDS[args.cmd]}"), "cmd_" + args.cmd)
    collecting = gc.isenabled()
    if args.cmd in SHORT:
        gc.disable()
        _short_ran.append(args.cmd)
    try:
        rc = run(args) or 0
        sys.stdout.flush()   # here, where a failure to write is still ours to report
        return rc
    except OSError as e:
        raise report.os_error(e) from e
    finally:
        if collecting:   # main() called in a longer process (a test, a script) leaves it as it was
            gc.enable()
