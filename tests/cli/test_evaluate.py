"""`flask recommender evaluate DIR [--k 10]`: a table for the engine and both baselines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers import two_taste_clusters

REAL_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "movielens-small"


def table(output: str) -> dict[str, list[str]]:
    """Rows of the printed table by method name: [users, NDCG, Recall, HitRate, coverage, ms]."""
    rows = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.split("|")]
        if len(cells) == 7 and cells[0] in {"engine", "popularity", "original"}:
            rows[cells[0]] = cells[1:]
    return rows


def test_evaluate_prints_a_table_where_the_engine_wins_on_the_known_fixture(
    runner: Any, tmp_path: Path
) -> None:
    folder = two_taste_clusters(tmp_path / "clusters")
    result = runner.invoke(args=["recommender", "evaluate", str(folder), "--k", "5"])
    assert result.exit_code == 0, result.output
    assert "NDCG@5" in result.output and "Recall@20" in result.output
    assert "HitRate@5" in result.output and "Coverage@5" in result.output
    rows = table(result.output)
    assert set(rows) == {"engine", "popularity", "original"}
    assert rows["engine"][:2] == ["40", "1.0000"]
    assert rows["popularity"][1] == "0.7500"


def test_evaluate_names_the_weights_it_used(
    app: Any, runner: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "RECOMMENDER_WEIGHT_GENRE", 0.3)
    result = runner.invoke(
        args=["recommender", "evaluate", str(two_taste_clusters(tmp_path / "w"))]
    )
    assert result.exit_code == 0, result.output
    assert "Weights: genre 0.3," in result.output


@pytest.mark.parametrize("k", ["0", "101", "ten"])
def test_a_cut_off_outside_1_to_100_is_a_usage_error(runner: Any, tmp_path: Path, k: str) -> None:
    folder = two_taste_clusters(tmp_path / "k")
    result = runner.invoke(args=["recommender", "evaluate", str(folder), "--k", k])
    assert result.exit_code == 2
    assert "--k" in result.output


def test_a_folder_without_movielens_files_is_reported(runner: Any, tmp_path: Path) -> None:
    result = runner.invoke(args=["recommender", "evaluate", str(tmp_path)])
    assert result.exit_code == 1
    assert "movies.csv is missing" in result.output


@pytest.mark.slow
@pytest.mark.skipif(not REAL_DATA.is_dir(), reason="the shared MovieLens data is absent")
def test_on_ml_latest_small_the_engine_beats_both_baselines_by_a_wide_margin(
    runner: Any,
) -> None:
    result = runner.invoke(args=["recommender", "evaluate", str(REAL_DATA)])
    assert result.exit_code == 0, result.output
    rows = table(result.output)
    engine, popularity, original = (
        float(rows[name][1]) for name in ("engine", "popularity", "original")
    )
    assert engine >= 1.3 * popularity
    assert engine >= 1.5 * original
