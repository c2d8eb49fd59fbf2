"""qrnn: quantum recurrent neural networks for time series on simulated trapped-ion devices.

    import qrnn
    data = qrnn.data.prepare(qrnn.data.load("damped_oscillator"), window=4)
    model = qrnn.models.build("qrnn", input_size=1, output_size=1)   # a Forecaster
    history = qrnn.fit(model, data, epochs=12)

Subpackages: ``sim`` (the torch engine), ``backends`` (torch, Aer, PennyLane executors),
``devices`` (ion-trap device models), ``gradients`` (parameter-shift and SPSA), ``models``,
``data``, ``interfaces`` (qrnn inside PennyLane and Qiskit); ``fit`` trains; ``sweep``
runs a sweep file's trials on Dask (``qrnn.sweeps``). They are imported on first use, so
``qrnn --help`` does not pay for torch, qiskit and PennyLane.
"""

from importlib import import_module

from qrnn._version import __version__

_SUBPACKAGES = {
    "backends",
    "sweeps",
    "data",
    "devices",
    "gradients",
    "interfaces",
    "models",
    "sim",
    "train",
    "layer",
    "plots",
}
_NAMES = {
    "QuantumLayer": "qrnn.layer",
    "QLSTM": "qrnn.models",
    "QGRU": "qrnn.models",
    "QRNN": "qrnn.models",
    "QRNNCell": "qrnn.models",
    "QReservoir": "qrnn.models",
    "QReservoirCell": "qrnn.models",
    "fit": "qrnn.train",
    "sweep": "qrnn.sweeps",
}

__all__ = [
    "QGRU",
    "QLSTM",
    "QRNN",
    "QRNNCell",
    "QReservoir",
    "QReservoirCell",
    "QuantumLayer",
    "__version__",
    "fit",
    "sweep",
]
__all__ += sorted(_SUBPACKAGES - {"train", "layer", "plots"})


def __getattr__(name: str):
    if name in _SUBPACKAGES:
        return import_module(f"qrnn.{name}")
    if name in _NAMES:
        return getattr(import_module(_NAMES[name]), name)
    raise AttributeError(f"module 'qrnn' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
