"""The plugin's entry point: the environment and stdin read, the command
run, its result (or the spec's error object) written to stdout, and the
exit status. Any fault is an error object too, never a traceback on stdout;
stderr, the runtime's log, gets one line (the traceback with VNET_DEBUG=1)."""
import json
import os
import sys

from .errors import DECODE_FAILURE, INTERNAL, INVALID_CONFIG, INVALID_ENV, IO_FAILURE, CniError

import re

NETWORK_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.\-]*")
COMMANDS = ("ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION")


def main(environ=None, stdin=None, stdout=None):
    import gc
    gc.disable()   # a process a runtime starts per call: its garbage goes with it
    environ = os.environ if environ is None else environ
    stdin = sys.stdin.buffer if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    version = "1.1.0"
    try:
        raw = _read(stdin)
        command = environ.get("CNI_COMMAND", "")
        if command not in COMMANDS:
            raise CniError(INVALID_ENV, f"CNI_COMMAND={command!r}: not one of {', '.join(COMMANDS)}", "CNI_COMMAND")
        conf = _decode(raw, command)
        if command == "VERSION":
            from .commands import version as answer
            return _write(stdout, answer(conf))
        version = _version(conf)
        result = _run(command, environ, conf, raw)
        if command == "ADD":
            from .versions import shaped
            return _write(stdout, shaped(result, version))
        return 0
    except CniError as e:
        _write(stdout, e.body(version))
        print(f"vnet cni: {e.msg}", file=sys.stderr)
        return 1
    except Exception as e:   # a fault of vnet's: said in one line, and as an error object
        if os.environ.get("VNET_DEBUG"):
            import traceback
            traceback.print_exc()
        print(f"vnet cni: internal error: {type(e).__name__}: {e}", file=sys.stderr)
        _write(stdout, CniError(INTERNAL, f"vnet internal error: {type(e).__name__}: {e}").body(version))
        return 1


def _read(stdin):
    try:
        return stdin.read()
    except OSError as e:
        raise CniError(IO_FAILURE, f"reading the network configuration from stdin: {e.strerror}") from None


def _decode(raw, command):
    if command == "VERSION" and not raw.strip():
        return {}
    try:
        conf = json.loads(raw)
    except ValueError as e:
        raise CniError(DECODE_FAILURE, f"the network configuration on stdin is not JSON: {e}") from None
    if not isinstance(conf, dict):
        raise CniError(DECODE_FAILURE, f"the network configuration on stdin is a JSON {type(conf).__name__}, "
                                       "not an object")
    if command == "VERSION":
        return conf
    from .config import canonical
    return canonical(conf)


def _version(conf):
    from .versions import check
    v = conf.get("cniVersion")
    if not isinstance(v, str):
        raise CniError(INVALID_CONFIG, "network configuration: cniVersion: required (a version such as \"1.0.0\")")
    check(v)
    name = conf.get("name")
    if not isinstance(name, str) or not NETWORK_NAME.fullmatch(name):
        raise CniError(INVALID_CONFIG, f"network configuration: name: {name!r} is not a network name (letters, "
                                       "digits, '_', '.', '-', starting with a letter or digit)")
    return v


def _run(command, environ, conf, raw):
    from . import commands, keys
    env = commands.Env(environ)
    raw = keys.without(raw, conf)   # what the IPAM plugin reads
    if command in ("GC", "STATUS"):
        from . import upkeep as commands
    return getattr(commands, {"DEL": "delete"}.get(command, command.lower()))(env, conf, raw)


def _write(stdout, obj):
    stdout.write(json.dumps(obj) + "\n")
    stdout.flush()
    return 0
