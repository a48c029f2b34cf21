"""Problems of a topology file: collected, each with its path, and reported
all at once; ``Invalid``, what a field's parse raises; the hint for a word
that is nearly a known one."""
from .quote import quote

_MISSING = object()   # no value: a field without a default, a value that failed
MISSING = _MISSING


class Problems:
    """Collects every problem with its path; the loader raises them all at once.
    ``secrets``: the secrets the caller passes by name (``secrets.Named``),
    for the fields that look one up; None when it passes none (a file)."""

    def __init__(self, prefix, secrets=None):
        self.prefix = prefix
        self.items = []
        self.secrets = secrets
        self.outside = 0   # what validation read outside the text (a key file, a variable): see read_outside

    def read_outside(self):
        """Say that a validation read a file or an environment variable: its
        result is then not a function of the text alone, and is never kept
        for another load (topofile.cache)."""
        self.outside += 1

    def add(self, path, msg):
        if len(self.items) >= MAX_PROBLEMS:   # counted (callers compare counts), not kept
            self.items.append(None)
            return
        line = f"{self.prefix}: {path}: {msg}" if path else f"{self.prefix}: {msg}"
        if len(line) > MAX_MESSAGE:   # values are quoted short; this bounds what slips through
            line = line[:MAX_MESSAGE - 3] + "..."
        self.items.append(line)

    def lines(self):
        """The problems to show: the first MAX_PROBLEMS, and how many more."""
        more = len(self.items) - MAX_PROBLEMS
        return self.items[:MAX_PROBLEMS] + ([f"{self.prefix}: ... and {more} more problems"] if more > 0 else [])


MAX_MESSAGE = 600   # characters of one problem line: the longest real one is about 400
MAX_PROBLEMS = 200  # problem lines shown: a file with more is wrong throughout


class Invalid(Exception):
    pass


# words from iproute2 and other tools that spelling similarity would get wrong
# ("namespace" is closest to "name")
_SYNONYMS = {"namespace": "netns", "ns": "netns", "type": "kind"}


def _close(word, options):
    import difflib
    word = word if isinstance(word, str) else quote(word, 64)   # never the repr of an alias bomb
    if len(word) > 64:
        return ""   # no typo of a short word (and difflib would take long)
    options = sorted(map(str, options))   # a set's order would make the hint vary between runs
    m = [_SYNONYMS[word]] if _SYNONYMS.get(word) in options else difflib.get_close_matches(word, options, n=1)
    return f" (did you mean '{m[0]}'?)" if m else ""
