"""qrnn's engine inside other frameworks' APIs.

Import the submodule you need; this package imports nothing itself, so that a framework is
only loaded by the code that uses it:

- ``qrnn.interfaces.qiskit_primitives``: ``EstimatorV2`` and ``SamplerV2``, Qiskit primitives
  (``BaseEstimatorV2`` / ``BaseSamplerV2``) over the torch engine and its device noise.
"""
