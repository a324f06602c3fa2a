"""flask-smorest wired to our conventions: problem+json errors, 400 for invalid input,
a path converter for database ids, Bearer auth and Swagger UI served from local assets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import flask_smorest
import marshmallow as ma
from apispec import BasePlugin
from flask import Flask, Response, redirect, send_from_directory, url_for
from swagger_ui_bundle import swagger_ui_path
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from app.errors import http_exception_to_problem

# Ids are 32-bit positive integers in every table; larger numbers can name nothing.
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """`<id:name>`: a positive database id; anything else (text, 0, huge) is a 404."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


class BadRequestParser(FlaskParser):
    """Invalid input is a 400, as clients of the original API expect."""

    DEFAULT_VALIDATION_STATUS = 400


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
    errors = ma.fields.Dict(metadata={"description": "Messages for each invalid field"})


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = BadRequestParser()


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


class ProblemApi(flask_smorest.Api):
    ERROR_SCHEMA = ProblemSchema
    DEFAULT_ERROR_RESPONSE_NAME = "DEFAULT_ERROR"

    def __init__(self) -> None:
        super().__init__(spec_kwargs={"extra_plugins": [ProblemContentTypePlugin()]})

    def handle_http_exception(self, error: HTTPException) -> Response:
        return http_exception_to_problem(error)

    def init_app(self, app: Flask, *args: Any, **kwargs: Any) -> None:
        app.url_map.converters["id"] = IdConverter
        super().init_app(app, *args, **kwargs)
        self.spec.components.security_scheme(
            "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
        )
        self.register_converter(IdConverter, id_converter_schema)
        register_docs_routes(app, self)


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


def bearer_auth() -> list[dict[str, list[str]]]:
    """`@blp.doc(security=bearer_auth())` marks an operation as needing a token."""
    return [{"bearerAuth": []}]
