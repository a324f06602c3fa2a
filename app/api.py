"""flask-smorest wired to our conventions, and the one dialect every blueprint speaks.

The wiring: problem+json errors, 400 for invalid input, a path converter for database ids,
Bearer auth and Swagger UI served from local assets.

The dialect, used by every view of every blueprint: one declaration per operation,
``@blp.operation(...)``, which applies flask-smorest's decorators in one order::

      @blp.operation(
          "getThing",               # operationId: camelCase, unique and stable
          200, ThingSchema,         # the success, as @blp.response(status, schema)
          token="required",         # or "optional"; left out for public operations
          cache=public_read(),      # public catalogue reads only
          query=ThingArgs,          # @blp.arguments(..., location="query")
          body=ThingCreateSchema,   # @blp.arguments(...): the request body
          errors={404: "No such thing"},  # @problem(status, description) for each
      )
      def get(self, ...): ...

- ``token="required"`` needs an access token (``@login_required``); ``"optional"`` accepts
  one (``@login_optional``; an invalid one is still refused). Both document the operation's
  security requirement and its 401. Authentication runs first: a request without a valid
  token is a 401 before its input is read.
- ``errors`` documents each error response with a problem+json body: a description, or a
  ``Problem`` for another body schema or headers. A group of errors several operations
  share is a dict merged in (``errors={404: "...", **throttled()}``); ``also`` documents
  another success (``AlsoResponse``).
- ``current_user_id()`` (or ``current_user_id_or_none()``) names the caller; services take
  that ``user_id``, never a ``User``.
- ``cache=public_read()`` marks a catalogue read that anyone may cache (see HTTP caching
  below); every other response of the API is ``Cache-Control: private, no-store``.
- Every operation is named (generated clients name their methods after its operationId)
  and summarised by the first line of its docstring. Rate limits stay in the class's
  ``decorators``.

HTTP caching, applied to every response under ``/api/v1/`` by one ``after_request`` hook
(``register_http_caching``), from what each view declares:

- A ``public_read`` GET answering 200 gets a strong ``ETag`` (the SHA-1 of the exact body
  bytes, so no query is added), and a request whose ``If-None-Match`` matches it is answered
  ``304 Not Modified`` with no body. Anonymous callers (and any caller, when the answer does
  not depend on who asks) get ``Cache-Control: public, max-age=HTTP_CACHE_MAX_AGE`` and
  ``Vary: Origin``; ``depends_on_caller=True`` adds ``Vary: Authorization`` and answers a
  request carrying a token ``private, no-store``.
- Everything else (the caller's own data, tokens, writes, errors) is ``private, no-store``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any, Literal

import flask_smorest
import marshmallow as ma
from apispec import BasePlugin
from flask import Flask, Response, current_app, g, redirect, request, send_from_directory, url_for
from flask_jwt_extended import get_jwt_identity, jwt_required
from flask_smorest.response import ResponseMixin
from swagger_ui_bundle import swagger_ui_path
from webargs.flaskparser import FlaskParser
from webargs.multidictproxy import MultiDictProxy
from werkzeug.datastructures import CombinedMultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from app.errors import PROBLEM_MIMETYPE, http_exception_to_problem

# Ids are 32-bit positive integers in every table; larger numbers can name nothing.
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """`<id:name>`: a positive database id; anything else (text, 0, huge) is a 404."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


