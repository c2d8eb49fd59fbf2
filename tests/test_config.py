"""RunConfig: its keys and checks, reading it from TOML / YAML / JSON, and the model it asks for."""

from __future__ import annotations

import json

import pytest

from qrnn import models
from qrnn.config import ConfigError, RunConfig, load_config
from qrnn.models import DEFAULT_MODEL


def test_config_values_are_checked():
    with pytest.raises(ConfigError, match="'epochs' must be int"):
        RunConfig.from_mapping({"epochs": "ten"})
    with pytest.raises(ConfigError, match="'window' must be >= 1"):
        RunConfig(window=0)
    with pytest.raises(ConfigError, match="'baseline' must be one of"):
        RunConfig(baseline="transformer")
    with pytest.raises(ConfigError, match="model_options"):
        RunConfig(model_options={"n_qubits": 4})
    with pytest.raises(ConfigError, match="'name' must be a plain directory name"):
        RunConfig(name="../elsewhere")


def test_unknown_keys_list_the_valid_ones():
    with pytest.raises(ConfigError, match=r"unknown config key \['learning_rate'\]; valid keys: "):
        RunConfig.from_mapping({"learning_rate": 0.1})


def test_default_model_comes_from_the_registry_constant():
    assert RunConfig().model == DEFAULT_MODEL
    assert RunConfig.keys()[0] == "model"


def test_yaml_config(tmp_path):
    (tmp_path / "run.yaml").write_text("model: gru\nlr: 1e-3\nsplit: [0.7, 0.3]\n")
    config = load_config(tmp_path / "run.yaml")
    assert (config.model, config.lr, config.split) == ("gru", 0.001, (0.7, 0.3))


def test_toml_config_with_a_csv_beside_it_and_overrides(tmp_path):
    (tmp_path / "run.toml").write_text(
        'model = "lstm"\ncsv = "series.csv"\nlr = 0.02\n[dataset_options]\nlength = 50\n'
    )
    config = load_config(tmp_path / "run.toml", overrides={"lr": 0.03, "epochs": 3})
    assert config.csv == str(tmp_path / "series.csv")  # relative to the config file
    assert (config.lr, config.epochs) == (0.03, 3)  # overrides beat the file
    assert config.dataset_options == {"length": 50}


def test_json_config_round_trips_through_to_dict(tmp_path):
    config = RunConfig(model="qlstm", qubits=4, split=(0.5, 0.25, 0.25), grad_clip=None)
    (tmp_path / "run.json").write_text(json.dumps(config.to_dict()))
    assert load_config(tmp_path / "run.json") == config


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        ("run.ini", "model = lstm\n", r"must end in \.toml, \.yaml, \.yml or \.json"),
        ("run.toml", "model = \n", r"cannot parse config file .*run\.toml"),
        ("run.json", "[1, 2]", r"must hold a mapping of keys at the top level"),
    ],
)
def test_unreadable_config_files_are_clear_errors(tmp_path, name, text, match):
    (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_config(tmp_path / name)


def test_missing_config_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no config file at"):
        load_config(tmp_path / "run.toml")


def test_model_keys_are_the_model_constructor_words():
    config = RunConfig(
        model="qlstm",
        qubits=4,
        reps=2,
        ansatz="hardware_efficient",
        backend="torch",
        model_options={"bidirectional": True},
    )
    options = config.model_options_for_build()
    assert options == {
        "n_qubits": 4,
        "reps": 2,
        "ansatz": "hardware_efficient",
        "backend": "torch",
        "bidirectional": True,
    }
    recurrent = models.build(config.model, 1, 1, **options).recurrent
    assert (recurrent.n_qubits, recurrent.reps, recurrent.ansatz) == (
        4,
        2,
        "hardware_efficient",
    )
    assert recurrent.bidirectional
    assert RunConfig(model="lstm").model_options_for_build() == {}  # unset keys are not passed


def test_layers_is_the_deprecated_name_of_reps(tmp_path):
    (tmp_path / "old.toml").write_text('model = "qlstm"\nlayers = 3\n')
    with pytest.warns(DeprecationWarning, match="config key 'layers' is deprecated.*'reps'"):
        config = load_config(tmp_path / "old.toml")
    assert config.reps == 3
    with pytest.raises(ConfigError, match="'reps' and 'layers'"):
        RunConfig.from_mapping({"reps": 1, "layers": 2})
