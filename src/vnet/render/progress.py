"""Progress of a long apply or destroy on stderr: nothing for one that ends
within a second; then "applying: 350/1200 changes", rewritten in place on a
terminal (at most ten times a second), else a line every few seconds. The
lines of the changes themselves go to stdout as each is done: on a terminal
the progress line is cleared before each and drawn again after it."""
import os
import sys
import time

AFTER = 1.0      # seconds before anything is said
EVERY = 5.0      # seconds between two lines when stderr is not a terminal
REDRAW = 0.1     # seconds between two redraws on a terminal


def _after():
    """The delay before progress shows: VNET_PROGRESS_AFTER overrides it
    (0: at once, as the tests ask, for a quick apply to show it)."""
    try:
        return max(0.0, float(os.environ.get("VNET_PROGRESS_AFTER", AFTER)))
    except ValueError:
        return AFTER


class Progress:
    def __init__(self, verb, total=None, unit="changes", out=None, err=None, clock=time.monotonic):
        self.verb, self.total, self.unit = verb, total, unit
        self.out, self.err = out or sys.stdout, err or sys.stderr
        self.clock = clock
        self.tty = _isatty(self.err)
        self.shared = self.tty and _isatty(self.out)   # one terminal: a line of stdout clears the progress first
        self.done = 0
        self.start = clock()
        self.after = _after()
        self.shown = None      # when the progress was last said (None: never)
        self.said = None       # the count it said then
        self.drawn = False     # a progress line stands on the terminal
        self.lost = None       # the error of a write that failed (a reader gone, a full disk): said after

    def text(self):
        of = f"/{self.total}" if self.total is not None else ""
        return f"{self.verb}: {self.done}{of} {self.unit}"

    def step(self, line=None):
        """One more done; ``line`` (what was done) to stdout, if given."""
        self.done += 1
        if line is not None and self.lost is None:
            if self.shared:
                self._clear()
            self._write(self.out, line + "\n", flush=self.shared)
        self._tick()

    def _tick(self):
        now = self.clock()
        if now - self.start < self.after:
            return
        if self.shown is not None and now - self.shown < (REDRAW if self.tty else EVERY):
            if self.tty and not self.drawn:   # cleared for a line of stdout: back at once
                self._draw()
            return
        self.shown = now
        self._draw()

    def _draw(self):
        self.said = self.done
        if self.tty:
            self.drawn = self._write(self.err, "\r\033[K" + self.text())
        else:
            self._write(self.err, self.text() + "\n")

    def _clear(self):
        if self.drawn:
            self._write(self.err, "\r\033[K")
            self.drawn = False

    def _write(self, stream, text, flush=True):
        """Write, or after a failed write nothing more: the work under way
        (an apply) must not stop, or be undone, because its reader went away."""
        if self.lost is not None:
            return False
        try:
            stream.write(text)
            if flush:
                stream.flush()
        except OSError as e:
            self.lost = e
            return False
        return True

    def finish(self):
        """The last count, once it was shown at all (a line that ends where
        the work ended); on a terminal the line is then cleared. A write that
        failed meanwhile is in ``lost``, for the caller to say once its work
        is done."""
        if self.shown is not None:
            if self.tty:
                self._clear()
            elif self.said != self.done:
                self._draw()


def _isatty(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
