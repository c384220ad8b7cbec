"""Fault 10: hostile input against the deployed agent. No 5xx, no container touched that the
agent does not manage, and it keeps answering. Schema-driven fuzzing of every route runs
in-process in tests/agent/test_fuzz.py (schemathesis); this adds the shapes that only matter
on a real host: huge bodies, broken JSON, and names that try to reach other containers."""

from __future__ import annotations

import pytest
import requests

from tests.faults.support import KEY, load_image, record
from tests.support.deploy import inspect
from tests.support.images import TOOL_IMAGE

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

AUTH = {"Authorization": f"Bearer {KEY}"}
BYSTANDER = "fault-unmanaged"  # a container on the host that the agent did not create


def tool(name: str, image: str = TOOL_IMAGE) -> dict[str, str]:
    return {"dockerImageUrl": image, "instanceNameOnToolbox": name, "accountToolInstanceId": "x"}


HOSTILE = [
    ("POST", "/tools", {"json": tool("a" * (1 << 21))}),  # a 2 MB body
    ("POST", "/tools", {"data": b"x" * (3 << 20), "headers": {"Content-Type": "application/json"}}),
    (
        "POST",
        "/tools",
        {"data": b'{"dockerImageUrl": ', "headers": {"Content-Type": "application/json"}},
    ),
    ("POST", "/tools", {"json": [1, 2, 3]}),
    ("POST", "/tools", {"json": tool("outil-\u00e9t\u00e9-\U0001f6e0")}),
    ("POST", "/tools", {"json": tool("\u202e\u0000null")}),
    ("POST", "/tools", {"json": tool(f"../{BYSTANDER}")}),
    ("POST", "/tools", {"json": tool(BYSTANDER)}),  # the name is taken: 409, never adopted
    ("POST", f"/tools/{BYSTANDER}/stop", {}),
    ("POST", f"/tools/..%2f{BYSTANDER}/stop", {}),
    ("POST", f"/tools/%2e%2e%2f{BYSTANDER}/start", {}),
    ("POST", "/tools/%2e%2e/stop", {}),
    ("DELETE", f"/tools/{BYSTANDER}", {}),
    ("DELETE", f"/tools/..%2F..%2F{BYSTANDER}", {}),
    ("DELETE", "/tools/%C3%A9%F0%9F%9B%A0", {}),
    ("GET", "/../../etc/passwd", {}),
    ("GET", "/status?" + "q=1&" * 5000, {}),
]


def test_hostile_requests_get_no_5xx_and_touch_nothing_unmanaged(host, tool_image):
    load_image(host.box, tool_image)
    host.sh(f"docker rm -f {BYSTANDER}")
    started = host.sh(f"docker run -d --name {BYSTANDER} {tool_image}")
    assert started.returncode == 0, started.stderr
    before = inspect(host.box, BYSTANDER)
    answers = []
    try:
        for method, path, kwargs in HOSTILE:
            for headers in (AUTH, {}):
                merged = {**kwargs, "headers": {**kwargs.get("headers", {}), **headers}}
                answer = requests.request(
                    method, f"{host.box.agent_url}{path}", timeout=30, **merged
                )
                answers.append((method, path[:40], bool(headers), answer.status_code))
                assert answer.status_code < 500, (method, path[:60], answer.text[:300])
                assert KEY not in answer.text
        after = inspect(host.box, BYSTANDER)
        assert after["Id"] == before["Id"]
        assert (
            after["State"]["Running"]
            and after["State"]["StartedAt"] == before["State"]["StartedAt"]
        )
        assert requests.get(f"{host.box.agent_url}/health", timeout=5).status_code == 200
    finally:
        host.sh(f"docker rm -f {BYSTANDER}")
    print("\n" + "\n".join(f"{m:6} {p:40} auth={a!s:5} {code}" for m, p, a, code in answers))
    host.smoke()
    record("hostile API input", requests_sent=len(answers))
