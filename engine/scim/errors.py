"""The one SCIM error: an HTTP status and RFC 7644's `scimType`, answered as a SCIM Error by the web layer."""

from __future__ import annotations

from engine.core.errors import PmoflowError

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


class ScimError(PmoflowError):
    """A request SCIM refuses: `status` (400, 404, 409, 412, ...) and `scim_type` (invalidFilter, invalidValue,
    invalidPath, noTarget, invalidSyntax, uniqueness, mutability, tooMany; empty when RFC 7644 names none)."""

    code = "scim"

    def __init__(self, status: int, detail: str, scim_type: str = "") -> None:
        super().__init__(detail, {"status": status, "scimType": scim_type})
        self.status = status
        self.scim_type = scim_type


def bad_value(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidValue")


def not_found(kind: str, resource_id: str) -> ScimError:
    return ScimError(404, f"{kind} {resource_id!r} does not exist")
