"""Sweep files: what trials a grid or random search expands to, and the bad input refused
before any trial runs (no Dask needed)."""

from __future__ import annotations

import json

import pytest

from qrnn.sweeps import SweepError, load_sweep, make_sweep, sweep


def _write(tmp_path, text: str, name: str = "s.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_grid_is_every_combination_with_every_seed(tmp_path):
    path = _write(
        tmp_path,
        'seeds = 2\n[base]\nepochs = 1\n[grid]\nmodel = ["lstm", "gru"]\nwindow = [3, 4]\n',
    )
    spec = load_sweep(path)
    trials = spec.trials()
    assert spec.name == "s" and spec.swept_keys == ["model", "window", "seed"]
    assert [(t.config.model, t.config.window, t.config.seed) for t in trials] == [
        (m, w, s) for m in ("lstm", "gru") for w in (3, 4) for s in (0, 1)
    ]
    assert all(t.config.epochs == 1 and t.config.name == t.id for t in trials)
    assert len({t.id for t in trials}) == 8
    # the id is a function of the config: the same file gives the same ids
    assert [t.id for t in load_sweep(path).trials()] == [t.id for t in trials]


def test_several_grids_are_a_union_and_a_shared_trial_runs_once(tmp_path):
    spec = make_sweep(
        {
            "name": "u",
            "grid": [{"model": ["lstm"], "window": [3, 4]}, {"model": ["lstm", "gru"]}],
        }
    )
    configs = [(t.config.model, t.config.window) for t in spec.trials()]
    assert configs == [("lstm", 3), ("lstm", 4), ("gru", 4)]  # (lstm, 4) is the default too


def test_a_random_search_draws_reproducible_points_from_lists_and_ranges(tmp_path):
    values = {
        "name": "r",
        "random": {"lr": {"low": 1e-3, "high": 1e-1, "log": True}, "window": [2, 3, 5]},
        "samples": 5,
        "random_seed": 3,
        "seeds": [0],
    }
    points = make_sweep(values).points()
    assert points == make_sweep(values).points()
    assert len(points) == 5
    assert all(1e-3 <= p["lr"] <= 1e-1 and p["window"] in (2, 3, 5) for p in points)
    assert points != make_sweep({**values, "random_seed": 4}).points()


def test_relative_csv_paths_are_taken_from_the_sweep_files_folder(tmp_path):
    (tmp_path / "series.csv").write_text("value\n" + "\n".join(str(i) for i in range(30)))
    path = _write(tmp_path, '[base]\ncsv = "series.csv"\n[grid]\nmodel = ["lstm"]\n')
    (trial,) = load_sweep(path).trials()
    assert trial.config.csv == str(tmp_path / "series.csv")
    assert trial.id.startswith("lstm-series-s0-")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[grid]\nmodle = ["lstm"]\n', "unknown config key 'modle' in 'grid'"),
        ('[base]\nepoch = 2\n[grid]\nmodel = ["lstm"]\n', "unknown config key 'epoch' in 'base'"),
        ("[grid]\nmodel = []\n", "grid key 'model' must be a non-empty list"),
        ("grid = {}\n", "'grid' table is empty"),
        ("grid = []\n", "'grid' is empty"),
        ('[grid]\nmodel = "lstm"\n', "grid key 'model' must be a non-empty list"),
        ("seeds = 0\n[grid]\nmodel = ['lstm']\n", "'seeds' must be a count"),
        ("[grid]\nseed = [1, 2]\n", "grid key 'seed' is set by the sweep (seeds)"),
        ('[base]\noutput_dir = "x"\n[grid]\nmodel = ["lstm"]\n', "set by the sweep"),
        ('workers = 2\n[grid]\nmodel = ["lstm"]\n', "unknown key ['workers']"),
        ("[base]\nepochs = 1\n", "give exactly one of 'grid'"),
        ("[random]\nlr = [0.1]\n", "needs 'samples'"),
        ("samples = 2\n[random]\nlr = {low = 1, high = 0}\n", "low < high"),
        ("samples = 2\n[grid]\nlr = [0.1]\n", "apply to a 'random' search"),
        ('[grid]\nmodel = ["lstm"]\nqubits = [2]\n', "trial model='lstm', qubits=2, seed=0"),
        ("[grid]\nepochs = [0]\n", "'epochs' must be >= 1"),
        ("[grid\n", "cannot parse sweep file"),
    ],
)
def test_a_bad_sweep_file_is_an_error_naming_what_is_wrong(tmp_path, text, message):
    with pytest.raises(SweepError) as caught:
        load_sweep(_write(tmp_path, text))
    assert message in str(caught.value)
    assert str(tmp_path / "s.toml") in str(caught.value)