class BadRequestParser(FlaskParser):
    """Invalid input is a 400, as clients of the original API expect.

    `location="multipart"` reads a multipart/form-data body's files and fields together,
    so one schema documents an upload and its options as one request body.
    """

    DEFAULT_VALIDATION_STATUS = 400
    __location_map__ = {**FlaskParser.__location_map__, "multipart": "load_multipart"}

    def load_multipart(self, req: Any, schema: ma.Schema) -> Any:
        return MultiDictProxy(CombinedMultiDict([req.form, req.files]), schema)


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details: the body of every error response."""

    type = ma.fields.String(metadata={"example": "about:blank"})
    title = ma.fields.String(metadata={"example": "Not Found"})
    status = ma.fields.Integer(metadata={"example": 404})
    detail = ma.fields.String(metadata={"example": "Movie 42 does not exist."})
    code = ma.fields.String(
        metadata={
            "description": "Stable machine-readable error code",
            "example": "not_found",
        }
    )
    errors = ma.fields.Dict(
        metadata={
            "description": "Messages for each invalid field",
            "example": {"rating": ["Rating must be between 1 and 10 in steps of 0.5."]},
        }
    )


def schema_instance(schema: type[ma.Schema] | ma.Schema) -> ma.Schema:
    """One instance of an arguments schema for every request: given a class, webargs builds
    a new instance per request, deep-copying its fields (0.067 ms for `MovieListArgs`).
    Loading keeps no state on the instance, so sharing it is safe."""
    return schema() if isinstance(schema, type) else schema


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = BadRequestParser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
        **flask_smorest.Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        "multipart": "multipart/form-data",
    }

    def operation(
        self,
        operation_id: str,
        status: int,
        schema: Any = None,
        *,
        token: Token | None = None,
        cache: Callable[[View], View] | None = None,
        query: Any = None,
        body: Any = None,
        body_location: str = "json",
        example: dict[str, Any] | None = None,
        body_description: str | None = None,
        description: str | None = None,
        errors: Mapping[int, str | Problem] | None = None,
        also: Mapping[int, AlsoResponse] | None = None,
    ) -> Callable[[View], View]:
        """One operation, declared at once in the dialect's order (see the module docstring).

        `operation_id` names it; `status` and `schema` are its success (`description` says
        what that means); `token` is "required" or "optional" (with its 401), none for a
        public operation; `cache` is `public_read(...)` for a public catalogue read; `query`
        and `body` are the schemas of its arguments (`example` and `body_description`
        document the body); `errors` documents each error status with a problem+json body
        (a description, or a `Problem` for another schema or headers); `also` documents
        another success (`AlsoResponse`).
        """

        def declare(view: View) -> View:
            for error_status, error in reversed(list((errors or {}).items())):
                view = Problem.of(error).document(error_status)(view)
            for other_status, other in reversed(list((also or {}).items())):
                view = self.alt_response(
                    other_status,
                    schema=other.schema,
                    description=other.description,
                    headers=other.headers,
                )(view)
            view = self.response(status, schema, description=description)(view)
            if body is not None:
                view = self.arguments(
                    schema_instance(body),
                    location=body_location,
                    example=example,
                    description=body_description,
                )(view)
            if query is not None:
                view = self.arguments(schema_instance(query), location="query")(view)
            if cache is not None:
                view = cache(view)
            if token is not None:
                view = TOKEN_REQUIREMENTS[token](view)
            return self.doc(operationId=operation_id)(view)

        return declare


PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_SCHEMA_REF = "#/components/schemas/Problem"


def document_problem_content_type(response: dict[str, Any]) -> None:
    """Error bodies are sent as application/problem+json: say so in the document."""
    content = response.get("content", {})
    json_body = content.get("application/json")
    if json_body and json_body.get("schema", {}).get("$ref") == PROBLEM_SCHEMA_REF:
        content[PROBLEM_CONTENT_TYPE] = content.pop("application/json")


class ProblemContentTypePlugin(BasePlugin):
    """An apispec plugin that documents every ProblemSchema response as problem+json."""

    def response_helper(self, response: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        document_problem_content_type(response)
        return response

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        for operation in (operations or {}).values():
            for response in operation.get("responses", {}).values():
                if isinstance(response, dict):
                    document_problem_content_type(response)


class HttpHeadersPlugin(BasePlugin):
    """An apispec plugin that documents the headers every operation's success carries: `Link`
    on each page of a paginated list, and `Cache-Control: private, no-store` wherever a view
    did not declare itself a public read (which documents its own headers and 304); and the
    If-None-Match parameter of every read that can answer 304."""

    def init_spec(self, spec: Any) -> None:
        self.spec = spec

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        for operation in (operations or {}).values():
            if "304" in operation.get("responses", {}) or 304 in operation.get("responses", {}):
                # A conditional read: its parameters are the arguments' plus If-None-Match
                # (a manual `parameters` doc would replace the arguments', not add to them).
                operation.setdefault("parameters", []).append(IF_NONE_MATCH_REF)
            for status, response in operation.get("responses", {}).items():
                if not isinstance(response, dict) or not str(status).startswith("2"):
                    continue
                headers = response.setdefault("headers", {})
                headers.setdefault("Cache-Control", "CachePrivate")
                if self.is_page(response):
                    headers.setdefault("Link", "Link")

    def is_page(self, response: dict[str, Any]) -> bool:
        """Whether `response`'s body is a page: {count, next, previous, results}."""
        schema = response.get("content", {}).get("application/json", {}).get("schema", {})
        ref = schema.get("$ref", "") if isinstance(schema, dict) else ""
        component = self.spec.components.schemas.get(ref.rsplit("/", 1)[-1], {})
        return set(component.get("properties", {})) == PAGE_FIELDS


