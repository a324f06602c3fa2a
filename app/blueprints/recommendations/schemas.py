"""Schemas of the recommendations blueprint: stored recommendations, similar movies and
feedback."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import validate

from app.api import MAX_ID
from app.blueprints.pagination import PageArgs, page_schema
from app.blueprints.schemas import TIMESTAMP_EXAMPLE, GenreSchema, MovieSummarySchema
from app.models.recommendations import (
    COMMENT_MAX_LENGTH,
    FEEDBACK_TYPES,
    RECOMMENDATION_TYPES,
)
from app.services.recommendation.batches import MAX_LIMIT
from app.services.recommendation.filters import RecommendationFilters
from app.services.recommendation.onboarding import DEFAULT_SIZE as ONBOARDING_SIZE

YEAR_MIN, YEAR_MAX = 1870, 2200
RUNTIME_MAX = 1000

LIMIT_DESCRIPTION = (
    f"How many recommendations to generate and return, 1 to {MAX_LIMIT} "
    "(default: the configured batch size, 20)."
)


def limit_field() -> ma.fields.Integer:
    return ma.fields.Integer(
        load_default=None,
        validate=validate.Range(min=1, max=MAX_LIMIT),
        metadata={"description": LIMIT_DESCRIPTION, "example": 20},
    )


# --- query strings and bodies --------------------------------------------------------------


class RecommendationListArgs(PageArgs):
    """Paging, `limit`, and filters applied before ranking and truncation (any filter makes
    the list be ranked now instead of read from the stored batch)."""

    limit = limit_field()
    genre = ma.fields.List(
        ma.fields.Integer(validate=validate.Range(min=1, max=MAX_ID)),
        load_default=list,
        validate=validate.Length(max=20),
        metadata={
            "description": "Only movies of these genres (TMDb genre ids; repeat the parameter "
            "for several: a movie with any of them passes).",
            "example": [878, 12],
        },
    )
    year_min = ma.fields.Integer(
        validate=validate.Range(min=YEAR_MIN, max=YEAR_MAX),
        metadata={"description": "Released in this year or later.", "example": 1990},
    )
    year_max = ma.fields.Integer(
        validate=validate.Range(min=YEAR_MIN, max=YEAR_MAX),
        metadata={"description": "Released in this year or earlier.", "example": 2010},
    )
    runtime_max = ma.fields.Integer(
        validate=validate.Range(min=1, max=RUNTIME_MAX),
        metadata={"description": "At most this many minutes long.", "example": 120},
    )
    language = ma.fields.String(
        validate=validate.Regexp(r"^[A-Za-z]{2,3}$", error="An ISO 639-1 code such as 'en'."),
        metadata={"description": "Original language (ISO 639-1, e.g. en, ko).", "example": "en"},
    )
    type = ma.fields.String(
        validate=validate.OneOf(RECOMMENDATION_TYPES),
        metadata={
            "description": "Only recommendations of this type: " + " / ".join(RECOMMENDATION_TYPES),
            "example": "collaborative",
        },
    )
    exclude_watchlisted = ma.fields.Boolean(
        load_default=True,
        metadata={"description": "Leave out movies on your watchlist.", "example": True},
    )
    exclude_watched = ma.fields.Boolean(
        load_default=True,
        metadata={"description": "Leave out movies you have watched.", "example": True},
    )

    @ma.validates_schema
    def years_in_order(self, data: dict[str, Any], **_: Any) -> None:
        low, high = data.get("year_min"), data.get("year_max")
        if low is not None and high is not None and low > high:
            raise ma.ValidationError("year_min is after year_max.", field_name="year_min")

    @ma.post_load
    def to_filters(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        """The paging arguments as they are, the filters as one RecommendationFilters."""
        return {
            "page": data["page"],
            "page_size": data["page_size"],
            "limit": data.get("limit"),
            "filters": RecommendationFilters(
                genres=tuple(dict.fromkeys(data["genre"])),
                year_min=data.get("year_min"),
                year_max=data.get("year_max"),
                runtime_max=data.get("runtime_max"),
                language=data.get("language"),
                recommendation_type=data.get("type"),
                exclude_watched=data["exclude_watched"],
                exclude_watchlisted=data["exclude_watchlisted"],
            ),
        }


class RefreshArgs(ma.Schema):
    limit = limit_field()


class SimilarMoviesArgs(PageArgs):
    limit = ma.fields.Integer(
        load_default=10,
        validate=validate.Range(min=1, max=MAX_LIMIT),
        metadata={
            "description": f"How many similar movies to find, 1 to {MAX_LIMIT}.",
            "example": 10,
        },
    )


class OnboardingArgs(ma.Schema):
    limit = ma.fields.Integer(
        load_default=ONBOARDING_SIZE,
        validate=validate.Range(min=1, max=MAX_LIMIT),
        metadata={
            "description": f"How many films to propose, 1 to {MAX_LIMIT} "
            f"(default {ONBOARDING_SIZE}).",
            "example": ONBOARDING_SIZE,
        },
    )


class FeedbackCreateSchema(ma.Schema):
    recommendation = ma.fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1, max=MAX_ID),
        metadata={"description": "The id of one of your recommendations.", "example": 41},
    )
    feedback_type = ma.fields.String(
        required=True,
        # "dismissed" is given by DELETE /recommendations/{id}/.
        validate=validate.OneOf([kind for kind in FEEDBACK_TYPES if kind != "dismissed"]),
        metadata={
            "description": "like, dislike or not_interested. A disliked or not-interested "
            "movie is never recommended again.",
            "example": "not_interested",
        },
    )
    comment = ma.fields.String(
        load_default="",
        validate=validate.Length(max=COMMENT_MAX_LENGTH),
        metadata={
            "description": f"Optional free text, at most {COMMENT_MAX_LENGTH} characters.",
            "example": "Seen it already.",
        },
    )


# --- responses -----------------------------------------------------------------------------


class FeedbackSummarySchema(ma.Schema):
    """The caller's feedback on a recommended movie, embedded in the recommendation."""

    id = ma.fields.Integer(dump_only=True, metadata={"example": 7})
    feedback_type = ma.fields.String(dump_only=True, metadata={"example": "like"})
    comment = ma.fields.String(dump_only=True, metadata={"example": ""})
    created_at = ma.fields.DateTime(dump_only=True, metadata={"example": TIMESTAMP_EXAMPLE})
    updated_at = ma.fields.DateTime(dump_only=True, metadata={"example": TIMESTAMP_EXAMPLE})


class ReasonMovieSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True, metadata={"example": 348})
    title = ma.fields.String(dump_only=True, metadata={"example": "Alien"})


class ReasonGenreSchema(ma.Schema):
    id = ma.fields.Integer(
        dump_only=True, metadata={"description": "TMDb genre id", "example": 878}
    )
    name = ma.fields.String(dump_only=True, metadata={"example": "Science Fiction"})


class ReasonSchema(ma.Schema):
    """One reason behind a recommendation; which other fields are present depends on kind."""

    kind = ma.fields.String(
        dump_only=True,
        metadata={
            "description": "liked_movie (with movie and weight), genre (with genre), "
            "popular, highly_rated, new or similar_users",
            "example": "liked_movie",
        },
    )
    movie = ma.fields.Nested(
        ReasonMovieSchema,
        dump_only=True,
        metadata={"description": "The liked film this one resembles (liked_movie only)."},
    )
    weight = ma.fields.Float(
        dump_only=True,
        metadata={
            "description": "How much the liked film contributes (liked_movie only).",
            "example": 0.42,
        },
    )
    genre = ma.fields.Nested(
        ReasonGenreSchema, dump_only=True, metadata={"description": "genre only."}
    )


class StoredReasons(ma.fields.List):
    """The reasons exactly as stored (`explanations` builds them in ReasonSchema's shape, which
    documents them): dumping them through nested schemas cost about 3 ms per page of 20."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else list(value)


class RecommendationSchema(ma.Schema):
    """A stored recommendation, with its movie and the caller's feedback on that movie."""

    id = ma.fields.Integer(dump_only=True, attribute="recommendation.id", metadata={"example": 41})
    rank = ma.fields.Integer(
        dump_only=True,
        metadata={"description": "Position in the list, 1 first.", "example": 1},
    )
    movie = ma.fields.Nested(MovieSummarySchema, dump_only=True, attribute="recommendation.movie")
    recommendation_type = ma.fields.String(
        dump_only=True,
        attribute="recommendation.recommendation_type",
        metadata={"description": " / ".join(RECOMMENDATION_TYPES), "example": "hybrid"},
    )
    confidence_score = ma.fields.Float(
        dump_only=True,
        attribute="recommendation.confidence_score",
        metadata={"description": "0 to 1", "example": 0.82},
    )
    explanation = ma.fields.String(
        dump_only=True,
        attribute="recommendation.explanation",
        metadata={"example": "Because you liked Alien and Blade Runner"},
    )
    reasons = StoredReasons(
        ma.fields.Nested(ReasonSchema),
        dump_only=True,
        attribute="recommendation.reasons",
        metadata={
            "description": "The explanation's reasons, structured, most important first.",
            "example": [
                {"kind": "liked_movie", "movie": {"id": 348, "title": "Alien"}, "weight": 0.42},
                {"kind": "genre", "genre": {"id": 878, "name": "Science Fiction"}},
            ],
        },
    )
    is_clicked = ma.fields.Boolean(
        dump_only=True,
        attribute="recommendation.is_clicked",
        metadata={"description": "You opened it (ever, even if it left since).", "example": False},
    )
    is_rated = ma.fields.Boolean(
        dump_only=True,
        attribute="recommendation.is_rated",
        metadata={"description": "You rated its movie after it was recommended.", "example": False},
    )
    created_at = ma.fields.DateTime(
        dump_only=True,
        attribute="recommendation.created_at",
        metadata={"example": TIMESTAMP_EXAMPLE},
    )
    feedback = ma.fields.Nested(
        FeedbackSummarySchema,
        dump_only=True,
        allow_none=True,
        metadata={"description": "Your feedback on this movie, or null."},
    )


