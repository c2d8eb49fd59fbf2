"""qrnn inside other frameworks.

* ``pennylane_device.TorchDevice``: the torch engine (``qrnn.sim``) as the PennyLane device
  ``qrnn.torch`` (registered through the ``pennylane.plugins`` entry point, so
  ``qml.device("qrnn.torch", wires=4)`` finds it), with backprop through torch, an adjoint
  derivative, parameter broadcasting, shots and ion-trap noise (``qrnn_device=``).

Nothing is imported here: ``import qrnn.interfaces.pennylane_device`` loads PennyLane and torch.
"""
