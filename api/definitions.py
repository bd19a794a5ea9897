"""/api/v1/process-definitions: deploy and read process definitions."""

from __future__ import annotations

import json

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from engine.core.errors import InvalidInput
from engine.core.records import DefinitionView, DeploymentView
from engine.definitions import deployments
from engine.spiff.model.parsing import SourceFile

from . import schemas
from .auth import current_actor
from .context import engine_ctx

blp = Blueprint(
    "process_definitions",
    __name__,
    url_prefix="/api/v1/process-definitions",
    description="Deploy BPMN, DMN and form files; read process definitions.",
)

DEPLOY_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["files"],
                "properties": {
                    "files": {
                        "type": "array",
                        "items": {"type": "string", "format": "binary"},
                        "description": ".bpmn, .dmn and .form files deployed together",
                    },
                    "name": {"type": "string"},
                    "lane_map": {"type": "string", "description": "JSON object mapping lane names to group names"},
                },
            }
        }
    },
}


@blp.route("")
class Definitions(MethodView):
    @blp.response(200, schemas.Definition(many=True))
    def get(self) -> list[DefinitionView]:
        """The latest version of every deployed process."""
        return deployments.list_definitions(engine_ctx(), current_actor())

    @blp.doc(requestBody=DEPLOY_BODY)
    @blp.response(201, schemas.DeploymentResult)
    @blp.alt_response(422, schema=schemas.Error, description="every problem found, with file, element and line")
    def post(self) -> tuple[DeploymentView, int]:
        """Deploy files as one deployment; identical content creates no new version."""
        uploads = request.files.getlist("files")
        if not uploads:
            raise InvalidInput("upload one or more files as multipart field 'files'", {"fields": {"files": "required"}})
        files = [SourceFile(u.filename or "unnamed", u.read()) for u in uploads]
        result = deployments.deploy(engine_ctx(), current_actor(), files, _lane_map(), request.form.get("name", ""))
        return result, 201 if result.id else 200


def _lane_map() -> dict[str, str]:
    raw = request.form.get("lane_map")
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError) as err:
        raise InvalidInput(f"lane_map is not JSON: {err}", {"fields": {"lane_map": "not JSON"}}) from err
    if not isinstance(value, dict):
        raise InvalidInput("lane_map must be a JSON object", {"fields": {"lane_map": "not an object"}})
    return value


@blp.route("/<key>")
class DefinitionByKey(MethodView):
    @blp.response(200, schemas.DefinitionDetail)
    @blp.alt_response(404, schema=schemas.Error)
    def get(self, key: str) -> dict[str, object]:
        """Every version of one process, newest first."""
        versions = deployments.get_definition(engine_ctx(), current_actor(), key)
        return {"key": key, "latest": versions[0], "versions": versions}