RecommendationPageSchema = type(
    "RecommendationPageSchema",
    (page_schema(RecommendationSchema),),
    {
        "matched": ma.fields.Integer(
            required=True,
            allow_none=True,
            metadata={
                "description": "How many candidate movies passed the filters (the list is "
                "the best `limit` of them); null without filters.",
                "example": 143,
            },
        )
    },
)


class RefreshResultSchema(ma.Schema):
    message = ma.fields.String(dump_only=True, metadata={"example": "Generated 20 recommendations"})
    recommendations = ma.fields.List(ma.fields.Nested(RecommendationSchema), dump_only=True)


class SimilarMovieSchema(ma.Schema):
    movie = ma.fields.Nested(MovieSummarySchema, dump_only=True)
    score = ma.fields.Float(
        dump_only=True, metadata={"description": "Similarity, higher first", "example": 0.71}
    )
    confidence_score = ma.fields.Float(
        dump_only=True,
        attribute="confidence",
        metadata={"description": "0 to 1", "example": 0.64},
    )
    recommendation_type = ma.fields.String(dump_only=True, metadata={"example": "hybrid"})
    explanation = ma.fields.String(
        dump_only=True, metadata={"example": "Also science fiction; liked by the same people"}
    )


class OnboardingMovieSchema(ma.Schema):
    """A film of the onboarding list, and the slot it fills in it."""

    rank = ma.fields.Integer(
        dump_only=True, metadata={"description": "Position in the list, 1 first.", "example": 1}
    )
    movie = ma.fields.Nested(MovieSummarySchema, dump_only=True)
    genre = ma.fields.Nested(
        GenreSchema,
        dump_only=True,
        allow_none=True,
        metadata={"description": "The genre it stands for in the list; null without genres."},
    )
    decade = ma.fields.Integer(
        dump_only=True,
        allow_none=True,
        metadata={
            "description": "The first year of its decade; null without a release date.",
            "example": 1990,
        },
    )
    explanation = ma.fields.String(
        dump_only=True,
        metadata={
            "description": "Why it is in the list.",
            "example": "A well-known Science Fiction film of the 1990s",
        },
    )


class OnboardingListSchema(ma.Schema):
    count = ma.fields.Integer(dump_only=True, metadata={"example": 20})
    results = ma.fields.List(ma.fields.Nested(OnboardingMovieSchema), dump_only=True)


class FeedbackSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True, metadata={"example": 7})
    recommendation = ma.fields.Integer(
        dump_only=True,
        allow_none=True,
        attribute="recommendation_id",
        metadata={
            "description": "The recommendation it was given on (recommendations keep their "
            "id; null only for feedback older than that rule).",
            "example": 41,
        },
    )
    movie = ma.fields.Nested(MovieSummarySchema, dump_only=True)
    feedback_type = ma.fields.String(
        dump_only=True,
        metadata={"description": " / ".join(FEEDBACK_TYPES), "example": "not_interested"},
    )
    comment = ma.fields.String(dump_only=True, metadata={"example": "Seen it already."})
    created_at = ma.fields.DateTime(dump_only=True, metadata={"example": TIMESTAMP_EXAMPLE})
    updated_at = ma.fields.DateTime(dump_only=True, metadata={"example": TIMESTAMP_EXAMPLE})
