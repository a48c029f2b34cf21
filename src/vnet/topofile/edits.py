"""A big YAML file edited in a few of its interfaces, read again in part.

Reading a lab of a thousand interfaces takes the YAML parser about 20 ms:
a third of an edit's load. When the file's interfaces are a block list
whose every item starts a line with the same ``- `` (as the parse of its
last version found them: ``Split``), and the text before the first item
and from the first key after the list are unchanged, the new text is cut
into items at those lines; an item whose text is as before is the same
value, and only the others are parsed, each on its own.

That is the same document as a whole parse gives because the state of a
YAML parser at the start of such a line (between two entries of a block
list) depends on nothing after it, and an item that parses alone to one
plain mapping, with every line of it indented past its dash, can end
nothing outside itself; no value is shared (a text with an anchor, alias,
tag or merge key anywhere is never cut). Anything else (a new item that does not parse alone
or parses to more or less than one mapping, an anchor, alias, tag,
directive, merge key or document marker in it, a line less indented than
the dash, an edit outside the list, a list written otherwise) returns None:
the whole file is parsed, as before."""
import re

# anchors, aliases, tags, directives, merge keys, document markers: whole parse
_UNSAFE = re.compile(r"[&*!%]|<<|^(---|\.\.\.)", re.M)
# a text with values shared by anchors and aliases (or tagged) is never cut:
# an item kept by its text would keep the value an alias had before
_SHARED = re.compile(r"[&*!]|<<")
_ITEM = re.compile(r"( *)- ")
MOST_DEPTH = 8   # a topology nests 8 levels at most (the reader's depth limit counts from the document)


class Split:
    """A parsed YAML text cut at its interfaces: ``head`` (the text before
    the first item), ``tail`` (from the first top-level key after the
    list), ``prefix`` (each item's first characters), ``rest`` (the
    document's other keys, in order, interfaces None) and ``items``
    ({an item's text: its value})."""

    def __init__(self, head, tail, prefix, rest, items):
        self.head, self.tail, self.prefix, self.rest, self.items = head, tail, prefix, rest, items


def split(text, doc, top_lines, item_lines):
    """The Split of ``text`` whose parse gave ``doc``, its top-level keys
    on ``top_lines`` ({key: line}) and its interfaces on ``item_lines``
    (each item's first line), or None if the text is not cut that way."""
    items = doc.get("interfaces") if isinstance(doc, dict) else None
    if not isinstance(items, list) or not items or len(item_lines) != len(items) or "interfaces" not in top_lines \
            or _SHARED.search(text):
        return None
    lines = text.splitlines(keepends=True)
    first = item_lines[0] - 1
    m = _ITEM.match(lines[first]) if first < len(lines) else None
    if m is None:
        return None
    prefix = m.group(0)
    after = [n for n in top_lines.values() if n > item_lines[-1]]
    end = min(after) - 1 if after else len(lines)
    starts = [j for j in range(first, end) if lines[j].startswith(prefix)]
    if starts != [n - 1 for n in item_lines] or not all(_inside(ln, prefix) for ln in lines[first:end]):
        return None
    values = {}
    for i, (a, b) in enumerate(zip(starts, starts[1:] + [end])):
        values.setdefault("".join(lines[a:b]), items[i])
    rest = {k: (None if k == "interfaces" else v) for k, v in doc.items()}
    return Split("".join(lines[:first]), "".join(lines[end:]), prefix, rest, values)


def _inside(line, prefix):
    """A line that can be part of an item of the list: its start, blank, a
    comment, or indented past the dash."""
    return line.startswith(prefix) or line.startswith(" " * len(prefix)) or not line.strip() \
        or line.lstrip().startswith("#")


def read(text, s):
    """The document of ``text``, an edit of the text Split ``s`` was made
    from, with only its new items parsed; None when that cannot be sure
    of giving the whole parse's document."""
    head, tail = s.head, s.tail
    if len(text) < len(head) + len(tail) or not text.startswith(head) or not text.endswith(tail):
        return None
    mid = text[len(head):len(text) - len(tail)]
    if not mid.startswith(s.prefix) or (tail and not mid.endswith("\n")):
        return None
    chunks, cur = [], []
    for ln in mid.splitlines(keepends=True):
        if not _inside(ln, s.prefix):
            return None
        if ln.startswith(s.prefix) and cur:
            chunks.append("".join(cur))
            cur = []
        cur.append(ln)
    chunks.append("".join(cur))
    items = []
    for c in chunks:
        v = s.items.get(c)
        if v is None:
            v = _one_item(c)
            if v is None:
                return None
        items.append(v)
    return {k: (items if k == "interfaces" else v) for k, v in s.rest.items()}


def _one_item(chunk):
    """The one plain mapping ``chunk`` (a list item's text) parses to, else None."""
    if _UNSAFE.search(chunk):
        return None
    import yaml
    from ..topology.reader import read_yaml
    try:
        r = read_yaml(chunk)
    except yaml.YAMLError:
        return None
    if r.problems or not isinstance(r.doc, list) or len(r.doc) != 1 or not isinstance(r.doc[0], dict) \
            or not _plain(r.doc[0]):
        return None
    return r.doc[0]


def _plain(v, depth=1):
    """Mappings with text keys, lists and scalars only, nested at most MOST_DEPTH."""
    if depth > MOST_DEPTH:
        return False
    if isinstance(v, dict):
        return all(isinstance(k, str) and _plain(x, depth + 1) for k, x in v.items())
    if isinstance(v, list):
        return all(_plain(x, depth + 1) for x in v)
    return v is None or isinstance(v, (str, int, float))
