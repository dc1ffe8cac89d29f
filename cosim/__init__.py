"""Mixed-signal co-simulation bridge for memristor on-chip learning."""

__version__ = "0.1.0"
