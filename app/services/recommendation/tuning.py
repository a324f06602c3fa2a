"""Self-tuning: choose the engine's configuration on a temporal validation split of the
deployment's own interactions. Pure numpy/scipy; app.services.tuning feeds it and stores
what it chose.

The split holds out each user's latest VALIDATION_FRACTION of interactions (users with fewer
than MIN_INTERACTIONS keep all of theirs for training); held-out favourites and ratings of
LIKED_RATING or more are relevant. Every candidate learns its item model from the training
part only and ranks with `rank_for_user`, exactly as the API does. NDCG is measured on the
lists ranked from each user's training part; coverage on the lists the same users would be
served, ranked from their whole history (a longer history draws a narrower list, so the
shorter validation histories would overstate it). The search walks the
space one dimension at a time from the defaults (STAGES, in order), keeps a change only
when it reaches the coverage@10 floor or raises NDCG@10 on the same side of it, never
covers less than the defaults and beats them by more than the validation noise, and stops
starting candidates once the time budget is spent: the chosen configuration is never worse on
validation than the defaults, which are always measured first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import scipy.sparse as sp

from app.services.recommendation.catalogue_arrays import Catalogue
from app.services.recommendation.exposure import count_exposure, exposure_rerank
from app.services.recommendation.item_model import (
    DEFAULT_MODEL_SETTINGS,
    ModelSettings,
    learn_similarity,
)
from app.services.recommendation.ranking import (
    DEFAULT_SERVING,
    MAX_SAME_GENRE_RUN,
    ServingSettings,
    rank_for_user,
)
from app.services.recommendation.scoring import Weights
from app.services.recommendation.signals import (
    FAVORITE,
    LIKED_RATING,
    RATING,
    WATCHED,
    user_signals_from_rows,
)

VALIDATION_FRACTION = 0.2
MIN_INTERACTIONS = 10
CUTOFF = 10
# Validation users ranked per candidate at most (a seeded sample): bounds a candidate's cost.
MAX_VALIDATION_USERS = 1000
# A watchlist entry: a weak positive for the model's input only (never a seed or exclusion).
WATCHLIST = 6
# "No diversity rule": a run longer than any list.
NO_DIVERSITY = 1000

INPUT_MODES = ("liked", "graded")
# The engine's hand-tuned weights (config.py's defaults, docs/recommendations.md).
DEFAULT_WEIGHTS = Weights(0.20, 0.10, 0.15, 0.10, 0.45)


@dataclass(frozen=True)
class InputSettings:
    """What the item model learns from. `liked`: favourites and ratings >= LIKED_RATING, each
    1. `graded`: favourites 1, every rating weighted by its value ((rating - 4) / 6: 10 -> 1,
    7 -> 0.5, 5 -> 0.17, 4 or less -> left out). Watch history and watchlist entries count
    `weak_weight` (0: left out)."""

    mode: str = "liked"
    weak_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.mode not in INPUT_MODES:
            raise ValueError(f"unknown input mode {self.mode!r}")
        if not 0 <= self.weak_weight <= 1:
            raise ValueError("weak_weight must be within 0..1")


DEFAULT_INPUTS = InputSettings()


@dataclass(frozen=True)
class EngineConfiguration:
    """Everything the tuner chooses: the item model, its input, the blend, diversity, and
    how a user's seeds and candidates are read."""

    model: ModelSettings = DEFAULT_MODEL_SETTINGS
    inputs: InputSettings = DEFAULT_INPUTS
    weights: Weights = DEFAULT_WEIGHTS
    max_same_genre_run: int = MAX_SAME_GENRE_RUN
    serving: ServingSettings = DEFAULT_SERVING

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": asdict(self.model),
            "inputs": asdict(self.inputs),
            "weights": asdict(self.weights),
            "max_same_genre_run": self.max_same_genre_run,
            "serving": asdict(self.serving),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EngineConfiguration:
        # Configurations recorded before a field existed get its default.
        return cls(
            model=ModelSettings(**data["model"]),
            inputs=InputSettings(**data["inputs"]),
            weights=Weights(**data["weights"]),
            max_same_genre_run=int(data["max_same_genre_run"]),
            serving=ServingSettings(**data.get("serving", {})),
        )

    def describe(self) -> str:
        m, w = self.model, self.weights
        family = {
            "ease": f"EASE l2 {m.l2:g}, {m.max_items} items",
            "rp3beta": f"RP3beta alpha {m.alpha:g}, beta {m.beta:g}",
            "als": f"ALS {m.factors} factors, reg {m.regularization:g}, {m.iterations} it.",
        }[m.family]
        if m.sequence_mix > 0:
            family += f", sequence mix {m.sequence_mix:g} (window {m.sequence_window})"
        run = "off" if self.max_same_genre_run >= NO_DIVERSITY else self.max_same_genre_run
        seeds = "graded" if self.serving.graded_seeds else "equal"
        released = ", released films only" if self.serving.released_only else ""
        if self.serving.reranks_by_exposure:
            released += (
                f", exposure re-rank of the best {self.serving.exposure_depth} "
                f"(strength {self.serving.exposure_strength:g})"
            )
        return (
            f"{family}, {m.neighbours} neighbours, popularity exponent "
            f"{m.popularity_exponent:g}; seeds {seeds}{released}; input {self.inputs.mode} (weak "
            f"{self.inputs.weak_weight:g}); weights genre {w.genre:g}, quality {w.quality:g}, "
            f"popularity {w.popularity:g}, recency {w.recency:g}, collaborative "
            f"{w.collaborative:g}; same-genre run {run}"
        )


