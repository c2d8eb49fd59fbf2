"""benchmarks/quality.toml, the sweep behind the README's quality table: what it trains, and
that its classical models are sized to the QRNN as match_parameters sizes them."""

from __future__ import annotations

from pathlib import Path

from qrnn import models
from qrnn.sweeps import load_sweep

FILE = Path(__file__).parents[2] / "benchmarks" / "quality.toml"


def test_the_quality_sweep_trains_seven_models_on_six_series_forms_with_three_seeds():
    trials = load_sweep(FILE).trials()
    assert len(trials) == 7 * 6 * 3
    forms = {(t.config.dataset, t.config.difference) for t in trials}
    assert forms == {
        *((name, False) for name in ("sine", "damped_oscillator", "narma5", "mackey_glass")),
        ("airline", False),
        ("airline", True),
    }
    assert all(t.config.epochs == 8 and t.config.baseline == "none" for t in trials)


def test_its_classical_models_match_the_qrnns_parameter_count():
    trials = load_sweep(FILE).trials()
    quantum = next(t.config for t in trials if t.config.model == "qrnn")
    reference = models.build("qrnn", 1, 1, **quantum.model_options_for_build())
    for family in ("lstm", "gru", "esn"):
        config = next(t.config for t in trials if t.config.model == family)
        matched = models.match_parameters(reference, family, 1, 1)
        assert config.hidden_size == matched.recurrent.hidden_size, family