PAGE_FIELDS = {"count", "next", "previous", "results"}
IF_NONE_MATCH_REF = "IfNoneMatch"  # the component, which apispec turns into a $ref

# Headers and parameters of HTTP caching and pagination, as OpenAPI components.
HEADER_COMPONENTS: dict[str, dict[str, Any]] = {
    "ETag": {
        "description": "Strong validator of this exact body; send it back in If-None-Match",
        "schema": {"type": "string", "example": '"3f786850e387550fdab836ed7e6dc881de23001b"'},
    },
    "CachePublic": {
        "description": "`public, max-age=N` (N: HTTP_CACHE_MAX_AGE); `private, no-store` for "
        "a caller sending a token where it changes the answer (the local catalogue)",
        "schema": {"type": "string", "example": "public, max-age=60"},
    },
    "CachePrivate": {
        "description": "Personal data, tokens and writes are never stored by a cache",
        "schema": {"type": "string", "example": "private, no-store"},
    },
    "Link": {
        "description": "RFC 8288 links to the `first`, `prev`, `next` and `last` pages "
        "(absolute URLs, as `next` and `previous` in the body)",
        "schema": {
            "type": "string",
            "example": '<https://api.example.com/api/v1/movies/movies/?page=1>; rel="first", '
            '<https://api.example.com/api/v1/movies/movies/?page=3>; rel="next", '
            '<https://api.example.com/api/v1/movies/movies/?page=9>; rel="last"',
        },
    },
}
IF_NONE_MATCH_PARAMETER = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "An ETag received before: 304 with no body while the answer is unchanged",
    "schema": {"type": "string"},
}


class ProblemApi(flask_smorest.Api):
    ERROR_SCHEMA = ProblemSchema
    DEFAULT_ERROR_RESPONSE_NAME = "DEFAULT_ERROR"

    def __init__(self) -> None:
        super().__init__(
            spec_kwargs={"extra_plugins": [ProblemContentTypePlugin(), HttpHeadersPlugin()]}
        )

    def handle_http_exception(self, error: HTTPException) -> Response:
        return http_exception_to_problem(error)

    def init_app(self, app: Flask, *args: Any, **kwargs: Any) -> None:
        app.url_map.converters["id"] = IdConverter
        super().init_app(app, *args, **kwargs)
        self.spec.components.security_scheme(
            "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
        )
        for name, header in HEADER_COMPONENTS.items():
            self.spec.components.header(name, header)
        self.spec.components.parameter("IfNoneMatch", "header", IF_NONE_MATCH_PARAMETER)
        self.register_converter(IdConverter, id_converter_schema)
        self.ma_plugin.converter.add_attribute_function(nullable_nested_schema)
        self.ma_plugin.converter.add_attribute_function(descending_orderings_named)
        register_docs_routes(app, self)


