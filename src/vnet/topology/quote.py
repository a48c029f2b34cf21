"""How a value or a name from the file is shown in a message: short, and
never by building the whole repr of something huge."""
QUOTE = 80          # characters of a bad value quoted in a message


def cut(text, limit=QUOTE):
    """``text`` cut to about ``limit`` characters."""
    return text if len(text) <= limit else text[:limit - 3] + "..."


def quote(v, limit=QUOTE):
    """``repr(v)`` for a message, about ``limit`` characters at most, made
    without ever building the whole repr: a 20 MB string or a YAML alias
    bomb (a small graph whose repr is gigabytes) costs no more than a
    short value."""
    if isinstance(v, str):
        if len(v) <= limit:
            return repr(v)
        return repr(v[:limit - 20]) + f"... ({len(v)} characters)"
    if isinstance(v, int) and not isinstance(v, bool) and v.bit_length() > 3 * limit:   # about limit digits
        return f"an integer of {v.bit_length()} bits"
    import reprlib
    rp = reprlib.Repr()
    rp.maxlevel, rp.maxlist, rp.maxdict, rp.maxtuple, rp.maxset = 3, 6, 6, 6, 6
    rp.maxstring, rp.maxother, rp.maxlong = limit // 2, limit, 40
    r = rp.repr(v)
    return r if len(r) <= limit else r[:limit - 3] + "..."


def label(name):
    """A name from the file as part of a path: itself when it is short and
    plain, else quoted and cut."""
    return name if len(name) <= 32 and name.isprintable() and name.strip() == name else quote(name, 40)
