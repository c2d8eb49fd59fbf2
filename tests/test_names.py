"""qrnn._names: the torch-free copies of the registries equal the registries themselves."""

from __future__ import annotations

import inspect

import circuits.ansatz
from qrnn import _names, backends, config, data, devices, models, run, train


def test_models_and_the_default_model():
    assert tuple(models.names()) == _names.MODELS
    assert models.DEFAULT_MODEL == _names.DEFAULT_MODEL in _names.MODELS
    assert config.RunConfig().model == _names.DEFAULT_MODEL


def test_model_defaults_are_the_families_constructor_defaults():
    # RunConfig key -> constructor word; a family's registry entry overrides its signature
    # (nn.LSTM and nn.GRU take *args, **kwargs: their hidden size is the registry's)
    derived = {}
    for name in models.names():
        family, overrides = models._FAMILIES[name]
        parameters = inspect.signature(family).parameters
        derived[name] = {
            key: overrides[word] if word in overrides else parameters[word].default
            for key, word in config._MODEL_KEYS.items()
            if word in overrides or word in parameters
        }
    assert derived == _names.MODEL_DEFAULTS


def test_datasets_baselines_optimizers_and_losses():
    assert tuple(data.names()) == _names.DATASETS
    assert config.RunConfig().dataset == config.DEFAULT_DATASET in _names.DATASETS
    assert _names.BASELINES == config._BASELINES
    assert set(_names.BASELINES) <= set(_names.MODELS)
    assert tuple(sorted(train._OPTIMIZERS)) == _names.OPTIMIZERS
    assert tuple(sorted(train._LOSSES)) == _names.LOSSES


def test_ansatze_templates_and_backends():
    assert circuits.ansatz.names() == _names.ANSATZE
    assert _names.template_names() == run.template_names()
    assert tuple(backends.names()) == _names.BACKENDS
    assert _names.RUN_BACKENDS == run.BACKENDS


def test_devices_and_the_default_device():
    assert _names.device_names() == devices.names()
    assert _names.DEFAULT_DEVICE == run.DEFAULT_DEVICE in _names.device_names()
    assert inspect.signature(devices.get).parameters["device"].default == _names.DEFAULT_DEVICE


def test_gradient_methods():
    from qrnn.backends._base import GRADIENT_METHODS

    assert _names.GRADIENTS == GRADIENT_METHODS
