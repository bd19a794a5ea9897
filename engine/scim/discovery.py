"""What a SCIM client reads to learn this service provider (RFC 7643 §5-7, RFC 7644 §4): its features,
its resource types and their schemas, limited to the attributes pmoflow keeps."""

from __future__ import annotations

from typing import Any

from engine.core.permissions import Actor, require
from engine.scim.errors import CORE_GROUP, CORE_USER, ENTERPRISE_USER, LIST_RESPONSE, ScimError
from engine.scim.resources import MAX_COUNT

SERVICE_PROVIDER_CONFIG = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"


def _attr(name: str, kind: str = "string", **more: Any) -> dict[str, Any]:
    base = {
        "name": name,
        "type": kind,
        "multiValued": False,
        "required": False,
        "caseExact": False,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
    }
    return base | more


USER_ATTRIBUTES = [
    _attr("userName", required=True, uniqueness="server", description="the pmoflow username; it can not change"),
    _attr(
        "name",
        "complex",
        subAttributes=[
            _attr(n)
            for n in ("formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix")
        ],
    ),
    _attr("displayName", description="the name pmoflow shows"),
    _attr("active", "boolean", description="false: no sign-in, sessions ended, open tasks back to their groups"),
    _attr(
        "emails",
        "complex",
        multiValued=True,
        description="pmoflow keeps one: the primary, else the work, else the first",
        subAttributes=[_attr("value"), _attr("type"), _attr("primary", "boolean")],
    ),
    _attr(
        "groups",
        "complex",
        multiValued=True,
        mutability="readOnly",
        subAttributes=[_attr("value", mutability="readOnly"), _attr("display", mutability="readOnly")],
    ),
]
GROUP_ATTRIBUTES = [
    _attr("displayName", required=True, uniqueness="server", description="the group's name: a BPMN lane name"),
    _attr(
        "members",
        "complex",
        multiValued=True,
        subAttributes=[_attr("value", mutability="immutable"), _attr("display", mutability="readOnly")],
    ),
]
SCHEMAS = {
    CORE_USER: {"id": CORE_USER, "name": "User", "description": "A pmoflow user", "attributes": USER_ATTRIBUTES},
    CORE_GROUP: {"id": CORE_GROUP, "name": "Group", "description": "A pmoflow group", "attributes": GROUP_ATTRIBUTES},
}
RESOURCE_TYPES = {
    "User": {"name": "User", "endpoint": "/Users", "schema": CORE_USER, "description": "pmoflow users"},
    "Group": {"name": "Group", "endpoint": "/Groups", "schema": CORE_GROUP, "description": "groups (BPMN lanes)"},
}


def service_provider_config(base: str) -> dict[str, Any]:
    """The features this provider supports (RFC 7643 §5); `base` is the SCIM base URL."""
    return {
        "schemas": [SERVICE_PROVIDER_CONFIG],
        "documentationUri": f"{base}/ServiceProviderConfig",
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": MAX_COUNT},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": True},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "a pmoflow API token with the scope scim",
                "primary": True,
            }
        ],
        "meta": {"resourceType": "ServiceProviderConfig", "location": f"{base}/ServiceProviderConfig"},
    }


def resource_type(base: str, name: str) -> dict[str, Any]:
    """One resource type; raises ScimError (404)."""
    if name not in RESOURCE_TYPES:
        raise ScimError(404, f"resource type {name!r} does not exist")
    extensions = [{"schema": ENTERPRISE_USER, "required": False}] if name == "User" else []
    return {
        "schemas": [RESOURCE_TYPE],
        "id": name,
        **RESOURCE_TYPES[name],
        "schemaExtensions": extensions,
        "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/{name}"},
    }


def schema(base: str, urn: str) -> dict[str, Any]:
    """One schema; raises ScimError (404)."""
    if urn not in SCHEMAS:
        raise ScimError(404, f"schema {urn!r} does not exist")
    return {
        "schemas": [SCHEMA],
        **SCHEMAS[urn],
        "meta": {"resourceType": "Schema", "location": f"{base}/Schemas/{urn}"},
    }


def listed(items: list[dict[str, Any]]) -> dict[str, Any]:
    """A ListResponse of every item (discovery endpoints are not paged)."""
    return {"schemas": [LIST_RESPONSE], "totalResults": len(items), "startIndex": 1, "itemsPerPage": len(items)} | {
        "Resources": items
    }


def permitted(actor: Actor) -> None:
    """Discovery needs the same permission as provisioning; raises Forbidden."""
    require(actor, "scim.provision")
