"""Traffic probes (and later, lint rules)."""
