"""A kernel session: one netlink socket per namespace, opened by entering the
namespace once (a netlink socket stays bound to the namespace it was made in)."""
import os

from . import netlink, netns


def _raise_fd_limit():
    """Two fds per namespace, and labs have thousands: the soft limit raised
    to the hard one, once per process."""
    global _raised
    if not _raised:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        _raised = True


_raised = False


class Kernel:
    """Handles to the namespaces vnet works in. ``None`` names the namespace
    vnet runs in."""

    def __init__(self):
        self._fds = {None: netns.current_fd()}
        self._socks = {}
        self._genl = {}     # (ns, family) -> genl.Genl
        self.nsids = {}     # ns -> {nsid: namespace}, as observation learns them (valid while the fds are held)
        _raise_fd_limit()

    def close(self):
        for s in list(self._socks.values()) + list(self._genl.values()):
            s.close()
        self._genl.clear()
        for fd in self._fds.values():
            os.close(fd)
        self._socks.clear()
        self._fds.clear()
        self.nsids.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def has(self, ns):
        return self.fd(ns) is not None

    def fd(self, ns):
        """The namespace's fd; None when there is no namespace of that name
        (nothing, or an entry that is not one: see ``half_made``)."""
        if ns not in self._fds:
            try:
                fd = netns.open_fd(ns)
            except netns.NotANamespace:
                return None
            if fd is None:
                return None
            self._fds[ns] = fd
        return self._fds[ns]

    def half_made(self, ns):
        """Is there a /run/netns entry ``ns`` that is not a network namespace?"""
        return ns is not None and ns not in self._fds and netns.status(ns) == "other"

    def _missing(self, ns):
        if self.half_made(ns):
            return netns.NotANamespace(ns)
        return FileNotFoundError(f"network namespace {ns!r} does not exist")

    def sock(self, ns):
        s = self._socks.get(ns)
        if s is None:
            fd = self.fd(ns)
            if fd is None:
                raise self._missing(ns)
            if ns is None:
                s = netlink.Socket()
            else:
                with netns.entered(fd):
                    s = netlink.Socket()
            self._socks[ns] = s
        return s

    def open_socks(self, names):
        """Make the sockets of the namespaces ``names`` that exist, in one
        pass (see ``netns.made_in``)."""
        todo = [ns for ns in dict.fromkeys(names) if ns is not None and ns not in self._socks and self.has(ns)]
        def make(ns):
            self._socks[ns] = netlink.Socket()
        if todo:
            netns.run_in_each([(self._fds[ns], ns) for ns in todo], make)

    def genl(self, ns, family):
        """A generic netlink ``family`` (macsec, team...) in namespace ``ns``."""
        g = self._genl.get((ns, family))
        if g is None:
            from .genl import Genl
            fd = self.fd(ns)
            if fd is None:
                raise self._missing(ns)
            with netns.entered(fd if ns is not None else None):
                g = Genl(family)
            self._genl[(ns, family)] = g
        return g

    def entered(self, ns):
        """Context manager: this thread in namespace ``ns`` (which must exist:
        never silently the namespace vnet runs in)."""
        if ns is None:
            return netns.entered(None)
        fd = self.fd(ns)
        if fd is None:
            raise self._missing(ns)
        return netns.entered(fd)

    def create_ns(self, name, finish=False):
        """Make namespace ``name`` with lo up (``finish``: over an entry
        left half made, see netns.create)."""
        self.forget(name)
        self._fds[name] = netns.create(name, finish)
        try:
            self.lo_up(name)
        except BaseException:   # not half made: the step fails whole (without CAP_NET_ADMIN, say)
            self.delete_ns(name)
            raise

    def lo_up(self, name):
        """lo up, so a lab can talk to itself (a namespace made by an apply
        stopped before this has it down)."""
        from . import rtnl
        rtnl.set_link(self.sock(name), 1, up=True)

    def delete_ns(self, name):
        self.forget(name)
        netns.delete(name)

    def forget(self, name):
        self.nsids.clear()   # an id of the namespace (in others, or theirs in it) may go with it
        s = self._socks.pop(name, None)
        if s:
            s.close()
        for key in [key for key in self._genl if key[0] == name]:
            self._genl.pop(key).close()
        fd = self._fds.pop(name, None)
        if fd is not None:
            os.close(fd)

    @property
    def requests(self):
        """Changing netlink requests sent so far, over all namespaces."""
        return sum(s.requests for s in list(self._socks.values()) + list(self._genl.values()))
