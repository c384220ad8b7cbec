"""Agentopia's provisioning as the stand-in writes it, without an engine: the two lines, the
token file, and image tags that change exactly when what the images are made of changes."""

from __future__ import annotations

import shutil
import stat

from tasks import envfile
from tasks.sandbox import agentopia, agentopia_images
from tasks.sandbox.agentopia_images import BACKEND, OLD_AGENT


def test_the_two_lines_are_agentopias():
    tokens = agentopia.new_tokens()
    manager = agentopia.manager_line(tokens, "OLD")
    assert manager[:4] == ["docker", "run", "-d", "--name"]
    joined = " ".join(manager)
    for part in (
        "--name dtma_manager --restart always -p 30000:30000",
        "-v /var/run/docker.sock:/var/run/docker.sock",
        "--log-driver json-file --log-opt max-size=10m --log-opt max-file=3 OLD",
    ):
        assert part in joined
    assert {arg.partition("=")[0] for arg in manager if "=" in arg and arg[0].isupper()} == set(
        agentopia.TOKEN_NAMES
    )
    backend = " ".join(agentopia.backend_line(tokens, "BACKEND"))
    assert "--name agentopia_backend --restart always -p 3000:3000" in backend
    assert "--link dtma_manager:dtma -e DTMA_URL=http://dtma:30000" in backend
    assert backend.endswith(" BACKEND")


def test_errors_never_carry_a_token():
    tokens = agentopia.new_tokens()
    line = (
        f"docker: bad value {tokens['DTMA_BEARER_TOKEN']} near {tokens['BACKEND_TO_DTMA_API_KEY']}"
    )
    assert agentopia.masked(line, tokens) == "docker: bad value *** near ***"


def test_token_file_is_0600_and_in_the_deploys_env_file_format(tmp_path):
    tokens = agentopia.new_tokens()
    path = tmp_path / "box" / "agentopia.env"
    agentopia.write_env_file(path, tokens)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert envfile.load(path).values == tokens  # what `fab deploy --env-file` accepts
    assert agentopia.read_tokens(path) == tokens
    assert agentopia.new_tokens() != tokens  # fresh per droplet


def test_image_tags_follow_their_sources(tmp_path, monkeypatch):
    tags = {OLD_AGENT["serving"].tag(), OLD_AGENT["crashloop"].tag(), BACKEND.tag()}
    assert len(tags) == 3
    assert OLD_AGENT["serving"].tag() in tags  # stable: same sources, same tag
    copy = tmp_path / "agentopia"
    shutil.copytree(agentopia_images.SOURCE_DIR, copy)
    monkeypatch.setattr(agentopia_images, "SOURCE_DIR", copy)
    assert {image.tag() for image in (*OLD_AGENT.values(), BACKEND)} == tags
    with (copy / "old-agent-http").open("a") as script:
        script.write("# changed\n")
    assert OLD_AGENT["serving"].tag() not in tags
    assert BACKEND.tag() not in tags  # one rootfs holds every script
