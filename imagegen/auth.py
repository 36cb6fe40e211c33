"""Who is acting, and what their role lets them do.

Roles are ordered: a viewer looks, a curator also generates and approves, an admin also
imports, edits the catalog, reverts, publishes and sets budgets. People are mapped to
roles by `IMAGEGEN_ADMINS`, `IMAGEGEN_CURATORS` and `IMAGEGEN_VIEWERS` (emails, `@domain`
entries, or `*` in viewers for anyone signed in), and optionally by an OIDC claim named
in `IMAGEGEN_ROLE_CLAIM`. The service functions call `require(actor, permission)`, so the
rules hold whoever calls them: a page, the CLI or a script.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from imagegen.errors import NotAllowed

if TYPE_CHECKING:
    from imagegen.settings import Settings


class Role(enum.IntEnum):
    VIEWER = 1
    CURATOR = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        return self.name.lower()


# The least role each action needs.
PERMISSIONS: dict[str, Role] = {
    "view": Role.VIEWER,
    "generate": Role.CURATOR,
    "approve": Role.CURATOR,
    "experiment": Role.CURATOR,
    "batch": Role.CURATOR,
    "template": Role.CURATOR,
    "import": Role.ADMIN,
    "edit_catalog": Role.ADMIN,
    "revert": Role.ADMIN,
    "publish": Role.ADMIN,
    "budget": Role.ADMIN,
}

_ACTIONS = {
    "view": "view", "generate": "generate images", "approve": "approve a thumbnail",
    "experiment": "run experiments", "batch": "run batches", "template": "save prompt templates",
    "import": "import the catalog", "edit_catalog": "edit agents", "revert": "revert a thumbnail",
    "publish": "publish", "budget": "change budgets and prices",
}


@dataclass(frozen=True)
class Actor:
    email: str
    role: Role

    def can(self, permission: str) -> bool:
        return self.role >= PERMISSIONS[permission]


def local_admin(settings: "Settings", name: str | None = None) -> Actor:
    """The one person of open mode and of the CLI: named by --by or IMAGEGEN_CURATOR."""
    return Actor(name or settings.curator, Role.ADMIN)


def require(actor: Actor | None, permission: str) -> Actor:
    """Return the actor if their role allows `permission`; otherwise refuse with a clear line."""
    if actor is None:
        raise NotAllowed(f"Sign in to {_ACTIONS[permission]}.")
    if not actor.can(permission):
        needed = PERMISSIONS[permission].label
        raise NotAllowed(
            f"Only a{'n' if needed == 'admin' else ''} {needed} may {_ACTIONS[permission]}; "
            f"{actor.email} is a {actor.role.label}. Ask an admin if you need more."
        )
    return actor


def _entries(text: str | None) -> list[str]:
    return [e.strip().casefold() for e in (text or "").split(",") if e.strip()]


def _listed(email: str, entries: Iterable[str], *, star: bool = False) -> bool:
    email = email.casefold()
    domain = email.rpartition("@")[2]
    return any(
        e == email or (e.startswith("@") and e[1:] == domain) or (star and e == "*")
        for e in entries
    )


def _claimed_role(claims: dict, claim: str | None) -> Role | None:
    """The highest role named in the claim (a string or a list, e.g. `groups`)."""
    if not claim or claim not in claims:
        return None
    value = claims[claim]
    names = {str(v).strip().casefold() for v in (value if isinstance(value, (list, tuple)) else [value])}
    found = [r for r in Role if r.label in names]
    return max(found) if found else None


def role_for(email: str | None, settings: "Settings", claims: dict | None = None) -> Role | None:
    """The role of a signed-in person, or None when they are not listed anywhere."""
    roles = []
    if email and "@" in email:
        for role, entries in ((Role.ADMIN, settings.admins), (Role.CURATOR, settings.curators)):
            if _listed(email, _entries(entries)):
                roles.append(role)
        if _listed(email, _entries(settings.viewers), star=True):
            roles.append(Role.VIEWER)
    claimed = _claimed_role(claims or {}, settings.role_claim)
    if claimed is not None:
        roles.append(claimed)
    return max(roles) if roles else None


def actor_for(email: str | None, settings: "Settings", claims: dict | None = None) -> Actor | None:
    role = role_for(email, settings, claims)
    return Actor(email or "", role) if role is not None else None