def test_a_missing_sweep_file_and_a_wrong_suffix(tmp_path):
    with pytest.raises(FileNotFoundError, match="no sweep file"):
        load_sweep(tmp_path / "nothing.toml")
    with pytest.raises(SweepError, match=r"must end in \.toml"):
        load_sweep(_write(tmp_path, "{}", "s.txt"))


def test_yaml_and_json_sweep_files_read_like_toml(tmp_path):
    yaml_path = _write(tmp_path, "grid:\n  model: [lstm, gru]\nseeds: [4]\n", "y.yaml")
    json_path = _write(tmp_path, json.dumps({"grid": {"model": ["lstm", "gru"]}, "seeds": [4]}))
    json_path = json_path.rename(tmp_path / "y.json")
    assert [t.id for t in load_sweep(yaml_path).trials()] == [
        t.id for t in load_sweep(json_path).trials()
    ]


def test_without_the_distributed_extra_the_error_gives_the_pip_command(tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "distributed", None)  # import fails
    spec = make_sweep(
        {"name": "m", "output_dir": str(tmp_path), "grid": {"model": ["lstm"]}, "seeds": [0]}
    )
    with pytest.raises(SweepError, match=r'pip install "qrnn-iontrap\[distributed\]"'):
        sweep(spec, progress=False, echo=None)
    assert not (tmp_path / "m" / "runs").exists()  # nothing trained


def test_a_models_own_keys_make_columns_and_the_data_keys_rows():
    from qrnn.sweeps._table import markdown

    spec = make_sweep(
        {
            "name": "t",
            "seeds": [0, 1],
            "grid": [
                {"model": ["lstm"], "hidden_size": [5], "dataset": ["sine", "narma5"]},
                {"model": ["qrnn"], "qubits": [3, 4], "dataset": ["sine", "narma5"]},
            ],
        }
    )
    rows = []
    for trial in spec.trials():
        c = trial.config
        mse = {"lstm": 1.0, "qrnn": 2.0 + c.qubits if c.qubits else 0}[c.model] + c.seed
        persistence = {"sine": 2.5, "narma5": 10.0}[c.dataset]
        rows.append(
            {**{k: getattr(c, k) for k in ("model", "hidden_size", "qubits", "dataset")}}
            | {"seed": c.seed, "test_mse": mse, "parameters": 7, "baseline": None}
            | {"baseline_test_mse": None, "persistence_test_mse": persistence}
            | {"ridge_test_mse": 0.5, "status": "finished", "trial": trial.id, "error": None}
        )
    table = markdown(spec, rows)
    lines = [line for line in table.splitlines() if line.startswith("|")]
    assert (
        lines[0] == "| dataset | lstm | qrnn (qubits=3) | qrnn (qubits=4) | persistence | ridge |"
    )
    # sine: lstm mean 1.5 < 2.5; qrnn (3) 5.5 and (4) 6.5 do not beat persistence
    assert lines[2] == ("| sine | **1.5 ± 0.71** | 5.5 ± 0.71 † | 6.5 ± 0.71 † | 2.5 | 0.5 |")
    assert lines[3].startswith("| narma5 | **1.5 ± 0.71** | 5.5 ± 0.71 | 6.5 ± 0.71 | 10 |")
