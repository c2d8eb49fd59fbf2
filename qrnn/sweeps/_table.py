"""A sweep's results: one CSV row per trial, a Markdown table and a plot.

The table has one row per combination of the swept keys that are not the model's own (a
model's own keys are ``model``, its size and circuit keys, ``model_options`` and ``baseline``;
``seed`` is averaged over) and one column per model (named with those of its own keys that
vary among its trials, e.g. ``qrnn (qubits=4)``; and one per matched baseline, when trials
train one), then the two
references every forecasting study reports, computed on the same windows: ``persistence``
(the last value) and ``ridge`` (a linear autoregressive model of the window, its penalty
chosen on the validation windows). A cell is the mean ± standard deviation of the test MSE
over seeds, in the series' original units; the best model of a row is bold, and a model
whose mean does not beat persistence is marked †.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import statistics
from pathlib import Path
from typing import Any

from qrnn._atomic import write_atomically

__all__ = ["references", "write_results"]

# The keys that decide a trial's windows: trials that agree on them share their references.
_DATA_KEYS = (
    "dataset",
    "dataset_options",
    "csv",
    "column",
    "date_column",
    "window",
    "horizon",
    "split",
    "difference",
)
# A model's own keys: they make columns, not rows (RunConfig's model keys and the baseline).
_MODEL_KEYS = ("model", "hidden_size", "qubits", "reps", "ansatz", "backend", "model_options")
_MODEL_KEYS += ("baseline",)
_SPLITS = ("val", "test")
_NOT_PERSISTENT = "†"


def references(config: Any) -> dict[str, dict[str, dict[str, float]]]:
    """``{"persistence": scores, "ridge": scores}`` on ``config``'s windows, ``scores`` as
    ``qrnn.train.evaluate`` gives them (``{split: {"mse", "mae", "r2"}}``, original units).

    Persistence is scored on the levels: with ``difference`` its level forecast (no change)
    and its errors are the same, on the same val and test positions.
    """
    from qrnn.models import Persistence, RidgeAutoregression
    from qrnn.runs import load_data
    from qrnn.train import evaluate

    data = load_data(config)
    levels = load_data(dataclasses.replace(config, difference=False)) if data.differenced else data
    ridge = RidgeAutoregression.fit_validated(
        (data.train.inputs, data.train.targets), (data.val.inputs, data.val.targets)
    )
    return {
        "persistence": evaluate(Persistence(config.horizon), levels, _SPLITS),
        "ridge": evaluate(ridge, data, _SPLITS),
    }


def _cell_value(value: Any) -> Any:
    if isinstance(value, dict | list | tuple):
        return json.dumps(value)
    return value


def _metrics(run_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((run_dir / "metrics.json").read_text())
    except (OSError, ValueError):
        return None


def _score(entry: dict | None, split: str, metric: str) -> float | None:
    if not entry:
        return None
    value = entry.get("metrics", {}).get(split, {}).get(metric)
    return None if value is None else float(value)


def trial_rows(spec: Any, trials: list, ledger: dict[str, Any]) -> list[dict[str, Any]]:
    """One dict per trial: id, status, error, the swept keys' values, the model's and its
    baseline's scores, the references' test MSE and whether the model beats persistence."""
    keys = [key for key in spec.swept_keys if key != "seed"]
    cache: dict[str, Any] = {}
    rows = []
    for trial in trials:
        config = trial.config
        run_dir = Path(config.output_dir) / str(config.name)
        entry = ledger.get("trials", {}).get(trial.id, {})
        metrics = _metrics(run_dir) if entry.get("status") != "failed" else None
        status = "finished" if metrics else entry.get("status") or "not run"
        row: dict[str, Any] = {"trial": trial.id, "status": status, "error": entry.get("error")}
        row.update({key: getattr(config, key) for key in keys})
        row["seed"] = config.seed
        model = (metrics or {}).get("model")
        baseline = (metrics or {}).get("baseline")
        row.update(
            model=config.model,
            parameters=model["parameters"] if model else None,
            val_mse=_score(model, "val", "mse"),
            test_mse=_score(model, "test", "mse"),
            test_mae=_score(model, "test", "mae"),
            test_r2=_score(model, "test", "r2"),
            baseline=baseline["name"] if baseline else None,
            baseline_parameters=baseline["parameters"] if baseline else None,
            baseline_test_mse=_score(baseline, "test", "mse"),
        )
        data_key = json.dumps({k: getattr(config, k) for k in _DATA_KEYS}, sort_keys=True)
        if data_key not in cache:
            try:
                cache[data_key] = references(config)
            except Exception as error:  # a data setup that fails fails its trials too
                cache[data_key] = {"error": f"{type(error).__name__}: {error}"}
        scores = cache[data_key]
        for name in ("persistence", "ridge"):
            row[f"{name}_test_mse"] = scores.get(name, {}).get("test", {}).get("mse")
        if row["test_mse"] is not None and row["persistence_test_mse"] is not None:
            row["beats_persistence"] = row["test_mse"] < row["persistence_test_mse"]
        else:
            row["beats_persistence"] = None
        row["seconds"] = entry.get("seconds")
        row["run_dir"] = str(run_dir)
        rows.append(row)
    return rows


def _mean_std(values: list[float]) -> tuple[float, float]:
    mean = statistics.fmean(values)
    return mean, statistics.stdev(values) if len(values) > 1 else 0.0


def _layout(spec: Any, rows: list[dict[str, Any]]):
    """(the row keys, row -> its table row label, row -> its model column's name)."""
    keys = [key for key in spec.swept_keys if key != "seed"]
    row_keys = [key for key in keys if key not in _MODEL_KEYS]
    own = [key for key in keys if key in _MODEL_KEYS and key != "model"]
    varying = {}
    for model in {row["model"] for row in rows}:
        mine = [row for row in rows if row["model"] == model]
        varying[model] = [k for k in own if len({_cell_value(r[k]) for r in mine}) > 1]

    def label(row):
        return tuple(_cell_value(row[key]) for key in row_keys)

    def column(row):
        extra = ", ".join(f"{k}={_cell_value(row[k])}" for k in varying[row["model"]])
        return f"{row['model']} ({extra})" if extra else row["model"]

    return row_keys, label, column


def markdown(spec: Any, rows: list[dict[str, Any]]) -> str:
    """The sweep's table (see the module doc), with a header saying how it was made."""
    keys, label_of, column_of = _layout(spec, rows)
    groups: dict[tuple, dict[str, list[dict]]] = {}
    columns: list[str] = []
    for row in rows:
        label = label_of(row)
        cells = groups.setdefault(label, {})
        names = [column_of(row)]
        if row["baseline"]:
            names.append(f"{row['baseline']} (matched to {names[0]})")
        for name in names:
            if name not in columns:
                columns.append(name)
            cells.setdefault(name, []).append(row)
    source = f"`qrnn sweep {spec.source}`" if spec.source else "`qrnn.sweep`"
    finished = sum(row["status"] == "finished" for row in rows)
    lines = [
        f"Test MSE (original units) from {source}: mean ± std over seeds "
        f"{', '.join(str(s) for s in spec.seeds)}; {finished} of {len(rows)} trials finished."
        + (f" Shared settings: {_settings(spec.base)}." if spec.base else ""),
        "",
        _parameters_line(groups, columns, column_of),
        "",
        "| " + " | ".join([*(keys or ["trials"]), *columns, "persistence", "ridge"]) + " |",
        "|" + "---|" * (max(len(keys), 1) + len(columns) + 2),
    ]
    for label, cells in groups.items():
        first = next(iter(cells.values()))[0]
        persistence = first["persistence_test_mse"]
        means = {}
        for name in columns:
            values = [_column_mse(row, name, column_of) for row in cells.get(name, [])]
            values = [v for v in values if v is not None]
            if values:
                means[name] = _mean_std(values)
        best = min((m for m, _ in means.values()), default=None)
        row_cells = [str(v) for v in label] if keys else ["all"]
        for name in columns:
            trials = cells.get(name, [])
            if name not in means:
                row_cells.append("failed" if trials else "")
                continue
            mean, spread = means[name]
            text = f"{mean:.3g} ± {spread:.2g}"
            if mean == best:
                text = f"**{text}**"
            if persistence is not None and not mean < persistence:
                text += f" {_NOT_PERSISTENT}"
            scored = [r for r in trials if _column_mse(r, name, column_of) is not None]
            missing = len(trials) - len(scored)
            if missing:
                text += f" ({missing} failed)"
            row_cells.append(text)
        for name in ("persistence", "ridge"):
            value = first[f"{name}_test_mse"]
            row_cells.append("" if value is None else f"{value:.3g}")
        lines.append("| " + " | ".join(row_cells) + " |")
    lines += [
        "",
        f"{_NOT_PERSISTENT}: does not beat persistence (the last value) on average. "
        "persistence and ridge (a linear autoregressive model of the same window, its penalty "
        "chosen on the validation windows) are fitted in closed form, the same for every seed.",
    ]
    failures = [row for row in rows if row["status"] == "failed"]
    if failures:
        lines += ["", "Failed trials:", ""]
        lines += [f"- {row['trial']}: {row['error']}" for row in failures]
    return "\n".join(lines) + "\n"


def _column_mse(row: dict[str, Any], name: str, column_of: Any) -> float | None:
    return row["test_mse"] if name == column_of(row) else row["baseline_test_mse"]


def _settings(base: Any) -> str:
    return ", ".join(f"{key} = {json.dumps(value)}" for key, value in dict(base).items())


def _parameters_line(groups: dict, columns: list[str], column_of: Any) -> str:
    counts: dict[str, list] = {name: [] for name in columns}
    for cells in groups.values():
        for name in columns:
            for row in cells.get(name, []):
                key = "parameters" if name == column_of(row) else "baseline_parameters"
                if row[key] is not None and row[key] not in counts[name]:
                    counts[name].append(row[key])
    parts = [
        f"{name} {'/'.join(str(c) for c in values)}" for name, values in counts.items() if values
    ]
    return "Trainable parameters: " + (", ".join(parts) if parts else "none finished")


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    """``rows`` as CSV; a ``run_dir`` inside the CSV's folder is written relative to it, so
    the sweep folder can be moved or committed."""
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            cells = {key: _cell_value(value) for key, value in row.items()}
            run_dir = Path(cells["run_dir"]).resolve() if cells.get("run_dir") else None
            if run_dir is not None and run_dir.is_relative_to(path.parent.resolve()):
                cells["run_dir"] = run_dir.relative_to(path.parent.resolve()).as_posix()
            writer.writerow(cells)
    text = buffer.getvalue()
    return write_atomically(path, lambda tmp: tmp.write_text(text))


def plot(spec: Any, rows: list[dict[str, Any]], path: Path) -> Path:
    """Grouped bars of the mean test MSE per table row and model (log scale, std as error
    bars), persistence as a black line across each group."""
    from matplotlib.figure import Figure

    keys, label_of, column_of = _layout(spec, rows)
    labels: list[str] = []
    models: list[str] = []
    values: dict[tuple[str, str], list[float]] = {}
    persistence: dict[str, float] = {}
    for row in rows:
        named = zip(keys, label_of(row), strict=True)
        label = ", ".join(str(v) if k in ("dataset", "csv") else f"{k}={v}" for k, v in named)
        label = label or "all"
        model = column_of(row)
        if label not in labels:
            labels.append(label)
        if model not in models:
            models.append(model)
        if row["test_mse"] is not None:
            values.setdefault((label, model), []).append(row["test_mse"])
        if row["persistence_test_mse"] is not None:
            persistence[label] = row["persistence_test_mse"]
    figure = Figure(figsize=(max(6.0, 1.2 * len(labels) * max(1, len(models)) ** 0.5), 4.0))
    axis = figure.subplots()
    width = 0.8 / max(1, len(models))
    for m, model in enumerate(models):
        xs, heights, errors = [], [], []
        for i, label in enumerate(labels):
            if (label, model) in values:
                mean, spread = _mean_std(values[(label, model)])
                xs.append(i + (m - (len(models) - 1) / 2) * width)
                heights.append(mean)
                errors.append(spread)
        axis.bar(xs, heights, width, yerr=errors, label=model, capsize=2)
    for i, label in enumerate(labels):
        if label in persistence:
            axis.hlines(persistence[label], i - 0.45, i + 0.45, colors="black", linewidth=1.5)
    positive = [v for vs in values.values() for v in vs if v > 0] + list(persistence.values())
    if positive and min(positive) > 0 and not math.isclose(min(positive), max(positive)):
        axis.set_yscale("log")
    axis.set_xticks(range(len(labels)), labels, rotation=20, ha="right", fontsize="small")
    axis.set_ylabel("test MSE (original units)")
    axis.set_title(f"sweep {spec.name} (black: persistence)")
    if models:
        axis.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.set_layout_engine("constrained")
    return write_atomically(path, lambda tmp: figure.savefig(tmp, format="png", dpi=110))


def write_results(spec: Any, trials: list, ledger: dict[str, Any], result: Any) -> list[dict]:
    """Write ``results.csv``, ``results.md`` and ``results.png`` into the sweep folder; set
    their paths (and the failed trials) on ``result``; return the rows."""
    rows = trial_rows(spec, trials, ledger)
    folder = spec.folder
    result.csv = write_csv(folder / "results.csv", rows)
    text = markdown(spec, rows)
    result.markdown = write_atomically(folder / "results.md", lambda tmp: tmp.write_text(text))
    result.plot = plot(spec, rows, folder / "results.png")
    result.failed = {row["trial"]: row["error"] for row in rows if row["status"] == "failed"}
    return rows
