"""Every URL of the site answers bad methods and bad ids with 4xx (or a redirect to log
in), never 5xx: for anonymous visitors, alice, and charlie (staff).

The URLs come from the URLconf itself, so a new page is covered the day it is added.
Each argument of a URL is tried with values of the right shape that name nothing, and
with values of the wrong shape (not a UUID, huge numbers, odd strings).
"""

import re
import uuid
from dataclasses import dataclass, field

import pytest
from django.test import Client
from django.urls import NoReverseMatch, URLResolver, get_resolver, reverse
from django.urls.resolvers import RoutePattern

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")
HUGE = str(2**64)
# Right shape, naming nothing; then wrong shapes.
BAD_VALUES = {
    "uuid": [str(uuid.uuid4()), "not-a-uuid", "9" * 40, HUGE],
    "int": [HUGE, "9" * 30, "-1"],
    "other": ["nope", "x" * 300, HUGE, "-1", "%00", ".."],
}
REGEX_SAMPLES = ["auth", "sentinel"]  # a value that fits an argument given by a regex


@dataclass
class Route:
    name: str
    url: str  # with a distinct sentinel for each argument
    sentinels: dict = field(default_factory=dict)  # sentinel -> kind of argument

    def variants(self):
        """(url, is_bad_id) pairs: the URL as reversed, then one bad value at a time."""
        yield self.url, bool(self.sentinels)
        for sentinel, kind in self.sentinels.items():
            for value in BAD_VALUES[kind]:
                yield self.url.replace(sentinel, value), True


def converter_kind(converter):
    name = type(converter).__name__
    return {"UUIDConverter": "uuid", "IntConverter": "int"}.get(name, "other")


def sentinel_for(kind, index):
    if kind == "uuid":
        return str(uuid.UUID(int=0x5E471E1 + index))
    if kind == "int":
        return str(73_500 + index)
    return f"sentinel{index}"


def walk(resolver, namespace="", prefix="", arguments=()):
    """Every URL pattern: (qualified name or None, route text, [(argument, kind)])."""
    for entry in resolver.url_patterns:
        pattern = entry.pattern
        route = pattern._route if isinstance(pattern, RoutePattern) else None
        found = [*arguments, *((k, converter_kind(c)) for k, c in pattern.converters.items())]
        regex_groups = set(pattern.regex.groupindex) - {name for name, _ in found}
        found += [(name, "regex") for name in regex_groups]
        text = prefix + route if route is not None and prefix is not None else None
        if isinstance(entry, URLResolver):
            yield from walk(entry, qualified(namespace, entry.namespace), text, found)
        else:
            yield entry.name and qualified(namespace, entry.name), text, found


def qualified(namespace, name):
    return ":".join(part for part in (namespace, name) if part)


def build(name, text, arguments):
    sentinels, kwargs = {}, {}
    for index, (argument, kind) in enumerate(arguments):
        if kind != "regex":
            kwargs[argument] = sentinel_for(kind, index)
            sentinels[kwargs[argument]] = kind
    if name is None:
        # An unnamed pattern (the admin's "<id>/" redirect): fill the route text itself.
        if text is None:
            return None  # the admin's catch-all regex; test_unknown_urls_are_4xx covers it
        url = "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: kwargs[m.group(1)], text)
        return Route(name=f"unnamed {text}", url=url, sentinels=sentinels)
    regex_arguments = [argument for argument, kind in arguments if kind == "regex"]
    for sample in REGEX_SAMPLES:
        try:
            url = reverse(name, kwargs={**kwargs, **dict.fromkeys(regex_arguments, sample)})
        except NoReverseMatch:
            continue
        return Route(name=name, url=url, sentinels=sentinels)
    raise AssertionError(f"cannot build a URL for {name}")


def every_route():
    seen, routes = set(), []
    for name, text, arguments in walk(get_resolver()):
        route = build(name, text, arguments)
        if route is not None and route.url not in seen:
            seen.add(route.url)
            routes.append(route)
    return routes


ROUTES = every_route()
PERSONAS = ["anonymous", "alice", "staff"]


def cases():
    for persona in PERSONAS:
        for route in ROUTES:
            yield pytest.param(persona, route, id=f"{persona} {route.name}")


@pytest.fixture
def signed_in(request, alice, staff):
    """A test client as `persona`; each request signs in again, as one may log out."""
    persona = request.node.callspec.params["persona"]
    user = {"anonymous": None, "alice": alice, "staff": staff}[persona]
    client = Client(raise_request_exception=False)

    def send(method, url):
        if user is not None:
            client.force_login(user)
        return getattr(client, method)(url)

    return send


@pytest.mark.parametrize(("persona", "route"), list(cases()))
def test_every_url_answers_bad_methods_and_bad_ids_without_a_server_error(
    signed_in, persona, route
):
    for url, is_bad_id in route.variants():
        for method in METHODS:
            response = signed_in(method, url)
            assert response.status_code < 500, (method, url, response.status_code)
            if is_bad_id:
                # Nothing by that id: a 4xx, or a redirect (to log in, or the admin's
                # "no such object" back to its list). Never a page as if it existed.
                assert response.status_code >= 300, (method, url, response.status_code)


def test_the_walk_finds_the_sites_urls():
    names = {route.name for route in ROUTES}

    assert {"jobs:status", "uploads:variant", "ops:failed-delete", "accounts:logout"} <= names
    assert {"admin:auth_user_change", "django_rq:job_detail", "healthz"} <= names
    # The admin's object_id catch-all redirects have no name of their own.
    assert sorted(route.url for route in ROUTES if route.name.startswith("unnamed")) == [
        f"/admin/{model}/sentinel0/"
        for model in [
            "auth/group",
            "auth/user",
            "django_rq/dashboard",
            "jobs/idempotencykey",
            "jobs/jobrecord",
        ]
    ]


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(
    "url", ["/nope", "/jobs/nope/", "/photos/nope.json", "/admin/nope/", "/ops/failed/a/b/c/d/"]
)
def test_unknown_urls_are_4xx(signed_in, persona, url):
    for method in METHODS:
        status = signed_in(method, url).status_code
        assert 300 <= status < 500, (method, url, status)


def own_cases():
    for persona in ("alice", "staff"):
        for route in ROUTES:
            if route.name.startswith(("admin:", "django_rq:", "unnamed ")):
                continue
            yield pytest.param(persona, route, id=f"{persona} {route.name}")


@pytest.mark.parametrize(("persona", "route"), list(own_cases()))
def test_the_sites_own_pages_refuse_methods_they_do_not_take(signed_in, persona, route):
    for method in ("put", "patch", "delete"):
        status = signed_in(method, route.url).status_code
        assert 400 <= status < 500, (method, route.url, status)
