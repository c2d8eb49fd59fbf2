"""What a sweep is: a sweep file, read and checked, and the trials it expands to.

A sweep file (TOML, YAML or JSON, read like a run config) holds::

    name = "quality"              # the sweep's folder under output_dir (default: the file's stem)
    output_dir = "sweeps"         # default "sweeps" (relative: to the working directory)
    seeds = 3                     # seeds 0, 1, 2; or a list, e.g. [0, 7]; default [0]

    [base]                        # RunConfig keys every trial shares
    epochs = 8

    [grid]                        # RunConfig key -> values: every combination is a trial
    model = ["qlstm", "lstm"]     # ([[grid]]: several tables, the union of their grids)
    dataset = ["sine", "airline"]

or, instead of ``grid``, a random search: ``[random]`` with key -> a list (one is drawn) or a
range ``{low = 1e-3, high = 1e-1, log = true}`` (floats, or integers when both ends are), and
``samples`` (points drawn) and ``random_seed`` (seeds the draws). Every point runs with every
seed. Each trial is a :class:`~qrnn.config.RunConfig`; its id is a readable prefix and a hash
of the config, so a trial keeps its id (and its run directory) when the file is re-read.
Everything is checked when the file is read: an unknown key (top level, ``base``, ``grid``),
an empty grid, a value ``RunConfig`` refuses (named with the trial that has it).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qrnn.config import ConfigError, RunConfig, _parse, _read_text

__all__ = ["Sweep", "SweepError", "Trial", "load_sweep"]

_TOP_KEYS = (
    "name",
    "output_dir",
    "seeds",
    "base",
    "grid",
    "random",
    "samples",
    "random_seed",
)
# Keys the sweep sets itself for every trial: where its run directory is, which seed.
_SWEEP_OWNED = {"output_dir": "the sweep's output_dir", "name": "the trial id", "seed": "seeds"}
# Keys that make a trial's id readable (the hash makes it unique).
_ID_KEYS = ("model", "dataset", "csv")


class SweepError(ValueError):
    """A sweep that cannot run: a bad sweep file, an unreachable scheduler, a missing extra.
    The message names the bad value and what was expected."""


@dataclass(frozen=True)
class Trial:
    """One run of a sweep.

    Attributes:
        id: readable prefix and a 10-hex-digit hash of ``config`` (without ``output_dir`` and
            ``name``), e.g. ``qlstm-sine-s0-3f2a9c1b0d``: its run directory's name.
        config: the trial's ``RunConfig`` (its ``output_dir`` and ``name`` set by the sweep).
        varying: the values of the swept keys of this trial (``seed`` included).
    """

    id: str
    config: RunConfig
    varying: dict[str, Any]


@dataclass(frozen=True)
class Sweep:
    """A checked sweep file.

    Attributes:
        name: the sweep's folder name; ``folder`` is ``output_dir / name``.
        output_dir: where sweep folders are made.
        seeds: the seeds every point runs with.
        base: RunConfig keys every trial shares.
        grids: key -> values tables (grid search); empty for a random search.
        random: key -> list or range (random search); empty for a grid search.
        samples, random_seed: points drawn and the seed of the draws (random search).
        source: the file it was read from, or None.
    """

    name: str
    output_dir: str = "sweeps"
    seeds: tuple[int, ...] = (0,)
    base: Mapping[str, Any] | None = None
    grids: tuple[Mapping[str, list], ...] = ()
    random: Mapping[str, Any] | None = None
    samples: int | None = None
    random_seed: int = 0
    source: str | None = None

    @property
    def folder(self) -> Path:
        return Path(self.output_dir) / self.name

    @property
    def swept_keys(self) -> list[str]:
        """The keys that vary between trials, in the file's order (``seed`` last)."""
        keys: list[str] = []
        for table in (*self.grids, self.random or {}):
            keys += [key for key in table if key not in keys]
        return [*keys, "seed"]

    def points(self) -> list[dict[str, Any]]:
        """The swept values of every point (before seeds), in order."""
        if self.grids:
            points = []
            for grid in self.grids:
                keys = list(grid)
                points += [dict(zip(keys, combo, strict=True)) for combo in _product(grid)]
            return points
        draw = random.Random(self.random_seed)
        return [
            {key: _draw(space, draw) for key, space in (self.random or {}).items()}
            for _ in range(self.samples or 0)
        ]

    def trials(self) -> list[Trial]:
        """Every (point, seed) as a :class:`Trial`; a value RunConfig refuses is a SweepError
        naming the trial."""
        runs_dir = str((self.folder / "runs").resolve())
        trials, seen = [], set()
        for point in self.points():
            for seed in self.seeds:
                values = {**(self.base or {}), **point, "seed": seed}
                where = ", ".join(f"{k}={v!r}" for k, v in {**point, "seed": seed}.items())
                try:
                    config = RunConfig.from_mapping(values)
                except (ConfigError, TypeError) as error:
                    raise SweepError(f"{self._where()}trial {where}: {error}") from None
                trial_id = trial_id_of(config)
                if trial_id in seen:  # the same config from two grids: run it once
                    continue
                seen.add(trial_id)
                config = RunConfig.from_mapping(
                    {"output_dir": runs_dir, "name": trial_id}, base=config
                )
                trials.append(Trial(trial_id, config, {**point, "seed": seed}))
        return trials

    def _where(self) -> str:
        return f"sweep file {self.source}: " if self.source else ""


