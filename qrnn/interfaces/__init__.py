"""qrnn's engine inside other frameworks' APIs.

Import the submodule you need; this package imports nothing itself, so that a framework is
only loaded by the code that uses it:

- ``qrnn.interfaces.pennylane_device``: ``TorchDevice``, the torch engine (``qrnn.sim``) as
  the PennyLane device ``qrnn.torch`` (registered through the ``pennylane.plugins`` entry
  point, so ``qml.device("qrnn.torch", wires=4)`` finds it), with backprop through torch, an
  adjoint derivative, parameter broadcasting, shots and ion-trap noise (``qrnn_device=``).
- ``qrnn.interfaces.qiskit_primitives``: ``EstimatorV2`` and ``SamplerV2``, Qiskit primitives
  (``BaseEstimatorV2`` / ``BaseSamplerV2``) over the torch engine and its device noise.
"""
