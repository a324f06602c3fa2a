"""Personalised recommendations, similar movies and feedback."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView

from app.api import AlsoResponse, Blueprint, current_user_id, public_read
from app.blueprints.pagination import PageArgs, page_body, page_schema
from app.blueprints.recommendations.schemas import (
    FeedbackCreateSchema,
    FeedbackSchema,
    OnboardingArgs,
    OnboardingListSchema,
    RecommendationListArgs,
    RecommendationPageSchema,
    RecommendationSchema,
    RefreshArgs,
    RefreshResultSchema,
    SimilarMoviesArgs,
    SimilarMovieSchema,
)
from app.blueprints.rendered_pages import rendered_page
from app.services import onboarding, recommender
from app.services.recommendation import batches
from app.services.recommendation import feedback as feedback_service

blp = Blueprint(
    "recommendations",
    __name__,
    description="Personalised recommendations, similar movies and feedback.",
)

PAGE_NOT_FOUND = "The page is past the last one (code: page_not_found)"
NOT_YOURS = "No recommendation with this id belongs to you (code: recommendation_not_found)"
NOT_YOUR_FEEDBACK = "No feedback with this id belongs to you (code: feedback_not_found)"


@blp.route("/")
class Recommendations(MethodView):
    @blp.operation(
        "listRecommendations",
        200,
        RecommendationPageSchema,
        token="required",
        query=RecommendationListArgs,
        errors={404: PAGE_NOT_FOUND},
    )
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Your recommendations, best first.

        Generated on first use and regenerated whenever your tastes changed since (a
        favourite, a rating, the watchlist, watch history or feedback); what you watched or
        put on your watchlist is left out unless you ask for it. `limit` caps how many are
        returned. Filters (genres, years, runtime, language, type) choose among the
        candidates before ranking, so a filtered list is still `limit` long when enough
        movies pass; `matched` says how many did. A recommendation keeps its id in every
        list.
        """
        listed = batches.list_recommendations(current_user_id(), **args)
        return {**page_body(listed.page), "matched": listed.matched}


@blp.route("/refresh/")
class Refresh(MethodView):
    @blp.operation(
        "refreshRecommendations", 200, RefreshResultSchema, token="required", query=RefreshArgs
    )
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """Regenerate your recommendations now.

        A movie that stays keeps its id; your feedback, clicks and ratings are kept, and
        disliked, not-interested or dismissed movies stay out.
        """
        batch = batches.refresh_recommendations(current_user_id(), args["limit"])
        return {
            "message": f"Generated {len(batch)} recommendations",
            "recommendations": batch.recommendations,
        }


@blp.route("/onboarding/")
class Onboarding(MethodView):
    @blp.operation(
        "listOnboardingMovies", 200, OnboardingListSchema, token="required", query=OnboardingArgs
    )
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Well-known films to rate first, so that we learn your tastes.

        The way in for a new account: rate or favourite five of these films that you
        liked (a favourite, or a rating of 7 or more out of 10), then ask for your
        recommendations: they are then your own, learned from the people who liked the
        same films and explained by them, instead of what is popular. The films are well
        known and spread over genres, decades and the audiences that like them; each says
        which genre and decade it stands for. Films you already have (favourites, ratings,
        watchlist, history, feedback) are left out: once you rate some, others take their
        place.
        """
        results = onboarding.list_onboarding_movies(current_user_id(), args["limit"])
        return {"count": len(results), "results": results}


SIMILAR_PAGE = page_schema(SimilarMovieSchema)()  # what a kept page is rendered with


@blp.route("/similar/<id:movie_id>/")
class SimilarMovies(MethodView):
    @blp.operation(
        "listSimilarMovies",
        200,
        page_schema(SimilarMovieSchema),
        cache=public_read(),
        query=SimilarMoviesArgs,
        errors={404: "No such movie (code: movie_not_found), or " + PAGE_NOT_FOUND},
    )
    def get(self, args: dict[str, Any], movie_id: int) -> Response | dict[str, Any]:
        """Movies similar to this one (no token needed).

        From shared genres, the people who liked both and, where both have one, the
        overview text.
        """
        kept = recommender.similar_movies_page(
            movie_id, limit=args["limit"], page=args["page"], page_size=args["page_size"]
        )
        return rendered_page(kept, SIMILAR_PAGE)


@blp.route("/feedback/")
class Feedback(MethodView):
    @blp.operation(
        "createFeedback",
        201,
        FeedbackSchema,
        token="required",
        body=FeedbackCreateSchema,
        example={"recommendation": 41, "feedback_type": "not_interested", "comment": ""},
        description="Feedback recorded",
        errors={404: NOT_YOURS},
        also={
            200: AlsoResponse(
                schema=FeedbackSchema,
                description="You had already given feedback on this movie: it was replaced",
            )
        },
    )
    def post(self, data: dict[str, Any]) -> tuple[Any, int]:
        """Tell us what you think of a recommendation.

        One feedback per movie: a second one replaces the first. A disliked or
        not-interested movie is never recommended to you again, even after a refresh.
        """
        feedback, created = feedback_service.give_feedback(
            current_user_id(), data["recommendation"], data["feedback_type"], data["comment"]
        )
        return feedback, 201 if created else 200


@blp.route("/feedback/list/")
class FeedbackList(MethodView):
    @blp.operation(
        "listFeedback",
        200,
        page_schema(FeedbackSchema),
        token="required",
        query=PageArgs,
        errors={404: PAGE_NOT_FOUND},
    )
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Your feedback, newest first."""
        return page_body(
            feedback_service.list_feedback(
                current_user_id(), page=args["page"], page_size=args["page_size"]
            )
        )


@blp.route("/feedback/<id:feedback_id>/")
class FeedbackById(MethodView):
    @blp.operation("deleteFeedback", 204, token="required", errors={404: NOT_YOUR_FEEDBACK})
    def delete(self, feedback_id: int) -> None:
        """Withdraw one of your feedback (this undoes a dismissal).

        A movie you had disliked, marked not interested or dismissed may be recommended
        to you again from the next regeneration.
        """
        feedback_service.delete_feedback(current_user_id(), feedback_id)


@blp.route("/<id:recommendation_id>/")
class RecommendationById(MethodView):
    @blp.operation("dismissRecommendation", 204, token="required", errors={404: NOT_YOURS})
    def delete(self, recommendation_id: int) -> None:
        """Dismiss a recommendation: its movie is never recommended to you again.

        Recorded as feedback of type `dismissed` (replacing any other feedback on the
        movie); delete that feedback to undo it.
        """
        feedback_service.dismiss(current_user_id(), recommendation_id)


@blp.route("/<id:recommendation_id>/click/")
class Click(MethodView):
    @blp.operation(
        "recordClick", 200, RecommendationSchema, token="required", errors={404: NOT_YOURS}
    )
    def post(self, recommendation_id: int) -> Any:
        """Record that you opened this recommendation."""
        return feedback_service.record_click(current_user_id(), recommendation_id)
