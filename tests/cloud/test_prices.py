"""The price list behind every cost estimate: each figure cites where and when it was read,
and an entry whose figures could not be checked carries none and says why."""

from __future__ import annotations

import math
import tomllib

from qrnn.cloud import _provider


def _entries() -> dict:
    with _provider._PRICES.open("rb") as handle:
        return tomllib.load(handle)["price"]


def test_every_figure_cites_its_source_and_date_and_unverified_entries_have_none():
    entries = _entries()
    assert entries, "prices.toml lists no prices"
    for key, entry in entries.items():
        figures = {name for name in entry if name.startswith("usd_")}
        assert entry["source"] and entry["date"] and entry["basis"], key
        if entry["date"] == "unverified":
            assert not figures and entry.get("note"), key  # says why, shows no number
        else:
            assert figures == {"usd_per_task", "usd_per_shot"}, key
            assert "20" in entry["date"], key  # a year: when it was read
            assert all(math.isfinite(entry[f]) and entry[f] >= 0 for f in figures), key
        assert _provider.price(key) == entry


def test_the_braket_ionq_figures_are_those_aws_publishes():
    # https://aws.amazon.com/braket/pricing/ (on demand), read 2026-11 and 2026-12-04
    forte, aria = _provider.price("braket_ionq_forte"), _provider.price("braket_ionq_aria")
    assert (forte["usd_per_task"], forte["usd_per_shot"]) == (0.30, 0.08)
    assert (aria["usd_per_task"], aria["usd_per_shot"]) == (0.30, 0.03)
    for key in ("ibm_qpu", "ionq_qpu"):  # no published rate could be confirmed
        assert _provider.price(key)["date"] == "unverified"
