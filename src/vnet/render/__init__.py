"""Output: iproute2 scripts, tables, JSON."""
