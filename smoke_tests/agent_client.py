"""HTTP to the agent, with failures named the way an operator fixes them."""

from __future__ import annotations

import errno
import json
from dataclasses import dataclass
from typing import Any

import requests

from smoke_tests.promises import clip
from smoke_tests.settings import SmokeSettings

NO_BODY = object()


class AgentUnreachable(Exception):
    """No HTTP answer at all; the message says what that usually means."""


@dataclass(frozen=True)
class Answer:
    method: str
    path: str
    status: int
    seconds: float
    content_type: str
    text: str

    @property
    def is_json(self) -> bool:
        return self.content_type.split(";")[0].strip().lower() == "application/json"

    def json(self) -> Any:
        """The parsed body, or NO_BODY when it is not JSON."""
        try:
            return json.loads(self.text)
        except ValueError:
            return NO_BODY

    def brief(self, limit: int = 200) -> str:
        body = clip(self.text, limit)
        kind = self.content_type or "no content type"
        return f"{self.method} {self.path} -> HTTP {self.status} ({kind}): {body}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class AgentClient:
    """One session to the agent. A timeout is remembered: later calls fail at once, so an
    unreachable host costs one timeout, not one per test."""

    def __init__(self, settings: SmokeSettings):
        self.settings = settings
        self.session = requests.Session()
        self.session.trust_env = False  # a proxy from the environment would hide the agent
        self._timed_out: str | None = None

    def close(self) -> None:
        self.session.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        json_body: Any = None,
        timeout: float | None = None,
    ) -> Answer:
        """`timeout` overrides --timeout for slow steps (a pull, a stop) and always asks."""
        if self._timed_out and timeout is None:
            raise AgentUnreachable(f"{self._timed_out} (not asked again after that)")
        timeout = timeout or self.settings.timeout
        url = self.settings.base_url + path
        try:
            resp = self.session.request(
                method, url, headers=headers or {}, json=json_body, timeout=timeout
            )
        except requests.Timeout:
            reason = (
                f"timeout: {method} {url} got no answer within {timeout:g} s "
                "— a firewall dropping the port? the host down or overloaded?"
            )
            if timeout == self.settings.timeout:
                self._timed_out = reason
            raise AgentUnreachable(reason) from None
        except requests.ConnectionError as exc:
            raise AgentUnreachable(describe_connection_error(exc, url)) from None
        return Answer(
            method=method,
            path=path,
            status=resp.status_code,
            seconds=resp.elapsed.total_seconds(),
            content_type=resp.headers.get("Content-Type", ""),
            text=resp.text,
        )

    def get(self, path: str, headers: dict[str, str] | None = None) -> Answer:
        return self.call("GET", path, headers=headers)

    def with_key(
        self, method: str, path: str, json_body: Any = None, timeout: float | None = None
    ) -> Answer:
        """A request as the backend sends it: `Authorization: Bearer <backend key>`."""
        headers = bearer(self.settings.api_key)
        return self.call(method, path, headers=headers, json_body=json_body, timeout=timeout)


def describe_connection_error(exc: BaseException, url: str) -> str:
    """Connection refused / DNS / TLS / reset, each with what to look at."""
    cause: BaseException | None = exc
    seen: set[int] = set()
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, ConnectionRefusedError) or getattr(cause, "errno", None) == (
            errno.ECONNREFUSED
        ):
            return (
                f"connection refused at {url}: nothing is listening on that port "
                "— wrong port (the agent must listen on 30000)? container down or crash-looping?"
            )
        if isinstance(cause, ConnectionResetError):
            return f"connection reset at {url}: something accepted and dropped the connection"
        cause = cause.__cause__ or cause.__context__ or _first_arg_exception(cause)
    text = str(exc)
    if "Name or service not known" in text or "getaddrinfo" in text:
        return f"cannot resolve the host of {url}: check --host"
    if isinstance(exc, requests.exceptions.SSLError):
        return f"TLS failed at {url}: is the agent behind https? try --scheme http ({exc})"
    return f"cannot connect to {url}: {exc}"


def _first_arg_exception(exc: BaseException) -> BaseException | None:
    # urllib3 wraps the socket error in its exception's args, not in __cause__.
    for arg in getattr(exc, "args", ()):
        if isinstance(arg, BaseException):
            return arg
    reason = getattr(exc, "reason", None)
    return reason if isinstance(reason, BaseException) else None