class NothingToValidate(ValueError):
    """Too few interactions to build a validation split from: nothing can be tuned yet."""


def default_configuration(weights: Weights | None = None) -> EngineConfiguration:
    """The hand-tuned engine (with the deployment's configured weights when given)."""
    return EngineConfiguration() if weights is None else EngineConfiguration(weights=weights)


@dataclass(frozen=True, eq=False)
class Interactions:
    """Parallel arrays, one row per interaction, items as catalogue positions."""

    user_ids: np.ndarray
    positions: np.ndarray
    kinds: np.ndarray  # FAVORITE, RATING, WATCHED or WATCHLIST
    ratings: np.ndarray  # the rating (1-10) for RATING rows, else 0
    timestamps: np.ndarray  # seconds since the epoch

    def __len__(self) -> int:
        return int(self.user_ids.size)

    def subset(self, mask: np.ndarray) -> Interactions:
        return Interactions(
            self.user_ids[mask],
            self.positions[mask],
            self.kinds[mask],
            self.ratings[mask],
            self.timestamps[mask],
        )


def interaction_values(interactions: Interactions, inputs: InputSettings) -> np.ndarray:
    """Each interaction's weight in the item model's input (0: not an input)."""
    kinds, ratings = interactions.kinds, interactions.ratings.astype(np.float64)
    if inputs.mode == "graded":
        rated = np.clip((ratings - 4) / 6, 0.0, 1.0)
    else:
        rated = (ratings >= LIKED_RATING).astype(np.float64)
    values = np.where(kinds == RATING, rated, 0.0)
    values[kinds == FAVORITE] = 1.0
    values[(kinds == WATCHED) | (kinds == WATCHLIST)] = inputs.weak_weight
    return values


def is_relevant(interactions: Interactions) -> np.ndarray:
    """Favourites and ratings of LIKED_RATING or more: what a good ranking should surface."""
    return (interactions.kinds == FAVORITE) | (
        (interactions.kinds == RATING) & (interactions.ratings >= LIKED_RATING)
    )


