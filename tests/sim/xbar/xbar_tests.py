"""cocotb test module of the full co-simulation bench (the bench lives in the package)."""

from cosim.bench.training import training_run

__all__ = ["training_run"]
