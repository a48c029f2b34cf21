"""The error hierarchy. Each user-facing error carries its exit code;
any other exception escaping vnet is a bug and shows a traceback."""


class VnetError(Exception):
    exit_code = 1


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


class DeviceGone(VnetError):
    """A program vnet runs for a device (`vnet tunnel`) lost its device."""

    exit_code = 7


EXIT_CODES = {
    0: "success (for plan: whether or not changes are pending)",
    1: "checks failed / usage error",
    2: "bad input: the topology file is invalid; nothing was changed",
    3: "the kernel refused a request; the apply was undone",
    4: "verification after apply found a mismatch",
    5: "busy: another vnet command holds the topology's lock",
    6: "conflict: the live state holds an object this topology does not own",
    7: "vnet tunnel: its device is gone (deleted)",
}
