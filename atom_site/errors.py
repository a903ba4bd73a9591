"""The API's one error shape, for every 4xx (and the 503s):

    {"detail": "<one line>", "errors": [{"field": "params.text", "message": "..."}]}

`detail` says what went wrong in one line; `errors` names each input at fault (empty when no
single input is). `field` is dotted as the client wrote it: the body's keys (`params.text`,
`skills.0`), a query or path parameter's name (`page`, `slug`), or `body` for a body that is
not JSON. Some answers add keys beside these two (a 409 install's `conflicts`, an import's
`file` and `line` on each error); none takes one away.

Entry points raise `ApiError` (or let `PermissionDenied`, `Http404`, ninja's `HttpError` and
`ValidationError` out); `errors_install` makes the one `NinjaAPI` answer each of them here.
"""

import asyncio
import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import Resolver404, URLPattern, re_path, resolve
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser

from atom_site.jsonbody import json_loads
from atom_site.openapi import allows_anonymous, openapi_complete

# Where ninja says an input came from: the first item of each error's `loc`.
PARAM_SOURCES = frozenset({"body", "query", "path", "header", "cookie", "form", "file"})


class FieldErrorOut(Schema):
    field: str
    message: str


class ErrorOut(Schema):
    detail: str
    errors: list[FieldErrorOut] = []


def errors_documented(*statuses: int) -> dict[int, type[Schema]]:
    """`response={200: X, **errors_documented(401, 404, 422)}`: the error schema per status."""
    return dict.fromkeys(statuses, ErrorOut)


def error_body(detail: str, errors: Iterable[dict[str, Any]] = (), **extra: Any) -> dict:
    """The body of an error answer (see the module's docstring)."""
    return {"detail": detail, "errors": list(errors), **extra}


class ApiError(Exception):
    """An answer other than success, raised from an entry point and answered once, here.

    `field` (with `detail` as its message) is the shorthand for the one input at fault;
    `errors` lists several; `extra` keys go beside `detail` and `errors`.
    """

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        field: str = "",
        errors: Sequence[dict[str, Any]] = (),
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = list(errors) or ([{"field": field, "message": detail}] if field else [])
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict:
        return error_body(self.detail, self.errors, **self.extra)


def field_of(loc: Sequence[Any]) -> str:
    """ninja's `loc` (`["body", "params", "text"]`) as the dotted field a client wrote."""
    parts = list(loc)
    if parts and parts[0] in PARAM_SOURCES:
        parts = parts[1:]
    return ".".join(str(part) for part in parts) or "body"


def validation_errors(error: ValidationError) -> list[dict[str, str]]:
    found = []
    for item in error.errors:
        loc = item.get("loc") or []
        found.append({"field": field_of(loc), "message": str(item.get("msg", "invalid value"))})
    return found


def validation_detail(errors: list[dict[str, str]]) -> str:
    if not errors:
        return "invalid input"
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"invalid input: {first['field']}: {first['message']}{more}"


class BodyMalformed(ValueError):
    """The request's body is not JSON (ninja answers any parse error as a 400 of its own)."""

    field = "body"


