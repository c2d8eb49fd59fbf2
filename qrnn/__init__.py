"""qrnn: quantum recurrent neural networks for time series on simulated trapped-ion devices."""

from qrnn import sim
from qrnn._version import __version__

__all__ = ["__version__", "sim"]