def nullable_nested_schema(
    converter: Any, field: ma.fields.Field, ret: dict[str, Any]
) -> dict[str, Any]:
    """A nested schema or null: `allOf: [$ref]` and `nullable`, not apispec's `anyOf` with an
    open `{type: object}` beside the schema, which says "this schema or any object" and makes
    client generators invent a model for the "any object". (apispec binds it to its field
    converter, hence `converter`.)"""
    choices = ret.get("anyOf", [])
    if [choice for choice in choices if choice == {"type": "object", "nullable": True}]:
        ret["allOf"] = [choice for choice in ret.pop("anyOf") if "$ref" in choice]
        return {"nullable": True}
    return {}


def descending_orderings_named(
    converter: Any, field: ma.fields.Field, ret: dict[str, Any]
) -> dict[str, Any]:
    """Name each choice of an `ordering` enum for client generators (`x-enum-varnames`):
    `-title` is `title_desc`, where a generator would otherwise number it (`VALUE_9`)."""
    choices = ret.get("enum") or []
    if not any(isinstance(choice, str) and choice.startswith("-") for choice in choices):
        return {}
    names = [f"{choice[1:]}_desc" if choice.startswith("-") else choice for choice in choices]
    return {"x-enum-varnames": names}


def id_converter_schema(converter: IdConverter) -> dict[str, Any]:
    return {"type": "integer", "minimum": 1, "maximum": MAX_ID}


def register_docs_routes(app: Flask, api: ProblemApi) -> None:
    """`/` and `/api/schema/` for the names of the specification; Swagger UI's assets."""
    assets_dir = Path(swagger_ui_path)

    def swagger_assets(filename: str) -> Response:
        return send_from_directory(assets_dir, filename, max_age=24 * 3600)

    def openapi_schema() -> Any:
        return api._openapi_json()

    def root() -> Response:
        return redirect(url_for("api-docs.openapi_swagger_ui"))  # type: ignore[return-value]

    app.add_url_rule("/api/docs/assets/<path:filename>", "swagger_assets", swagger_assets)
    app.add_url_rule("/api/schema/", "openapi_schema", openapi_schema)
    app.add_url_rule("/", "root", root)


# --- The dialect of the blueprints ------------------------------------------------------

View = Callable[..., Any]

BEARER_AUTH: list[dict[str, list[str]]] = [{"bearerAuth": []}]
# An empty requirement: the operation may be called without a token too.
ANONYMOUS: dict[str, list[str]] = {}
NOT_AUTHENTICATED = (
    "No token, or an invalid, expired or revoked one "
    "(code: not_authenticated, token_invalid, token_expired, token_revoked, ...)"
)
INVALID_TOKEN = "A token sent is invalid, expired or revoked (sending none is fine)"

# alt_response documents through the view function alone: it needs no blueprint instance.
_responses = ResponseMixin()


def problem(
    status: int,
    description: str,
    *,
    schema: type[ma.Schema] = ProblemSchema,
    headers: dict[str, Any] | None = None,
) -> Callable[[View], View]:
    """Document an error response of an operation: a problem+json body (`schema`)."""
    return _responses.alt_response(
        status,
        schema=schema,
        content_type=PROBLEM_MIMETYPE,
        description=description,
        headers=headers,
    )


@dataclass(frozen=True)
class Problem:
    """A documented error response whose body is not the plain `ProblemSchema`, or that
    carries headers."""

    description: str
    schema: type[ma.Schema] = ProblemSchema
    headers: dict[str, Any] | None = None

    @classmethod
    def of(cls, error: str | Problem) -> Problem:
        return error if isinstance(error, Problem) else cls(error)

    def document(self, status: int) -> Callable[[View], View]:
        return problem(status, self.description, schema=self.schema, headers=self.headers)


@dataclass(frozen=True)
class AlsoResponse:
    """Another documented outcome of an operation that is not an error (a JSON body)."""

    schema: type[ma.Schema]
    description: str
    headers: dict[str, Any] | None = None


def login_required(view: View) -> View:
    """An access token is required: checked first, and documented with its 401."""
    view = problem(401, NOT_AUTHENTICATED)(view)
    view = flask_smorest.Blueprint.doc(security=BEARER_AUTH)(view)
    return jwt_required()(view)


