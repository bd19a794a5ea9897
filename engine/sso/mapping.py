"""What the provider's claims mean in pmoflow: the maps of its groups to pmoflow groups and roles, and of
its scopes to pmoflow token scopes. A map is written `provider value=pmoflow name, ...` in one setting."""

from __future__ import annotations

from dataclasses import dataclass

from engine.core.config import Settings
from engine.core.permissions import ROLES, SCOPES, scope_base


def parse_map(text: str, setting: str) -> dict[str, list[str]]:
    """`a=x, b=y, a=z` as {a: [x, z], b: [y]}; raises ValueError naming the setting for an entry without `=`.

    Entries are separated by commas or new lines; a value may map to several names."""
    found: dict[str, list[str]] = {}
    for entry in text.replace("\n", ",").split(","):
        if not entry.strip():
            continue
        source, sep, target = entry.partition("=")
        if not sep or not source.strip() or not target.strip():
            raise ValueError(f"{setting}: {entry.strip()!r} is not 'provider value=pmoflow name'")
        found.setdefault(source.strip(), []).append(target.strip())
    return found


@dataclass(frozen=True)
class ClaimMaps:
    """The settings of single sign-on that say who is who, checked once."""

    username_claim: str
    groups_claim: str
    roles_claim: str
    groups: dict[str, list[str]]  # provider value -> pmoflow groups; empty: every value is a group's name
    roles: dict[str, list[str]]  # provider value -> roles; empty: roles are kept in pmoflow
    default_roles: list[str]
    scopes: dict[str, list[str]]  # provider scope -> pmoflow scopes
    clients: dict[str, str]  # subject of a client's own tokens (client credentials) -> the pmoflow user they act as

    @classmethod
    def of(cls, settings: Settings) -> ClaimMaps:
        """Raises ValueError for a malformed map, an unknown role or scope."""
        roles = parse_map(settings.oidc_role_map, "PMOFLOW_OIDC_ROLE_MAP")
        default_roles = [r.strip() for r in settings.oidc_default_roles.split(",") if r.strip()]
        unknown = sorted(({r for names in roles.values() for r in names} | set(default_roles)) - set(ROLES))
        if unknown:
            raise ValueError(f"PMOFLOW_OIDC_ROLE_MAP / DEFAULT_ROLES: unknown roles {unknown} (roles: {list(ROLES)})")
        scopes = parse_map(settings.oidc_scope_map, "PMOFLOW_OIDC_SCOPE_MAP")
        bad = sorted(s for names in scopes.values() for s in names if scope_base(s) not in SCOPES)
        if bad:
            raise ValueError(f"PMOFLOW_OIDC_SCOPE_MAP: unknown pmoflow scopes {bad}")
        clients = {k: v[-1] for k, v in parse_map(settings.oidc_api_clients, "PMOFLOW_OIDC_API_CLIENTS").items()}
        return cls(
            username_claim=settings.oidc_username_claim,
            groups_claim=settings.oidc_groups_claim,
            roles_claim=settings.oidc_roles_claim or settings.oidc_groups_claim,
            groups=parse_map(settings.oidc_group_map, "PMOFLOW_OIDC_GROUP_MAP"),
            roles=roles,
            default_roles=default_roles,
            scopes=scopes,
            clients=clients,
        )

    def groups_of(self, values: list[str]) -> dict[str, str]:
        """pmoflow group -> the provider value that gives it."""
        if not self.groups:  # a value with a control character (a NUL, a line end) names no group
            return {v.strip()[:120]: v for v in values if v.strip() and v.isprintable()}
        return {group: v for v in values for group in self.groups.get(v, [])}

    def managed_groups(self) -> set[str] | None:
        """The pmoflow groups that follow the provider; None: every group."""
        return {g for names in self.groups.values() for g in names} if self.groups else None

    def roles_of(self, values: list[str]) -> dict[str, str]:
        """role -> the provider value (or "default") that gives it."""
        found = dict.fromkeys(self.default_roles, "default")
        found.update({role: v for v in values for role in self.roles.get(v, [])})
        return found

    def scopes_of(self, provider_scopes: list[str]) -> frozenset[str]:
        """The pmoflow scopes a token's provider scopes stand for: mapped ones, and pmoflow's own names."""
        found = {s for p in provider_scopes for s in self.scopes.get(p, [])}
        found |= {p for p in provider_scopes if scope_base(p) in SCOPES}
        return frozenset(found)