def temporal_split(
    interactions: Interactions,
    fraction: float = VALIDATION_FRACTION,
    min_interactions: int = MIN_INTERACTIONS,
) -> np.ndarray:
    """Mask of the held-out rows: each user's latest `fraction` (at least one) of their
    interactions, by time then position; users under `min_interactions` hold none out."""
    held_out = np.zeros(len(interactions), dtype=bool)
    if held_out.size == 0:
        return held_out
    order = np.lexsort((interactions.positions, interactions.timestamps, interactions.user_ids))
    users = interactions.user_ids[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    ends = np.r_[starts[1:], users.size]
    for start, end in zip(starts, ends, strict=True):
        count = int(end - start)
        if count >= min_interactions:
            held = max(1, round(count * fraction))
            held_out[order[end - held : end]] = True
    return held_out


@dataclass(frozen=True, eq=False)
class ValidationUser:
    user_id: int
    rows: list[tuple[int, int, int]]  # (kind, movie id, rating) of training: the seeds
    relevant: np.ndarray  # catalogue positions held out and relevant
    today: date  # the day of the user's first held-out interaction
    # Every interaction of the user, held out or not, and the day of the latest: what the
    # user would be served from, for coverage (empty: coverage from `rows` on `today`).
    history: list[tuple[int, int, int]] = field(default_factory=list)
    served_day: date | None = None


@dataclass(frozen=True, eq=False)
class ValidationSet:
    catalogue: Catalogue
    train: Interactions
    users: list[ValidationUser]


def build_validation_set(
    catalogue: Catalogue,
    interactions: Interactions,
    *,
    max_users: int = MAX_VALIDATION_USERS,
    min_interactions: int = MIN_INTERACTIONS,
    seed: int = 0,
) -> ValidationSet:
    """The training part and the validation users (a seeded sample of at most `max_users`
    among those with a relevant held-out movie they had not met in training).

    ValueError when no user qualifies: there is nothing to tune on yet.
    """
    held_out = temporal_split(interactions, min_interactions=min_interactions)
    train = interactions.subset(~held_out)
    test = interactions.subset(held_out & is_relevant(interactions))
    users: list[ValidationUser] = []
    train_order = np.argsort(train.user_ids, kind="stable")
    train_users = train.user_ids[train_order]
    held_users = interactions.user_ids[held_out]
    held_times = interactions.timestamps[held_out]
    all_order = np.argsort(interactions.user_ids, kind="stable")
    all_users = interactions.user_ids[all_order]
    for user_id in np.unique(test.user_ids):
        lo, hi = np.searchsorted(train_users, [user_id, user_id + 1])
        mine = train_order[lo:hi]
        seen = set(train.positions[mine].tolist())
        relevant = np.setdiff1d(test.positions[test.user_ids == user_id], list(seen))
        if relevant.size == 0:
            continue
        rows = [
            (int(kind), int(catalogue.movie_ids[position]), int(rating))
            for kind, position, rating in zip(
                train.kinds[mine], train.positions[mine], train.ratings[mine], strict=True
            )
        ]
        first_held = int(held_times[held_users == user_id].min())
        lo, hi = np.searchsorted(all_users, [user_id, user_id + 1])
        everything = all_order[lo:hi]
        history = [
            (int(kind), int(catalogue.movie_ids[position]), int(rating))
            for kind, position, rating in zip(
                interactions.kinds[everything],
                interactions.positions[everything],
                interactions.ratings[everything],
                strict=True,
            )
        ]
        latest = int(interactions.timestamps[everything].max())
        users.append(
            ValidationUser(
                user_id=int(user_id),
                rows=rows,
                relevant=relevant,
                today=datetime.fromtimestamp(first_held, UTC).date(),
                history=history,
                served_day=datetime.fromtimestamp(latest, UTC).date(),
            )
        )
    if not users:
        raise NothingToValidate(
            f"Nothing to validate on: no user has {min_interactions} or more interactions "
            "with a favourite or a rating of 7+ among the latest."
        )
    if len(users) > max_users:
        chosen = np.random.default_rng(seed).choice(len(users), max_users, replace=False)
        users = [users[i] for i in np.sort(chosen)]
    return ValidationSet(catalogue=catalogue, train=train, users=users)


def learn_validation_similarity(
    validation: ValidationSet, model: ModelSettings, inputs: InputSettings
) -> sp.csr_matrix:
    """The item model of `model` and `inputs`, learned from the training part only."""
    values = interaction_values(validation.train, inputs)
    used = values > 0
    return learn_similarity(
        model,
        validation.train.user_ids[used],
        validation.train.positions[used],
        validation.catalogue.size,
        values[used],
        validation.train.timestamps[used],
    )


@dataclass(frozen=True)
class Figures:
    ndcg: float
    coverage: float
    users: int
    # Each validation user's NDCG@k, in the validation set's order (paired comparisons).
    per_user: tuple[float, ...] = field(default=(), compare=False, repr=False)


def validation_exposure(
    validation: ValidationSet, similarity: sp.csr_matrix, configuration: EngineConfiguration
) -> np.ndarray:
    """Per catalogue position: how many validation users' lists (ranked from their training
    part, without the exposure re-rank) the film is in: what training counts over its
    users (recommendation.exposure)."""
    serving = configuration.serving
    users = (
        (
            user_signals_from_rows(validation.catalogue, user.rows, graded=serving.graded_seeds),
            user.today,
        )
        for user in validation.users
    )
    return count_exposure(
        validation.catalogue,
        users,
        configuration.weights,
        similarity,
        max_same_genre_run=configuration.max_same_genre_run,
        released_only=serving.released_only,
    )


def measure(
    validation: ValidationSet,
    similarity: sp.csr_matrix,
    configuration: EngineConfiguration,
    k: int = CUTOFF,
    exposure_counts: np.ndarray | None = None,
) -> Figures:
    """NDCG@k of `configuration` over the validation users, ranked from their training part,
    and catalogue coverage@k of the lists they would be served, ranked from their whole
    history on the day of its latest interaction (`exposure_counts`:
    `validation_exposure`'s, when already counted)."""
    catalogue = validation.catalogue
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    scores: list[float] = []
    shown: set[int] = set()
    serving = configuration.serving
    rerank = None
    if serving.reranks_by_exposure:
        if exposure_counts is None:
            exposure_counts = validation_exposure(validation, similarity, configuration)
        rerank = exposure_rerank(exposure_counts, serving.exposure_depth, serving.exposure_strength)

    def top(rows: list[tuple[int, int, int]], today: date) -> np.ndarray:
        signals = user_signals_from_rows(catalogue, rows, graded=serving.graded_seeds)
        results = rank_for_user(
            catalogue,
            signals,
            configuration.weights,
            today,
            k,
            similarity,
            max_same_genre_run=configuration.max_same_genre_run,
            released_only=serving.released_only,
            exposure=rerank,
        ).results
        return catalogue.positions([result.movie_id for result in results])

    for user in validation.users:
        ranked = top(user.rows, user.today)
        hits = np.isin(ranked, user.relevant)
        ideal = discounts[: min(user.relevant.size, k)].sum()
        scores.append(float(discounts[: hits.size][hits].sum() / ideal))
        if user.history and user.served_day is not None:
            ranked = top(user.history, user.served_day)
        shown.update(ranked.tolist())
    count = len(scores)
    return Figures(
        ndcg=float(np.mean(scores)) if count else 0.0,
        coverage=len(shown) / catalogue.size if catalogue.size else 0.0,
        users=count,
        per_user=tuple(scores),
    )


def clearly_better(candidate: Figures, incumbent: Figures, margin: float) -> bool:
    """Whether the candidate's NDCG beats the incumbent's by more than `margin` standard
    errors of the paired per-user difference: a gain the validation users' noise cannot
    explain, so one more likely to hold on data the tuner never saw."""
    if candidate.ndcg <= incumbent.ndcg:
        return False
    pairs = len(candidate.per_user)
    if margin <= 0 or pairs != len(incumbent.per_user) or pairs < 2:
        return True
    difference = np.asarray(candidate.per_user) - np.asarray(incumbent.per_user)
    error = float(difference.std(ddof=1) / np.sqrt(difference.size))
    return float(difference.mean()) > margin * error


# The search space, walked in this order; each stage varies one part of the configuration.
WEIGHT_GRID: tuple[Weights, ...] = (
    Weights(0.0, 0.0, 0.0, 0.0, 1.0),  # the item model alone
    Weights(0.10, 0.05, 0.05, 0.05, 0.75),
    Weights(0.20, 0.10, 0.0, 0.10, 0.60),  # no popularity in the blend
    Weights(0.30, 0.10, 0.15, 0.10, 0.35),
)
MODEL_GRID: tuple[ModelSettings, ...] = (
    *(ModelSettings("ease", l2=l2) for l2 in (50.0, 100.0, 400.0)),
    ModelSettings("ease", l2=100.0, max_items=4000),
    *(
        ModelSettings("rp3beta", alpha=alpha, beta=beta, max_items=4000)
        for alpha, beta in ((1.0, 0.5), (1.0, 0.3), (0.8, 0.3))
    ),
    *(
        ModelSettings("als", factors=factors, regularization=reg, max_items=20000)
        for factors, reg in ((64, 0.05), (128, 0.05), (64, 1.0))
    ),
)
POPULARITY_EXPONENTS = (0.1, 0.2, 0.35, 0.5, -0.2)
SERVING_GRID = (
    ServingSettings(graded_seeds=True),
    ServingSettings(released_only=True),
    ServingSettings(graded_seeds=True, released_only=True),
)
# (mix, window) of the sequence model blended into the family's weights.
SEQUENCE_GRID = ((0.25, 50), (0.5, 50), (0.75, 50), (0.5, 10))
INPUT_GRID = (InputSettings("graded"), InputSettings("liked", 0.5), InputSettings("graded", 0.5))
SAME_GENRE_RUNS = (2, 5, NO_DIVERSITY)
# (depth, strength) of the exposure re-rank (ServingSettings.exposure_*).
EXPOSURE_GRID = ((20, 0.1), (20, 0.2), (20, 0.3), (40, 0.15), (40, 0.2), (40, 0.25), (40, 0.3))


def search_space(best: EngineConfiguration, stage: str) -> Iterator[EngineConfiguration]:
    """The candidates of one stage around the best configuration so far."""
    if stage == "weights":
        yield from (replace(best, weights=weights) for weights in WEIGHT_GRID)
    elif stage == "model":
        current = best.model
        for model in MODEL_GRID:
            yield replace(
                best,
                model=replace(
                    model,
                    popularity_exponent=current.popularity_exponent,
                    sequence_mix=current.sequence_mix,
                    sequence_window=current.sequence_window,
                ),
            )
    elif stage == "sequence":
        for mix, window in SEQUENCE_GRID:
            yield replace(best, model=replace(best.model, sequence_mix=mix, sequence_window=window))
    elif stage == "seeds":
        for serving in SERVING_GRID:
            # The seeds change; any exposure re-rank chosen stays.
            seeds = replace(
                best.serving,
                graded_seeds=serving.graded_seeds,
                released_only=serving.released_only,
            )
            yield replace(best, serving=seeds)
    elif stage == "popularity":
        for exponent in POPULARITY_EXPONENTS:
            yield replace(best, model=replace(best.model, popularity_exponent=exponent))
    elif stage == "inputs":
        yield from (replace(best, inputs=inputs) for inputs in INPUT_GRID)
    elif stage == "diversity":
        yield from (replace(best, max_same_genre_run=run) for run in SAME_GENRE_RUNS)
    elif stage == "exposure":
        for depth, strength in EXPOSURE_GRID:
            serving = replace(best.serving, exposure_depth=depth, exposure_strength=strength)
            yield replace(best, serving=serving)


# A change is kept when it beats the defaults by this many standard errors of the paired
# per-user NDCG difference (about a one-sided 84% confidence at 1).
SIGNIFICANCE_MARGIN = 1.0
STAGES = (
    "seeds",
    "sequence",
    "weights",
    "popularity",
    "model",
    "popularity",
    "inputs",
    "diversity",
    "seeds",  # again: how seeds are weighed interacts with the model chosen since
    "exposure",  # last: it re-ranks the lists of everything chosen before
)


@dataclass(frozen=True)
class Trial:
    configuration: EngineConfiguration
    figures: Figures
    seconds: float


@dataclass
class TuningResult:
    chosen: EngineConfiguration
    figures: Figures
    default: EngineConfiguration
    default_figures: Figures
    coverage_floor: float
    trials: list[Trial] = field(default_factory=list)
    seconds: float = 0.0
    out_of_time: bool = False

    def best_by_family(self) -> dict[str, Trial]:
        """Each model family's best trial meeting the coverage floor (else its best)."""
        best: dict[str, Trial] = {}
        for trial in self.trials:
            family = trial.configuration.model.family
            current = best.get(family)
            if current is None or _better(trial.figures, current.figures, self.coverage_floor):
                best[family] = trial
        return best


def _better(candidate: Figures, incumbent: Figures, floor: float) -> bool:
    """Higher NDCG with coverage at or above the floor (or nearer to it when both miss)."""
    if (candidate.coverage >= floor) != (incumbent.coverage >= floor):
        return candidate.coverage >= floor
    return candidate.ndcg > incumbent.ndcg


def improves(
    candidate: Figures, best: Figures, defaults: Figures, floor: float, margin: float
) -> bool:
    """Whether the walk keeps a candidate: better than the best so far (at or above the
    coverage floor first, then by NDCG), never covering less than the defaults, and clearly
    better than them: steady small gains may add up, but the choice must beat the defaults
    by more than the validation users' noise."""
    return (
        candidate.coverage >= defaults.coverage
        and _better(candidate, best, floor)
        and clearly_better(candidate, defaults, margin)
    )


def tune(
    validation: ValidationSet,
    budget_seconds: float,
    *,
    default: EngineConfiguration | None = None,
    min_coverage: float = 0.0,
    margin: float = SIGNIFICANCE_MARGIN,
    stages: tuple[str, ...] = STAGES,
    clock: Callable[[], float] = time.monotonic,
) -> TuningResult:
    """Search from `default` stage by stage and return the best eligible configuration.

    The choice never covers less of the catalogue than the defaults. The coverage floor is
    the larger of `min_coverage` and the defaults' own coverage: a candidate above it wins
    over one below (so a floor the early stages cannot reach, such as one only the exposure
    re-rank attains, does not stop the walk: until a candidate reaches it, the best NDCG
    leads), and among candidates on the same side the higher NDCG wins (`_better`). A
    change is kept only when it also beats the defaults by `margin` standard errors of the
    paired per-user difference (`clearly_better`): noise is not taken for a gain over the
    defaults, while gains too small to show alone can still add up. No candidate starts once
    `budget_seconds` have passed, nor when the slowest candidate so far would not finish
    within the budget.
    """
    started = clock()
    default = default or default_configuration()
    models: dict[tuple[ModelSettings, InputSettings], sp.csr_matrix] = {}
    # The exposure counts of the configuration without its re-rank: one count serves every
    # (depth, strength) of the exposure stage.
    exposures: dict[EngineConfiguration, np.ndarray] = {}

    def run(configuration: EngineConfiguration) -> Trial:
        began = clock()
        key = (configuration.model, configuration.inputs)
        if key not in models:
            models.clear()  # one model in memory at a time: they can be large
            models[key] = learn_validation_similarity(
                validation, configuration.model, configuration.inputs
            )
        counts = None
        if configuration.serving.reranks_by_exposure:
            plain = replace(
                configuration,
                serving=replace(configuration.serving, exposure_depth=0, exposure_strength=0.0),
            )
            if plain not in exposures:
                exposures.clear()
                exposures[plain] = validation_exposure(validation, models[key], plain)
            counts = exposures[plain]
        figures = measure(validation, models[key], configuration, exposure_counts=counts)
        return Trial(configuration, figures, clock() - began)

    baseline = run(default)
    floor = max(min_coverage, baseline.figures.coverage)
    result = TuningResult(
        chosen=default,
        figures=baseline.figures,
        default=default,
        default_figures=baseline.figures,
        coverage_floor=floor,
        trials=[baseline],
    )
    tried = {default}
    slowest = baseline.seconds
    for stage in stages:
        for candidate in search_space(result.chosen, stage):
            if candidate in tried:
                continue
            elapsed = clock() - started
            if elapsed >= budget_seconds or elapsed + slowest > budget_seconds:
                result.out_of_time = True
                break
            tried.add(candidate)
            trial = run(candidate)
            slowest = max(slowest, trial.seconds)
            result.trials.append(trial)
            figures = trial.figures
            if improves(figures, result.figures, result.default_figures, floor, margin):
                result.chosen, result.figures = candidate, figures
        if result.out_of_time:
            break
    result.seconds = clock() - started
    return result
