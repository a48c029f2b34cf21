"""Secrets a caller hands the loader by name, so that a document names
them and never holds them: the CNI plugin's keys, which a container
runtime passes in the network configuration's ``runtimeConfig``. A
message says where a name was looked for, never a value."""


class Named:
    """``values``: name -> secret text; ``where``: how a message names their
    source (``runtimeConfig.macsecKeys``); ``hint``: said after a name that
    is not there (why the caller may have none)."""
    __slots__ = ("values", "where", "hint")

    def __init__(self, values, where, hint=""):
        self.values, self.where, self.hint = values, where, hint

    def __repr__(self):   # never the values, whatever prints this
        return f"Named({self.where}: {len(self.values)} secrets)"
