"""The graph page's login: `GRAFT_UI_AUTH`, HTTP basic auth and bearer tokens, each with a
role (`read`: see everything; `operator`: also cancel, relaunch and answer gates).

The setting is a list of entries separated by commas or newlines, or `@PATH` naming a file
that holds them (a mounted secret):

    basic:USER:PASSWORD[:ROLE]      HTTP basic auth (a browser asks for it)
    bearer:TOKEN[:ROLE]             `Authorization: Bearer TOKEN` (scripts)

ROLE is `read` (the default) or `operator`. A password or token may hold colons but not
commas. Credentials are compared in constant time, and never logged or echoed in an error.
Without the setting there is no login and every request may act: `graft ui` then listens on
a loopback address only, unless told `--insecure`.

Forms of other sites cannot act either: every POST must carry the header
`X-Graft-Request: 1` (which a cross-site form cannot set and a cross-site script cannot send
without a CORS preflight this server never grants) and, when the browser sends an `Origin`,
come from this server's own (a sandboxed deck's `null` origin is refused too).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from sdk.model.errors import ConfigError

READ, OPERATOR = "read", "operator"
ROLES = (READ, OPERATOR)
CSRF_HEADER = "X-Graft-Request"
OPEN_PATHS = ("/healthz",)  # answered without a login: probes and health checks
USER = web.RequestKey("user", "User")


@dataclass(frozen=True)
class User:
    """Who made a request: a basic-auth user's name or "token N", and their role."""

    name: str
    role: str

    @property
    def may_act(self) -> bool:
        return self.role == OPERATOR


@dataclass(frozen=True)
class Credential:
    kind: str  # "basic" or "bearer"
    name: str  # the user, or "token N"
    secret: bytes  # the password, or the token
    role: str


ANONYMOUS = User("anonymous", OPERATOR)  # no GRAFT_UI_AUTH: no login, anyone may act


def parse(setting: str | None) -> list[Credential]:
    """The credentials of a `GRAFT_UI_AUTH` value (empty: no login); ConfigError saying
    which entry is malformed, without repeating it (it holds a secret)."""
    text = (setting or "").strip()
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigError(f"GRAFT_UI_AUTH names the file {path}, which cannot be read: "
                              f"{exc.strerror}") from None
    entries = [e.strip() for line in text.splitlines() for e in line.split(",")]
    credentials: list[Credential] = []
    for number, entry in enumerate((e for e in entries if e), start=1):
        kind, _, rest = entry.partition(":")
        parts = rest.split(":")
        role = READ
        if len(parts) > 1 and parts[-1] in ROLES:
            role = parts.pop()
        if kind == "basic" and len(parts) >= 2 and parts[0] and all(parts[1:]):
            credentials.append(Credential("basic", parts[0], ":".join(parts[1:]).encode(),
                                          role))
        elif kind == "bearer" and parts and all(parts):
            credentials.append(Credential("bearer", f"token {number}",
                                          ":".join(parts).encode(), role))
        else:
            raise ConfigError(f"GRAFT_UI_AUTH entry {number} is not basic:USER:PASSWORD[:ROLE] "
                              f"or bearer:TOKEN[:ROLE] (ROLE: {' or '.join(ROLES)})")
    return credentials


def is_loopback(host: str) -> bool:
    """Whether `host` (an address or name to listen on) is this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def identify(credentials: list[Credential], header: str) -> User | None:
    """The user an `Authorization` header proves, or None. Every credential of the header's
    kind is compared, each in constant time, so the time taken says nothing of which matched
    or how much of one."""
    scheme, _, value = header.strip().partition(" ")
    scheme, value = scheme.lower(), value.strip()
    found: User | None = None
    if scheme == "basic":
        try:
            user, sep, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        if not sep:
            return None
        for c in credentials:
            if c.kind == "basic":
                same = hmac.compare_digest(c.name.encode(), user.encode())
                same &= hmac.compare_digest(c.secret, password.encode())
                if same and found is None:
                    found = User(c.name, c.role)
    elif scheme == "bearer":
        for c in credentials:
            if c.kind == "bearer" and hmac.compare_digest(c.secret, value.encode()) \
                    and found is None:
                found = User(c.name, c.role)
    return found


def middleware(credentials: list[Credential]) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Refuses requests without valid credentials (401, asking for basic auth when some are
    configured) and POSTs that may come from another site (403); puts the `User` on the
    request as `request[USER]`."""

    @web.middleware
    async def login(request: web.Request,
                    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                    ) -> web.StreamResponse:
        if request.path in OPEN_PATHS:
            return await handler(request)
        user = ANONYMOUS
        if credentials:
            found = identify(credentials, request.headers.get("Authorization", ""))
            if found is None:
                challenge = ('Basic realm="graft", charset="UTF-8"'
                             if any(c.kind == "basic" for c in credentials) else "Bearer")
                return web.json_response({"error": "log in: this page needs a user and "
                                                   "password or a bearer token"},
                                         status=401, headers={"WWW-Authenticate": challenge})
            user = found
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            refused = cross_site(request)
            if refused:
                return web.json_response({"error": refused}, status=403)
        request[USER] = user
        return await handler(request)

    return login


def cross_site(request: web.Request) -> str | None:
    """Why a POST may come from another site's page (None when it cannot)."""
    if request.headers.get(CSRF_HEADER) != "1":
        return f"refused: an action needs the header {CSRF_HEADER}: 1 (sent by graft's page)"
    origin = request.headers.get("Origin")
    if origin and origin != f"{request.scheme}://{request.host}":
        forwarded = request.headers.get("X-Forwarded-Host")
        if not forwarded or origin.split("://", 1)[-1] != forwarded:
            return f"refused: an action from another site ({origin})"
    return None


def require_operator(request: web.Request) -> None:
    """HTTPForbidden unless the request's user may act."""
    user = request.get(USER, ANONYMOUS)
    if not user.may_act:
        raise web.HTTPForbidden(text=json.dumps({"error": (
            f"refused: {user.name} may only read (role read); cancel, relaunch and answering "
            f"gates need the role operator")}), content_type="application/json")
