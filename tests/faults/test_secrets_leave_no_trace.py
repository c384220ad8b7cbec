"""Fault 9: after the matrix's deploys (one at --echo -d), the token and the backend key appear
nowhere but in the host's 0600 env file and the container's environment. Runs last in the
folder so that it searches what every other fault left behind."""

from __future__ import annotations

import json

import pytest

from tests.faults.support import KEY, TOKEN, record
from tests.support.contexts import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

SECRETS = {"token": TOKEN, "backend key": KEY}


def leaks(places: dict[str, str]) -> list[str]:
    """Where a secret shows up, by name only: a failing test must not print it either."""
    return [
        f"{name} in {where}"
        for where, text in places.items()
        for name, value in SECRETS.items()
        if value in text
    ]


def test_secrets_appear_nowhere_but_the_env_file(host):
    env_run = host.fab("env", "--env-file", str(host.env_file), core=("--echo", "-d"))
    assert env_run.returncode == 0, env_run.stderr[-2000:]
    for task in ("status", "logs", "releases"):
        assert (
            host.fab(task, "--verify-url", host.box.agent_url)
            if task == "status"
            else host.fab(task)
        )
    places = {f"fab output #{i}": text for i, text in enumerate(host.outputs)}
    safe = host.box.host.replace("@", "_").replace(":", "_")
    for report in (ROOT / "reports").glob(f"{safe}-*.json"):
        places[f"report {report.name}"] = report.read_text()
    images = host.sh("docker images dtma --format '{{.ID}}'").stdout.split()
    assert images
    remote = {
        "audit log": "cat /var/log/dtma-deploy.log",
        "docker inspect of the images": f"docker image inspect {' '.join(images)}",
        "image history": " ; ".join(f"docker history --no-trunc {i}" for i in set(images)),
        "agent logs": "docker logs dtma 2>&1",
        "inner engine log": "cat /var/log/dockerd.log",
        "staging dir": "ls -la /var/tmp/dtma-deploy 2>&1",
    }
    for where, command in remote.items():
        places[where] = host.sh(command).stdout
    # Every layer's files: the running image's saved archive, searched on the host itself.
    image = json.loads(host.sh("docker inspect dtma").stdout)[0]["Image"]
    in_layers = []
    for name, value in SECRETS.items():
        # Prints the match count, then docker save's own exit status (0: the archive was read).
        found = host.sh(f"docker save {image} | grep -c -a -F {value}; echo ${{PIPESTATUS[0]}}")
        assert found.stdout.split()[1:] == ["0"], "docker save failed"
        if found.stdout.split()[0] != "0":
            in_layers.append(f"{name} in the layers of {image[7:19]}")
    assert sum(len(text) for text in places.values()) > 10_000  # the search had material
    assert leaks(places) + in_layers == []
    # The control: the secrets did reach the host, where they belong (0600 root).
    env_on_host = host.sh("stat -c %a /etc/dtma/dtma.env; cat /etc/dtma/dtma.env").stdout
    assert env_on_host.startswith("600\n") and leaks({"env file": env_on_host}) == [
        "token in env file",
        "backend key in env file",
    ]
    host.smoke()
    record("secrets", places_searched=len(places), fab_outputs=len(host.outputs) // 2)
