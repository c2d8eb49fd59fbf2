"""Device presets and device files: cited figures, conversions, loading and bad input."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import pytest

import qrnn.devices as devices
from qrnn.devices import DeviceFileError, IonTrapDevice, UnknownDeviceError

PRESETS = Path(devices.__file__).parent / "presets"


def figures(name: str) -> dict:
    with (PRESETS / f"{name}.toml").open("rb") as handle:
        return tomllib.load(handle)


def value(name: str, figure: str) -> object:
    return figures(name)[figure]["value"]


def test_names_lists_every_preset():
    assert devices.names() == [
        "aqt-ibex-q1",
        "ideal",
        "ionq-aria-1",
        "ionq-forte-1",
        "iontrap-10q",
        "quantinuum-h1-1",
        "quantinuum-h2-1",
    ]


# Figures from ../shared/REFERENCES.md (IonQ docs "simulation with noise models", Azure
# Quantum IonQ page, CQCL quantinuum-hardware-specifications, AQT/Scaleway docs).
CITED = {
    "ionq-aria-1": {
        "max_qubits": 25,
        "gate_error_1q": 0.0005,
        "gate_error_2q": 0.0133,
        "readout_p1_given_0": 0.9961,  # SPAM fidelity 99.61%
        "readout_p0_given_1": 0.9961,
        "duration_1q": 135e-6,
        "duration_2q": 600e-6,
        "t2": 1.0,
        "t1": 10.0,  # 10-100 s, lower end
    },
    "ionq-forte-1": {
        "max_qubits": 36,
        "gate_error_1q": 0.0002666666666666667,  # IonQ docs print 0.000267 rounded
        "gate_error_2q": 0.004949333333333333,
    },
    "quantinuum-h1-1": {
        "max_qubits": 20,
        "gate_error_1q": 2.1e-5,
        "gate_error_2q": 8.8e-4,
        "readout_p1_given_0": 0.001,
        "readout_p0_given_1": 0.004,
    },
    "quantinuum-h2-1": {
        "max_qubits": 32,
        "gate_error_1q": 2.9e-5,
        "gate_error_2q": 1.28e-3,
        "readout_p1_given_0": 0.0005,
        "readout_p0_given_1": 0.0025,
    },
    "aqt-ibex-q1": {"max_qubits": 12, "gate_error_1q": 0.9997, "gate_error_2q": 0.987},
}


@pytest.mark.parametrize("name", sorted(CITED))
def test_preset_files_hold_the_cited_figures(name):
    for figure, cited in CITED[name].items():
        assert value(name, figure) == pytest.approx(cited, rel=1e-12), figure
        assert figures(name)[figure].get("published", True), f"{figure} is cited"


def test_quantinuum_spam_is_the_mean_of_the_readout_flips():
    assert pytest.approx(2.5e-3) == (0.001 + 0.004) / 2  # H1-1 SPAM 2.5e-3
    assert devices.get("quantinuum-h1-1").readout_error == pytest.approx(2.5e-3)
    assert devices.get("quantinuum-h2-1").readout_error == pytest.approx(1.5e-3)


@pytest.mark.parametrize("name", devices.names())
def test_every_figure_has_a_source_and_a_licence(name):
    data = figures(name)
    assert data["name"] == name
    assert data["license"]
    tables = {key: table for key, table in data.items() if isinstance(table, dict)}
    assert all(table["source"].strip() for table in tables.values())
    device = devices.get(name)
    assert len(device.sources) == len(tables) == 17
    chosen = [key for key, table in tables.items() if not table.get("published", True)]
    assert len(device.unpublished) == len(chosen)


def test_published_errors_convert_to_depolarizing_parameters():
    aria = devices.get("ionq-aria-1")
    assert aria.depolarizing_1q == 0.0005  # IonQ's noise model is depolarizing already
    assert aria.depolarizing_2q == 0.0133
    assert aria.readout_p1_given_0 == pytest.approx(0.0039)
    h1 = devices.get("quantinuum-h1-1")
    # average infidelity r -> λ = r d / (d - 1)
    assert h1.depolarizing_1q == pytest.approx(2 * 2.1e-5)
    assert h1.depolarizing_2q == pytest.approx(4 / 3 * 8.8e-4)
    assert h1.error_2q == pytest.approx(8.8e-4)
    aqt = devices.get("aqt-ibex-q1")
    assert aqt.depolarizing_1q == pytest.approx(2 * 3e-4)
    assert aqt.depolarizing_2q == pytest.approx(4 / 3 * 0.013)
    assert aqt.error_1q == pytest.approx(1 - 0.9997)
    ideal = devices.get("ideal")
    assert ideal.depolarizing_2q == 0 and ideal.readout_error == 0 and math.isinf(ideal.t2)


def test_capabilities():
    assert devices.get("ionq-aria-1").gate_set == "gpi-ms"
    assert devices.get("ionq-forte-1").gate_set == "gpi-zz"
    assert devices.get("quantinuum-h2-1").native_gates == ("u1q", "rzz", "zzmax", "rz")
    assert devices.get("aqt-ibex-q1").native_gates == ("r", "rxx", "rz")
    assert not devices.get("ionq-aria-1").mid_circuit_measurement
    assert devices.get("quantinuum-h1-1").mid_circuit_reset
    assert devices.get("iontrap-10q").mid_circuit_reset  # quantum-memory QRNNs need it
    assert devices.get("aqt-ibex-q1").max_shots == 2000


def test_get_defaults_to_ten_qubits_and_widens_up_to_the_machine():
    assert devices.get().name == "iontrap-10q"
    assert devices.get("ionq-aria-1").n_qubits == 10
    assert devices.get("ionq-aria-1", n_qubits=25).n_qubits == 25
    assert devices.get("aqt-ibex-q1", n_qubits=3).n_qubits == 3
    with pytest.raises(ValueError, match="25 qubits"):
        devices.get("ionq-aria-1", n_qubits=26)
    with pytest.raises(ValueError, match="n_qubits must be >= 1"):
        devices.get("ionq-aria-1", n_qubits=0)
    device = devices.get("quantinuum-h1-1", n_qubits=4)
    assert devices.get(device) is device
    assert devices.get(device, n_qubits=20).n_qubits == 20


def test_unknown_name_lists_the_presets():
    with pytest.raises(UnknownDeviceError) as info:
        devices.get("ionq-harmony")
    message = str(info.value)
    assert "ionq-harmony" in message
    for name in devices.names():
        assert name in message
    with pytest.raises(TypeError):
        devices.get(42)


# --- user device files ---------------------------------------------------------------
def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mine.toml"
    path.write_text(text)
    return path


def aria_text() -> str:
    return (PRESETS / "ionq-aria-1.toml").read_text()


def test_load_a_user_file_by_path(tmp_path):
    text = aria_text().replace('name = "ionq-aria-1"', 'name = "my-trap"')
    text = text.replace("value = 0.0133", "value = 0.02")
    path = write(tmp_path, text)
    device = devices.load(path)
    assert device.name == "my-trap" and device.depolarizing_2q == 0.02
    assert devices.get(str(path), n_qubits=5).n_qubits == 5
    assert "duration_measure" in device.unpublished


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (("[t2]\nvalue = 1.0", "[t2]\nvalue = 25.0"), None),  # t2 > 2 t1
        (("value = 0.0133", 'value = "high"'), "gate_error_2q.value"),
        (("value = 0.0133", "value = 1.5"), "gate_error_2q.value"),
        (('kind = "depolarizing"', 'kind = "percent"'), "gate_error_1q.kind"),
        (("[max_qubits]\nvalue = 25", "[max_qubits]\nvalue = 2.5"), "max_qubits.value"),
        (('value = "gpi-ms"', 'value = "cx"'), None),
        (("[min_shots]", "[min_shots]\ncolour = 1"), "min_shots.colour"),
        (("[mid_circuit_reset]\nvalue = false", "[mid_circuit_reset]\nvalue = 0"), None),
        (('name = "ionq-aria-1"', 'name = "x"\nflavour = 1'), "flavour"),
    ],
)
def test_malformed_file_names_the_field(tmp_path, edit, field):
    old, new = edit
    assert old in aria_text()
    path = write(tmp_path, aria_text().replace(old, new, 1))
    with pytest.raises(DeviceFileError) as info:
        devices.load(path)
    message = str(info.value)
    assert str(path) in message
    if field is not None:
        assert repr(field) in message
    elif "t2" in new:
        assert "t2" in message
    elif "cx" in new:
        assert "gate_set" in message
    else:
        assert "mid_circuit_reset" in message


def test_missing_figure_and_bad_toml(tmp_path):
    text = aria_text()
    start = text.index("[duration_reset]")
    end = text.index("[mid_circuit_measurement]")
    path = write(tmp_path, text[:start] + text[end:])
    with pytest.raises(DeviceFileError, match="'duration_reset': missing"):
        devices.load(path)
    with pytest.raises(DeviceFileError, match="not valid TOML"):
        devices.load(write(tmp_path, "name = \n"))
    with pytest.raises(DeviceFileError, match="cannot read"):
        devices.load(tmp_path / "absent.toml")


def test_direct_construction_is_validated():
    base = devices.get("iontrap-10q")
    fields = {
        key: getattr(base, key)
        for key in IonTrapDevice.__dataclass_fields__
        if key not in ("sources", "unpublished")
    }
    IonTrapDevice(**fields)
    with pytest.raises(ValueError, match="depolarizing_1q"):
        IonTrapDevice(**{**fields, "depolarizing_1q": -0.1})
    with pytest.raises(ValueError, match="min_shots"):
        IonTrapDevice(**{**fields, "min_shots": 50, "max_shots": 10})
    with pytest.raises(TypeError, match="parallel_gates"):
        IonTrapDevice(**{**fields, "parallel_gates": 1})
