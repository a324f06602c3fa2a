"""Offline validation of a model at training time, on the deployment's own interactions.

Protocol (the same metrics as recommendation.evaluation): every user with at least
MIN_INTERACTIONS positive interactions (favourites, ratings of 7 or more) has the latest
HOLDOUT_FRACTION of them, by time, held out; a model with the same parameters is learned from
everything else, and the engine ranks the catalogue for each such user exactly as the API
does. NDCG@k counts held-out movies in the top k; coverage@k is the share of the catalogue
shown in anyone's top k. At most `max_users` users are validated (those with the most recent
activity), which bounds the cost at any scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from app.services.recommendation.catalogue_arrays import Catalogue
from app.services.recommendation.evaluation import (
    EvaluationSet,
    EvaluationUser,
    engine_ranker,
    measure,
)
from app.services.recommendation.scoring import Weights

MIN_INTERACTIONS = 5
HOLDOUT_FRACTION = 0.2
MAX_USERS = 500
# Held-out and training rows count as ratings of this value (all are positive).
POSITIVE_RATING = 10.0


@dataclass(frozen=True)
class ValidationResult:
    users: int
    ndcg: float | None
    coverage: float | None


def temporal_split(
    user_ids: np.ndarray, times: np.ndarray, *, max_users: int = MAX_USERS
) -> tuple[np.ndarray, np.ndarray]:
    """Masks (train, held out) over the rows: each qualifying user's latest rows held out.

    Users are chosen by their latest activity (most recent first, ties by id), at most
    `max_users` of them; everyone else is training data only.
    """
    user_ids = np.asarray(user_ids, dtype=np.int64)
    times = np.asarray(times, dtype=np.float64)
    held_out = np.zeros(user_ids.size, dtype=bool)
    if user_ids.size == 0:
        return ~held_out, held_out
    order = np.lexsort((times, user_ids))
    users = user_ids[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    ends = np.r_[starts[1:], users.size]
    eligible = [(s, e) for s, e in zip(starts, ends, strict=True) if e - s >= MIN_INTERACTIONS]
    # The most recently active users first: the ones whose next visit matters soonest.
    eligible.sort(key=lambda span: (-times[order[span[1] - 1]], int(users[span[0]])))
    for start, end in eligible[:max_users]:
        held = max(1, round((end - start) * HOLDOUT_FRACTION))
        held_out[order[end - held : end]] = True
    return ~held_out, held_out


def validate_on_interactions(
    catalogue: Catalogue,
    user_ids: np.ndarray,
    positions: np.ndarray,
    times: np.ndarray,
    weights: Weights,
    *,
    k: int = 10,
    max_users: int = MAX_USERS,
) -> ValidationResult:
    """NDCG@k and coverage@k of the engine learned on the earlier interactions.

    `positions` are catalogue positions of the liked movies (rows outside the catalogue
    must already be dropped); `times` are POSIX seconds.
    """
    user_ids = np.asarray(user_ids, dtype=np.int64)
    positions = np.asarray(positions, dtype=np.int64)
    times = np.asarray(times, dtype=np.float64)
    train, held_out = temporal_split(user_ids, times, max_users=max_users)
    users: list[EvaluationUser] = []
    for user_id in np.unique(user_ids[held_out]):
        mine = user_ids == user_id
        test_rows = mine & held_out
        users.append(
            EvaluationUser(
                user_id=int(user_id),
                train_movies=positions[mine & train],
                train_ratings=np.full(int((mine & train).sum()), POSITIVE_RATING),
                relevant=np.unique(positions[test_rows]),
                cutoff=datetime.fromtimestamp(float(times[test_rows].min()), UTC).date(),
            )
        )
    if not users:
        return ValidationResult(users=0, ndcg=None, coverage=None)
    evaluation = EvaluationSet(
        catalogue=catalogue,
        users=users,
        train_users=user_ids[train],
        train_positions=positions[train],
        train_ratings=np.full(int(train.sum()), POSITIVE_RATING),
        train_timestamps=times[train].astype(np.int64),
    )
    result = measure("engine", evaluation, engine_ranker(evaluation, weights), k)
    return ValidationResult(
        users=result.users, ndcg=round(result.ndcg, 4), coverage=round(result.coverage, 4)
    )