def login_optional(view: View) -> View:
    """An access token is accepted, not required; a bad one is still a 401 (documented)."""
    view = problem(401, INVALID_TOKEN)(view)
    view = flask_smorest.Blueprint.doc(security=[ANONYMOUS, *BEARER_AUTH])(view)
    return jwt_required(optional=True)(view)


Token = Literal["required", "optional"]
TOKEN_REQUIREMENTS: dict[str, Callable[[View], View]] = {
    "required": login_required,
    "optional": login_optional,
}


def current_user_id() -> int:
    """The caller's user id, in a view under `@login_required`."""
    return int(get_jwt_identity())


def current_user_id_or_none() -> int | None:
    """The caller's user id under `@login_optional`; None when no token was sent."""
    identity = get_jwt_identity()
    return None if identity is None else int(identity)


# --- HTTP caching -----------------------------------------------------------------------

API_PATH_PREFIX = "/api/v1/"
PRIVATE = "private, no-store"


@dataclass(frozen=True)
class PublicRead:
    """The cache declaration of a public read: whether the caller's token changes the answer."""

    depends_on_caller: bool


def public_read(*, depends_on_caller: bool = False) -> Callable[[View], View]:
    """A catalogue read anyone may cache: ETag and 304, `Cache-Control: public` (see the
    module's docstring). `depends_on_caller`: the answer changes with the caller's token (a
    `@login_optional` view), so it varies on Authorization and a token makes it private."""
    declaration = PublicRead(depends_on_caller)
    vary = {
        "description": "The request headers the answer depends on",
        "schema": {
            "type": "string",
            "example": "Origin, Authorization" if depends_on_caller else "Origin",
        },
    }

    def decorator(view: View) -> View:
        @wraps(view)
        def declared(*args: Any, **kwargs: Any) -> Any:
            g.http_cache = declaration
            return view(*args, **kwargs)

        documented: View = flask_smorest.Blueprint.doc(
            responses={
                200: {"headers": {"ETag": "ETag", "Cache-Control": "CachePublic", "Vary": vary}},
                304: {
                    "description": "Not Modified: the ETag sent in If-None-Match still "
                    "matches (no body)",
                    "headers": {"ETag": "ETag", "Cache-Control": "CachePublic"},
                },
            },
        )(declared)
        return documented

    return decorator


def add_vary(response: Response, *names: str) -> None:
    """Add `names` to Vary, merging every Vary line already there (flask-cors adds its own)."""
    values: list[str] = []
    for line in [*response.headers.getlist("Vary"), ", ".join(names)]:
        for value in line.split(","):
            value = value.strip()
            if value and value.lower() not in (known.lower() for known in values):
                values.append(value)
    response.headers["Vary"] = ", ".join(values)


def apply_cache_policy(response: Response) -> Response:
    """Cache-Control, ETag (and 304) and Vary for a response of the API, from the view's
    declaration (`cache=public_read()`); `private, no-store` for everything else."""
    if not request.path.startswith(API_PATH_PREFIX):
        return response
    declaration = g.get("http_cache")
    public_answer = request.method in ("GET", "HEAD") and response.status_code == 200
    if not (isinstance(declaration, PublicRead) and public_answer):
        response.headers["Cache-Control"] = PRIVATE
        return response
    if declaration.depends_on_caller:
        add_vary(response, "Authorization")
    if declaration.depends_on_caller and "Authorization" in request.headers:
        response.headers["Cache-Control"] = PRIVATE
    else:
        max_age = int(current_app.config["HTTP_CACHE_MAX_AGE"])
        response.headers["Cache-Control"] = f"public, max-age={max_age}"
        add_vary(response, "Origin")
    response.add_etag(overwrite=True)
    response.make_conditional(request)
    return response


def register_http_caching(app: Flask) -> None:
    """Install `apply_cache_policy`, before the extensions: Flask runs after_request hooks in
    reverse order of registration, so it runs after flask-cors's and merges the Vary
    flask-cors adds into one line."""
    app.after_request(apply_cache_policy)