def _product(grid: Mapping[str, list]):
    return itertools.product(*grid.values())


def _draw(space: Any, draw: random.Random) -> Any:
    if isinstance(space, list):
        return space[draw.randrange(len(space))]
    low, high = space["low"], space["high"]
    if isinstance(low, int) and isinstance(high, int) and not space.get("log", False):
        return draw.randint(low, high)
    if space.get("log", False):
        value = math.exp(draw.uniform(math.log(low), math.log(high)))
        return round(value) if isinstance(low, int) and isinstance(high, int) else value
    return draw.uniform(low, high)


def trial_id_of(config: RunConfig) -> str:
    """``<model>-<dataset>-s<seed>-<hash>``: the hash covers every key but ``output_dir`` and
    ``name``, so equal configs share an id wherever they are written."""
    values = config.to_dict()
    values.pop("output_dir")
    values.pop("name")
    text = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    source = Path(config.csv).stem if config.csv else config.dataset
    return f"{config.model}-{source}-s{config.seed}-{digest}"


def load_sweep(path: str | os.PathLike) -> Sweep:
    """Read and check a sweep file (``.toml``, ``.yaml``/``.yml`` or ``.json``).

    A relative ``csv`` in ``base`` or ``grid`` is taken relative to the file's folder.

    Raises:
        FileNotFoundError: no such file. SweepError: a file that cannot be parsed, an unknown
            key, an empty grid, a bad value (naming the file, the key and the trial).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no sweep file at {path}")
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".yaml", ".yml", ".json"):
        raise SweepError(f"sweep file {path} must end in .toml, .yaml, .yml or .json")
    try:
        values = _parse(path, _read_text(path), suffix)
    except ConfigError as error:
        raise SweepError(str(error).replace("config file", "sweep file")) from None
    if not isinstance(values, Mapping):
        raise SweepError(f"sweep file {path} must hold a mapping of keys at the top level")
    values = dict(values)
    values.setdefault("name", path.stem)
    return make_sweep(values, source=path)


def make_sweep(values: Mapping[str, Any], source: str | os.PathLike | None = None) -> Sweep:
    """A :class:`Sweep` from a mapping with the keys of a sweep file (see the module doc);
    ``source`` (a file) is named in errors, and relative ``csv`` paths are taken from its
    folder. Raises SweepError for bad input, before any trial runs."""
    where = f"sweep file {source}: " if source else ""
    if not isinstance(values, Mapping):
        raise SweepError(f"a sweep must be a mapping of keys, got {type(values).__name__}")
    unknown = sorted(set(values) - set(_TOP_KEYS), key=str)
    if unknown:
        raise SweepError(f"{where}unknown key {unknown}; valid keys: {', '.join(_TOP_KEYS)}")
    name = values.get("name")
    if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
        raise SweepError(f"{where}'name' must be a plain folder name, got {name!r}")
    output_dir = values.get("output_dir", "sweeps")
    if not isinstance(output_dir, str) or not output_dir:
        raise SweepError(f"{where}'output_dir' must be a folder path, got {output_dir!r}")
    seeds = _seeds(values.get("seeds", [0]), where)
    folder = Path(source).parent if source else None
    base = _table(values.get("base", {}), "base", where, folder)
    for key in base:
        _check_key(key, "base", where)
    has_grid, has_random = "grid" in values, "random" in values
    if has_grid == has_random:
        raise SweepError(
            f"{where}give exactly one of 'grid' (every combination) or 'random' (samples drawn "
            f"from ranges); got {'both' if has_grid else 'neither'}"
        )
    grids: tuple = ()
    space = None
    samples = values.get("samples")
    if has_grid:
        raw = values["grid"]
        tables = raw if isinstance(raw, list) else [raw]
        if not tables:
            raise SweepError(f"{where}'grid' is empty; give at least one key with values")
        grids = tuple(_grid(table, where, folder) for table in tables)
        if samples is not None or "random_seed" in values:
            raise SweepError(f"{where}'samples' and 'random_seed' apply to a 'random' search")
    else:
        space = _random(values["random"], where, folder)
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
            raise SweepError(
                f"{where}a 'random' search needs 'samples', the number of points to draw (an "
                f"integer >= 1), got {samples!r}"
            )
    random_seed = values.get("random_seed", 0)
    if isinstance(random_seed, bool) or not isinstance(random_seed, int):
        raise SweepError(f"{where}'random_seed' must be an integer, got {random_seed!r}")
    sweep = Sweep(
        name=name,
        output_dir=output_dir,
        seeds=seeds,
        base=base,
        grids=grids,
        random=space,
        samples=samples,
        random_seed=random_seed,
        source=None if source is None else str(source),
    )
    sweep.trials()  # every value checked now, before any work
    return sweep


def _seeds(seeds: Any, where: str) -> tuple[int, ...]:
    if isinstance(seeds, int) and not isinstance(seeds, bool) and seeds >= 1:
        return tuple(range(seeds))
    if (
        isinstance(seeds, list)
        and seeds
        and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)
        and len(set(seeds)) == len(seeds)
    ):
        return tuple(seeds)
    raise SweepError(
        f"{where}'seeds' must be a count (>= 1: seeds 0 .. count-1) or a list of distinct "
        f"integers >= 0, got {seeds!r}"
    )


def _check_key(key: Any, table: str, where: str) -> None:
    if key in _SWEEP_OWNED:
        raise SweepError(f"{where}{table} key {key!r} is set by the sweep ({_SWEEP_OWNED[key]})")
    valid = RunConfig.keys()
    if key not in valid and key != "layers":
        raise SweepError(
            f"{where}unknown config key {key!r} in {table!r}; valid keys: "
            f"{', '.join(k for k in valid if k not in _SWEEP_OWNED)}"
        )


def _table(table: Any, name: str, where: str, folder: Path | None) -> dict[str, Any]:
    if not isinstance(table, Mapping):
        raise SweepError(f"{where}{name!r} must be a table of config keys, got {table!r}")
    table = dict(table)
    if folder is not None and isinstance(table.get("csv"), str):
        table["csv"] = _relative(table["csv"], folder)
    return table


def _relative(csv: str, folder: Path) -> str:
    return csv if Path(csv).is_absolute() else str(folder / csv)


def _grid(table: Any, where: str, folder: Path | None) -> dict[str, list]:
    table = _table(table, "grid", where, None)
    if not table:
        raise SweepError(f"{where}a 'grid' table is empty; give at least one key with values")
    for key, options in table.items():
        _check_key(key, "grid", where)
        if not isinstance(options, list) or not options:
            raise SweepError(
                f"{where}grid key {key!r} must be a non-empty list of values, got {options!r}"
            )
        if key == "csv" and folder is not None:
            table[key] = [_relative(v, folder) if isinstance(v, str) else v for v in options]
    return table


def _random(table: Any, where: str, folder: Path | None) -> dict[str, Any]:
    table = _table(table, "random", where, None)
    if not table:
        raise SweepError(f"{where}'random' is empty; give at least one key to draw")
    for key, space in table.items():
        _check_key(key, "random", where)
        if isinstance(space, list):
            if not space:
                raise SweepError(f"{where}random key {key!r} has an empty list of values")
            if key == "csv" and folder is not None:
                table[key] = [_relative(v, folder) if isinstance(v, str) else v for v in space]
            continue
        if not isinstance(space, Mapping) or set(space) - {"low", "high", "log"}:
            raise SweepError(
                f"{where}random key {key!r} must be a list of values or a range "
                f"{{low, high, log}}, got {space!r}"
            )
        low, high = space.get("low"), space.get("high")
        numbers = all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in (low, high)
        )
        if not numbers or not low < high or not isinstance(space.get("log", False), bool):
            raise SweepError(
                f"{where}random key {key!r} needs numbers low < high (and log true or false), "
                f"got {dict(space)!r}"
            )
        if space.get("log") and low <= 0:
            raise SweepError(f"{where}random key {key!r} with log = true needs low > 0")
    return table
