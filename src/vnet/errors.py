"""The error hierarchy. Each user-facing error carries its exit code;
any other exception escaping vnet is a bug: the command says so in one line
(exit 70) and shows the traceback with VNET_DEBUG=1."""


class VnetError(Exception):
    exit_code = 1

    def undone(self):
        """Say that every change of the apply that met this error was undone."""
        self.args = (f"{self}\n(the apply was undone: every change it made was reverted)",)


class SpecError(VnetError):
    """The topology file is wrong. Nothing was touched. ``problems`` lists every
    problem found, each already prefixed with file and object path."""

    exit_code = 2

    def __init__(self, problems):
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class KernelError(VnetError):
    """The kernel refused a request (after undo, when raised by apply)."""

    exit_code = 3

    def __init__(self, errno_, message, step=None):
        self.errno = errno_
        self.kernel_message = message
        self.step = step
        super().__init__(self._text())

    def _text(self):
        import os
        txt = os.strerror(self.errno) if self.errno else ""
        if self.kernel_message:
            txt = f"{txt} ({self.kernel_message})" if txt else self.kernel_message
        if self.errno == 1:   # EPERM
            txt += ": vnet changes network devices and namespaces, which needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN)"
        return f"{self.step}: {txt}" if self.step else txt

    def at(self, step):
        """Same error, attributed to a step of a plan."""
        return KernelError(self.errno, self.kernel_message, step)


class VerifyError(VnetError):
    """After apply, the kernel does not match the file."""

    exit_code = 4

    def __init__(self, mismatches):
        self.mismatches = list(mismatches)
        super().__init__("verification failed:\n" + "\n".join("  " + m for m in self.mismatches))


class Busy(VnetError):
    """Another vnet command holds the topology's lock."""

    exit_code = 5


class PlanError(VnetError):
    """The live state conflicts with the file in a way vnet must not resolve
    itself, e.g. a device of the same name that this topology does not own."""

    exit_code = 6


class NotApplied(VnetError):
    """A command that reads a topology's live state (show, export, diagram
    NAME) was given a topology that has no record: it is not applied."""

    exit_code = 1


class UnknownKind(VnetError):
    """A kind name given on the command line (`vnet show --kind`) that vnet
    does not know: the same mistake as an unknown kind in a file."""

    exit_code = 2


class NotPermitted(VnetError):
    """The kernel (or the file system) refused vnet for want of privilege:
    vnet changes devices and enters namespaces, which needs root."""

    exit_code = 3
    HINT = "vnet needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) for this"

    def __init__(self, what, hint=True):
        super().__init__(f"{what}: {self.HINT}" if hint else what)


class StateError(VnetError):
    """vnet's own state cannot be used: a record under the state directory
    that is corrupt or written by a newer vnet, or a state directory that
    cannot be written. The message names the file."""

    exit_code = 8


class Interrupted(VnetError):
    """SIGINT or SIGTERM stopped an apply before it succeeded; it was undone."""

    exit_code = 130


class DeviceGone(VnetError):
    """A program vnet runs for a device (`vnet tunnel`) lost its device."""

    exit_code = 7


EXIT_CODES = {
    0: "success (for plan: whether or not changes are pending; with --exit-code, 2 says they are and any error "
       "is 1)",
    1: "other error: usage (a wrong command, option or argument), a check failed, an unknown or not applied topology, a file that cannot be written",
    2: "bad input: the topology file is invalid; nothing was changed",
    3: "the kernel refused a request (the apply was undone), or vnet lacks the privilege it needs (root: "
       "CAP_NET_ADMIN and CAP_SYS_ADMIN)",
    4: "verification after apply found a mismatch",
    5: "busy: another vnet command holds the topology's lock",
    6: "conflict: the live state holds an object this topology does not own",
    7: "vnet tunnel: its device is gone (deleted)",
    8: "vnet's own state cannot be used: a corrupt record under /run/vnet, one written by a newer vnet, or a "
       "state directory that cannot be written",
    70: "internal error: a bug in vnet (VNET_DEBUG=1 shows the traceback)",
    130: "interrupted (Ctrl-C, SIGTERM); an apply stopped before it was verified was undone",
}
