# Just enough of flask-smorest's API for pmoflow's own calls (flask-smorest ships no types).
# The decorators return the function they are given, unchanged in type, so views stay checked.
from collections.abc import Callable, Mapping
from typing import Any, TypedDict, TypeVar, Unpack

import flask
from flask import Flask
from marshmallow import Schema
from werkzeug.exceptions import HTTPException

_T = TypeVar("_T")
_SchemaArg = Schema | type[Schema] | None

class _DocOptions(TypedDict, total=False):
    content_type: str | None
    description: str | None
    example: Any
    examples: Mapping[str, Any] | None

class Blueprint(flask.Blueprint):
    def __init__(self, name: str, import_name: str, *args: Any, description: str = ..., **kwargs: Any) -> None: ...
    def route(
        self, rule: str, *, parameters: list[Any] | None = ..., tags: list[str] | None = ..., **options: Any
    ) -> Callable[[_T], _T]: ...
    def arguments(
        self,
        schema: Schema | type[Schema],
        *,
        location: str = ...,
        required: bool = ...,
        **options: Unpack[_DocOptions],
    ) -> Callable[[_T], _T]: ...
    def response(
        self,
        status_code: int | str,
        schema: _SchemaArg = ...,
        *,
        headers: Mapping[str, Any] | None = ...,
        **options: Unpack[_DocOptions],
    ) -> Callable[[_T], _T]: ...
    def alt_response(
        self,
        status_code: int | str,
        response: Any = ...,
        *,
        schema: _SchemaArg = ...,
        headers: Mapping[str, Any] | None = ...,
        success: bool = ...,
        **options: Unpack[_DocOptions],
    ) -> Callable[[_T], _T]: ...
    @staticmethod
    def doc(**kwargs: Any) -> Callable[[_T], _T]: ...

class Api:
    ERROR_SCHEMA: type[Schema]
    def __init__(
        self, app: Flask | None = ..., *, spec_kwargs: Mapping[str, Any] | None = ..., config_prefix: str = ...
    ) -> None: ...
    def init_app(self, app: Flask, *, spec_kwargs: Mapping[str, Any] | None = ...) -> None: ...
    def register_blueprint(self, blp: Blueprint, *, parameters: list[Any] | None = ..., **options: Any) -> None: ...
    def handle_http_exception(self, error: HTTPException) -> Any: ...

def abort(http_status_code: int, exc: Exception | None = ..., **kwargs: Any) -> None: ...