class BodyUnstorable(BodyMalformed):
    """JSON that parses but holds a string no database here stores: NUL (PostgreSQL's text
    and jsonb refuse it) or a lone surrogate (not encodable as UTF-8)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def _unstorable_find(data: Any, path: tuple[str, ...] = ()) -> tuple[str, str] | None:
    """The dotted field of the first string (key or value) in `data` no database stores, and
    why; None when every one is storable. Iterative: the body may nest deep."""
    stack = [(data, path)]
    while stack:
        value, at = stack.pop()
        if isinstance(value, dict):
            items = list(value.items())
        elif isinstance(value, list):
            items = list(enumerate(value))
        else:
            items = []
        for key, item in reversed(items):
            stack.append((item, (*at, str(key))))
        for text in (
            [value] if isinstance(value, str) else [k for k, _ in items if isinstance(k, str)]
        ):
            if "\x00" in text:
                return ".".join(at) or "body", "must not contain NUL (\\u0000)"
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                return ".".join(at) or "body", "must not contain a lone surrogate (\\ud800–\\udfff)"
    return None


class JsonParser(Parser):
    def parse_body(self, request: HttpRequest) -> Any:
        try:
            data = json_loads(request.body)
        except RecursionError:
            raise BodyMalformed("the body is not JSON: it nests too deeply") from None
        except (ValueError, UnicodeDecodeError) as error:
            raise BodyMalformed(f"the body is not JSON: {error}") from None
        unstorable = _unstorable_find(data)
        if unstorable is not None:
            raise BodyUnstorable(*unstorable)
        return data


class AtomApi(NinjaAPI):
    """The NinjaAPI with one error shape: each body param's own name is dropped from `loc`
    (a single `payload: Schema` is read from the whole body, so `payload` is no field a client
    wrote), a wrong method is a JSON 405, and a path it does not know a JSON 404."""

    def validation_error_from_error_contexts(self, error_contexts: list) -> ValidationError:
        error = super().validation_error_from_error_contexts(error_contexts)
        single_attrs = {
            getattr(context.model, "__read_from_single_attr__", None) for context in error_contexts
        } - {None}
        for item in error.errors:
            loc = list(item["loc"])
            if len(loc) > 1 and loc[0] == "body" and loc[1] in single_attrs:
                item["loc"] = [loc[0], *loc[2:]]
        return error

    def get_openapi_schema(self, **kwargs: Any) -> Any:
        anonymous_allowed = {
            self.get_openapi_operation_id(operation)
            for router in self._get_bound_routers()
            for path_view in router.path_operations.values()
            for operation in path_view.operations
            if allows_anonymous(operation)
        }
        return openapi_complete(super().get_openapi_schema(**kwargs), anonymous_allowed)

    def _get_urls(self) -> list:
        urls = list(super()._get_urls())
        for pattern in urls:
            if isinstance(pattern, URLPattern):
                pattern.callback = _methods_answered_in_json(self, pattern.callback)
        urls.append(re_path(r"^.*$", _unknown_path_view(self), name="unknown-path"))
        return urls


def _not_allowed(api: NinjaAPI, request: HttpRequest, response: HttpResponse) -> HttpResponse:
    if response.status_code != 405 or response.get("Content-Type", "").startswith(
        "application/json"
    ):
        return response
    allowed = response.get("Allow", "")
    body = error_body(f"method {request.method} is not allowed here; allowed: {allowed}")
    answer = api.create_response(request, body, status=405)
    answer["Allow"] = allowed
    return answer


def _nul_refused(api: NinjaAPI, request: HttpRequest, path_values: dict) -> HttpResponse | None:
    """A 422 for NUL in a path or query parameter: PostgreSQL refuses it in any text, so a
    lookup or filter holding one was a 500 there. (A lone surrogate cannot arrive through a
    URL: Django decodes it as U+FFFD.)"""
    fields = [name for name, value in path_values.items() if "\x00" in str(value)]
    fields += [name for name, values in request.GET.lists() if any("\x00" in v for v in values)]
    if not fields:
        return None
    message = "must not contain NUL (%00)"
    errors = [{"field": field, "message": message} for field in fields]
    return api.create_response(request, error_body(f"{fields[0]}: {message}", errors), status=422)


def _methods_answered_in_json(api: NinjaAPI, view: Callable) -> Callable:
    if asyncio.iscoroutinefunction(view):

        @functools.wraps(view)
        async def async_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            refused = _nul_refused(api, request, kwargs)
            if refused is not None:
                return refused
            return _not_allowed(api, request, await view(request, *args, **kwargs))

        return async_view

    @functools.wraps(view)
    def sync_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        refused = _nul_refused(api, request, kwargs)
        if refused is not None:
            return refused
        return _not_allowed(api, request, view(request, *args, **kwargs))

    return sync_view


def _unknown_path_view(api: NinjaAPI) -> Callable:
    @csrf_exempt
    def unknown_path(request: HttpRequest) -> HttpResponse:
        detail = f"no such API path: {request.path}"
        if not request.path.endswith("/"):
            try:
                match = resolve(request.path + "/")
            except Resolver404:
                match = None
            if match is not None and match.url_name != "unknown-path":
                detail += f" (did you mean {request.path}/ ?)"
        return api.create_response(request, error_body(detail), status=404)

    return unknown_path


def errors_install(api: NinjaAPI, *, challenge: str, no_credentials: str) -> None:
    """Answer every error the API's operations raise in the one shape."""

    def answer(request: HttpRequest, status: int, body: dict, headers: dict | None = None):
        response = api.create_response(request, body, status=status)
        for name, value in (headers or {}).items():
            response[name] = value
        return response

    @api.exception_handler(ApiError)
    def api_error(request: HttpRequest, error: ApiError) -> HttpResponse:
        return answer(request, error.status, error.body(), error.headers)

    @api.exception_handler(ValidationError)
    def invalid(request: HttpRequest, error: ValidationError) -> HttpResponse:
        errors = validation_errors(error)
        return answer(request, 422, error_body(validation_detail(errors), errors))

    @api.exception_handler(AuthenticationError)
    def authentication_failed(request: HttpRequest, error: AuthenticationError) -> HttpResponse:
        """401 with a challenge (RFC 9110): no credentials, or credentials that are wrong."""
        # ninja's own AuthenticationError (nothing matched) carries its default "Unauthorized".
        detail = no_credentials if type(error) is AuthenticationError else str(error)
        return answer(request, 401, error_body(detail), {"WWW-Authenticate": challenge})

    @api.exception_handler(PermissionDenied)
    def permission_denied(request: HttpRequest, error: PermissionDenied) -> HttpResponse:
        return answer(request, 403, error_body(str(error) or "permission denied"))

    @api.exception_handler(Http404)
    def not_found(request: HttpRequest, error: Http404) -> HttpResponse:
        return answer(request, 404, error_body(str(error) or "not found"))

    @api.exception_handler(RequestDataTooBig)
    def too_large(request: HttpRequest, error: RequestDataTooBig) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        detail = f"the body is over {limit} bytes (DATA_UPLOAD_MAX_MEMORY_SIZE)"
        return answer(request, 413, error_body(detail, [{"field": "body", "message": detail}]))

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, error: HttpError) -> HttpResponse:
        if isinstance(error.__cause__, BodyMalformed):
            message = str(error.__cause__)
            errors = [{"field": error.__cause__.field, "message": message}]
            return answer(request, 422, error_body(message, errors))
        return answer(request, error.status_code, error_body(str(error)))
