"""A PennyLane user's model on qrnn.torch against default.qubit: one training step.

The circuit is the one of PennyLane's QLSTM demo (and most QML tutorials): an angle embedding
of the inputs, then layers of trainable rotations and a ring of CNOTs
(``qml.BasicEntanglerLayers``), Pauli-Z read out on every wire, wrapped in
``qml.qnn.TorchLayer`` between two linear layers. The QNode is the same code on both devices;
both run the torch interface with backprop and parameter broadcasting over the batch, in
float64/complex128. A step is forward, backward and an Adam update of the whole model.

Steps of the two devices are timed in interleaved rounds (so a slow spell of a shared machine
hits both), and the ratio comes from this one run. Prints steps/s from the median step [from
the fastest step] per size, and checks that both devices compute the same first loss.

    python benchmarks/bench_pennylane_device.py [--qubits 4 8 10] [--layers 2] [--batch 32]
"""

from __future__ import annotations

import argparse
import statistics
import time

import pennylane as qml
import torch

from qrnn.interfaces.pennylane_device import TorchDevice


def model(device, n_qubits: int, n_layers: int, n_features: int) -> torch.nn.Module:
    """Linear -> the demo's variational circuit (TorchLayer) -> Linear, seeded."""

    @qml.qnode(device, interface="torch", diff_method="backprop")
    def circuit(inputs, weights):
        qml.AngleEmbedding(inputs, wires=range(n_qubits))
        qml.BasicEntanglerLayers(weights, wires=range(n_qubits))
        return [qml.expval(qml.PauliZ(q)) for q in range(n_qubits)]

    torch.manual_seed(0)
    layer = qml.qnn.TorchLayer(circuit, {"weights": (n_layers, n_qubits)})
    return torch.nn.Sequential(
        torch.nn.Linear(n_features, n_qubits), layer, torch.nn.Linear(n_qubits, 1)
    ).double()


class Trainer:
    def __init__(self, device, n_qubits, n_layers, batch, n_features=8):
        self.model = model(device, n_qubits, n_layers, n_features)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=0.01)
        generator = torch.Generator().manual_seed(1)
        self.x = torch.randn(batch, n_features, generator=generator, dtype=torch.float64)
        self.y = torch.randn(batch, 1, generator=generator, dtype=torch.float64)
        self.times, self.losses = [], []

    def step(self, timed=True):
        start = time.perf_counter()
        self.optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(self.model(self.x), self.y)
        loss.backward()
        self.optimizer.step()
        if timed:
            self.times.append(time.perf_counter() - start)
        self.losses.append(loss.item())

    def rates(self):
        return 1 / statistics.median(self.times), 1 / min(self.times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--qubits", type=int, nargs="+", default=[4, 8, 10])
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per device and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(
        f"QLSTM-demo circuit in a TorchLayer: training step, batch {args.batch}, "
        f"{args.layers} layers, {args.threads} torch thread(s), {args.rounds} interleaved "
        "rounds; steps/s from the median step [fastest step]"
    )
    ratios = {}
    for n in args.qubits:
        ours = Trainer(TorchDevice(wires=n), n, args.layers, args.batch)
        peer = Trainer(qml.device("default.qubit", wires=n), n, args.layers, args.batch)
        for trainer in (ours, peer):
            trainer.step(timed=False)  # warm-up: compilation, caches, lazy imports
        for _ in range(args.rounds):
            for trainer in (ours, peer):
                for _ in range(args.steps):
                    trainer.step()
        difference = abs(ours.losses[0] - peer.losses[0])
        (m_ours, b_ours), (m_peer, b_peer) = ours.rates(), peer.rates()
        ratios[n] = m_ours / m_peer
        print(
            f"  {n:2d} qubits: qrnn.torch {m_ours:7.2f} [{b_ours:7.2f}]  default.qubit "
            f"{m_peer:7.2f} [{b_peer:7.2f}]  ratio {m_ours / m_peer:5.2f}x "
            f"[{b_ours / b_peer:5.2f}x]  first-loss difference {difference:.1e}"
        )
    return ratios


if __name__ == "__main__":
    main()
