"""RunConfig: its keys and checks, reading it from TOML / YAML / JSON, and the model it asks for."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


# ----------------------------------------------------------------------------- unreadable files


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        (
            "indented.yaml",
            "model: gru\n  lr: 0.1\n",
            r"indented\.yaml: mapping values are not allowed here \(at line 2, column 5\)$",
        ),
        (
            "open.yaml",
            "model: gru\nsplit: [0.5, 0.5\n",
            r"open\.yaml: expected ',' or '\]', but got '<stream end>' \(at line 3, column 1\)$",
        ),
        (
            "bell.yaml",
            "model: gru\nlr: 0.1\a\n",
            r"bell\.yaml: character '\\x07' is not allowed in YAML \(at line 2, column 8\)$",
        ),
        (
            "tag.yaml",
            "seed: !!python/object:os.system ls\n",
            r"tag\.yaml: could not determine a constructor .* \(at line 1, column 7\)$",
        ),
        ("comma.json", '{"model": "gru",\n "lr": }\n', r"Expecting value \(at line 2, column 8\)$"),
        ("long.json", '{"seed": ' + "9" * 5000 + "}", r"long\.json: Exceeds the limit"),
        ("deep.json", "[" * 100_000, r"deep\.json: nested too deeply$"),
    ],
)
def test_a_syntax_error_is_one_line_naming_the_file_and_line(tmp_path, name, text, match):
    (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError, match=r"cannot parse config file .*" + match) as error:
        load_config(tmp_path / name)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("name", ["run.toml", "run.yaml", "run.json"])
def test_a_binary_config_file_is_an_error_naming_it(tmp_path, name):
    (tmp_path / name).write_bytes(b"model = 1\n\x89PNG\r\n\x1a\n")
    with pytest.raises(ConfigError, match=rf"{name}, line 2: byte 0x89 is not UTF-8 text$"):
        load_config(tmp_path / name)


def test_an_unreadable_config_file_is_an_error_naming_it(tmp_path, monkeypatch):
    path = tmp_path / "run.toml"
    path.write_text('model = "lstm"\n')

    def refuse(self):  # what reading a file without read permission does (root reads any)
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(
        ConfigError, match=r"cannot read config file .*run\.toml: Permission denied$"
    ):
        load_config(path)


# ----------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"lr": 10**400}, r"config key 'lr' is too large"),
        ({"grad_clip": float("inf")}, r"'grad_clip' must be a positive number or null, got inf"),
        ({"grad_clip": -1}, r"'grad_clip' must be a positive number or null, got -1"),
        ({"seed": -1}, r"'seed' must be in \[0, 2\*\*64\), got -1"),
        ({"seed": 2**64}, r"'seed' must be in \[0, 2\*\*64\)"),
        ({"split": [10**400, 0]}, r"'split' must be 2 or 3 fractions in \[0, 1\]"),
        ({"split": [0.5, float("nan")]}, r"'split' must be 2 or 3 fractions in \[0, 1\]"),
        ({"column": []}, r"'column' must be a name, an index or a non-empty list of them"),
        ({"column": ["a", 1.5]}, r"'column' must be a name, an index or a non-empty list"),
        ({"name": ".."}, r"'name' must be a plain directory name, got '\.\.'"),
        ({"name": "a\0b"}, r"'name' must be a plain directory name"),
        ({"model_options": {1: 2}}, r"'model_options' must have str keys .*, got \[1\]"),
        ({"dataset_options": {"d": {1, 2}}}, r"'dataset_options' must hold JSON values"),
        ({1: 2, "lr_": 3}, r"unknown config keys \[1, 'lr_'\]"),  # YAML keys can be numbers
    ],
)
def test_values_that_cannot_be_used_are_config_errors(values, match):
    with pytest.raises(ConfigError, match=match):
        RunConfig.from_mapping(values)


def test_a_cyclic_yaml_option_table_is_a_config_error(tmp_path):
    (tmp_path / "loop.yaml").write_text("model_options: &x {a: *x}\n")
    with pytest.raises(ConfigError, match=r"'model_options' must hold JSON values: Circular"):
        load_config(tmp_path / "loop.yaml")


# ----------------------------------------------------------------------------- model keys


def test_a_model_key_that_does_not_apply_names_the_key_the_user_gave():
    with pytest.raises(
        ConfigError,
        match=r"^--qubits / config key 'qubits' does not apply to model 'lstm'; it applies to "
        r"qlstm, qgru, qrnn, qreservoir$",
    ):
        RunConfig(model="lstm", qubits=4)
    with pytest.raises(ConfigError, match=r"--ansatz / config key 'ansatz' .* model 'qreservoir'"):
        RunConfig(model="qreservoir", ansatz="hardware_efficient")


def test_a_flag_that_changes_the_model_is_checked_against_the_file(tmp_path):
    (tmp_path / "run.toml").write_text('model = "qlstm"\nreps = 2\n')
    with pytest.raises(
        ConfigError, match=r"--reps / config key 'reps' does not apply to model 'gru'"
    ):
        load_config(tmp_path / "run.toml", overrides={"model": "gru"})


# A value of each model key that every family taking it accepts, as the constructor word.
_KEY_VALUES = {
    "hidden_size": ("hidden_size", 2),
    "qubits": ("n_qubits", 6),
    "reps": ("reps", 1),
    "ansatz": ("ansatz", "hardware_efficient"),
    "backend": ("backend", "torch"),
}


@pytest.mark.parametrize("model", models.names())
@pytest.mark.parametrize("key", sorted(_KEY_VALUES))
def test_the_config_knows_which_keys_each_model_takes(model, key):
    # The reference is the model's constructor: it takes the option iff it raises no TypeError.
    word, value = _KEY_VALUES[key]
    try:
        models.build(model, 1, 1, **{word: value})
    except TypeError:
        takes = False
    else:
        takes = True
    if takes:
        assert getattr(RunConfig(model=model, **{key: value}), key) == value
    else:
        with pytest.raises(ConfigError, match=rf"config key '{key}' does not apply to model"):
            RunConfig(model=model, **{key: value})


# ----------------------------------------------------------------------------- any document

PROPERTY = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI never flakes
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # one file, rewritten each time
)
SUFFIXES = (".toml", ".yaml", ".json")


def load_or_error(path) -> RunConfig | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the old key 'layers'
        try:
            config = load_config(path)
        except ConfigError as error:
            assert str(path) in str(error) or "config key" in str(error), error
            assert "\n" not in str(error)
            return None
    assert RunConfig.from_mapping(config.to_dict()) == config  # what a run saves, it reads back
    return config


@PROPERTY
@given(content=st.binary(max_size=120), suffix=st.sampled_from(SUFFIXES))
def test_arbitrary_bytes(tmp_path, content, suffix):
    path = tmp_path / f"any{suffix}"
    path.write_bytes(content)
    load_or_error(path)


@PROPERTY
@given(text=st.text(alphabet="ab:=-[]{},\"'\n #!&*?|>0.15e_lrmodel", max_size=60))
def test_arbitrary_text(tmp_path, text):
    for suffix in SUFFIXES:
        path = tmp_path / f"any{suffix}"
        path.write_text(text)
        load_or_error(path)


SCALARS = (
    st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=6)
    | st.sampled_from(["lstm", "qlstm", "hardware_efficient", "torch", "adam", "mse", "1e-3"])
)
VALUES = st.recursive(
    st.none() | SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
KEYS = st.sampled_from([*RunConfig.keys(), "layers"]) | st.text(max_size=6)
# Per key: the kind of value the key takes, valid or not, so that a valid config is often drawn.
COUNTS = st.integers(-1, 5) | st.none()
PLAUSIBLE = {
    "model": st.sampled_from([*models.names(), "transformer"]),
    "hidden_size": COUNTS,
    "qubits": COUNTS,
    "reps": COUNTS,
    "ansatz": st.none() | st.text(max_size=4),
    "model_options": st.dictionaries(st.text(max_size=4), VALUES, max_size=2),
    "baseline": st.sampled_from(["lstm", "gru", "esn", "none", "rnn"]),
    "column": st.none() | st.text(max_size=3) | st.integers(-3, 3) | st.lists(SCALARS, max_size=2),
    "window": COUNTS,
    "split": st.lists(st.floats(-0.5, 1.5) | st.integers(0, 1), min_size=1, max_size=4),
    "lr": st.floats() | st.sampled_from(["1e-3", "fast"]),
    "grad_clip": st.none() | st.floats() | st.integers(-1, 2),
    "seed": st.integers(-1, 2**65),
    "name": st.none() | st.sampled_from(["run", "..", ".", "a/b", "", "x\0y"]),
    "layers": COUNTS,
}
DOCUMENTS = st.dictionaries(KEYS, VALUES, max_size=5) | st.fixed_dictionaries(
    {}, optional=PLAUSIBLE
)


def without_none(value):
    """``value`` as TOML holds it: TOML has no null, so a None (in a table or list) is left out."""
    if isinstance(value, list):
        return [without_none(v) for v in value if v is not None]
    if isinstance(value, dict):
        return {k: without_none(v) for k, v in value.items() if v is not None}
    return value


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)  # inf, -inf as TOML spells them
    if isinstance(value, int | str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(map(toml_value, value)) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


@PROPERTY
@given(document=DOCUMENTS, suffix=st.sampled_from(SUFFIXES))
def test_arbitrary_small_documents(tmp_path, document, suffix):
    if suffix == ".toml":
        document = without_none(document)
        text = "".join(f"{json.dumps(k)} = {toml_value(v)}\n" for k, v in document.items())
    else:
        text = json.dumps(document) if suffix == ".json" else yaml.safe_dump(document)
    path = tmp_path / f"doc{suffix}"
    path.write_text(text)
    config = load_or_error(path)
    if config is None:
        return
    saved = config.to_dict()
    for key, value in document.items():  # each key the file sets holds the file's value
        if key == "split":
            assert saved[key] == [float(v) for v in value]
        elif key in ("lr", "grad_clip") and value is not None:
            assert saved[key] == float(value)  # YAML 1.1 reads 1e-3 as a string
        elif key in saved and key != "csv":  # csv: relative to the file's folder
            same = json.dumps(saved[key], sort_keys=True) == json.dumps(value, sort_keys=True)
            assert same, (saved[key], value)  # as JSON text: NaN equals NaN
