"""What `fab publish` concludes without an engine: the target named, the digest reference and
Agentopia's line, each registry refusal in one line, the layers said as the push goes."""

from __future__ import annotations

import pytest

from tasks.steps.publish import Published, Target, layer_said, parse_target, registry_refused

DIGEST = "sha256:" + "d" * 64


@pytest.mark.parametrize(
    ("text", "repository", "tag", "registry"),
    [
        ("ghcr.io/me/dtma", "ghcr.io/me/dtma", "v1", "ghcr.io"),
        ("ghcr.io/me/dtma:2.0", "ghcr.io/me/dtma", "2.0", "ghcr.io"),
        ("reg.example:5000/team/dtma", "reg.example:5000/team/dtma", "v1", "reg.example:5000"),
        ("172.17.0.1:443/t/d:x", "172.17.0.1:443/t/d", "x", "172.17.0.1:443"),
        ("me/dtma", "me/dtma", "v1", "docker.io"),
        ("localhost/dtma", "localhost/dtma", "v1", "localhost"),
        ("Registry.DigitalOcean.com/Team/DTMA", "registry.digitalocean.com/team/dtma", "v1",
         "registry.digitalocean.com"),
    ],
)  # fmt: skip
def test_a_target_names_its_registry_repository_and_tag(text, repository, tag, registry):
    target = parse_target(text, "v1")
    assert (target.repository, target.tag, target.registry) == (repository, tag, registry)


@pytest.mark.parametrize("text", ["", "ghcr.io/me/dtma@" + DIGEST, "ghcr.io/me dtma", "a;b"])
def test_what_is_no_target_is_refused(text):
    with pytest.raises(ValueError, match="is not REGISTRY/REPO"):
        parse_target(text, "v1")


def test_the_digest_reference_and_the_line_that_makes_agentopia_use_it():
    published = Published(Target("registry.digitalocean.com/team/dtma", "v1"), DIGEST)
    assert published.reference == f"registry.digitalocean.com/team/dtma@{DIGEST}"
    assert published.agentopia_line == (
        f"supabase secrets set DTMA_DOCKER_IMAGE_URL=registry.digitalocean.com/team/dtma@{DIGEST}"
    )


def test_refused_credentials_say_docker_login_and_nothing_pushed():
    said = "unauthorized: authentication required"
    error = registry_refused(Target("ghcr.io/me/dtma", "v1"), f"progress\n{said}\n")
    assert error.host == "local" and error.step == "publish"
    assert error.cause == f"registry ghcr.io refused the push: {said}"
    assert "docker login ghcr.io" in error.hint and "nothing was pushed" in error.hint


def test_an_unreachable_or_untrusted_registry_says_where_its_ca_goes():
    said = "Get https://reg:5000/v2/: x509: certificate signed by unknown authority"
    error = registry_refused(Target("reg:5000/t/dtma", "v1"), said)
    assert error.cause == f"cannot push to registry reg:5000: {said}"
    assert "/etc/docker/certs.d/reg:5000/ca.crt" in error.hint


@pytest.mark.parametrize(
    ("event", "said"),
    [
        ({"status": "Pushed", "id": "a1"}, "sent"),
        ({"status": "Layer already exists", "id": "a1"}, "already there"),
        ({"status": "Mounted from team/other", "id": "a1"}, "mounted"),
        ({"status": "Pushing", "progressDetail": {"current": 1}}, ""),
        ({"status": "Preparing"}, ""),
        ({"aux": {"Digest": DIGEST}}, ""),
    ],
)
def test_each_layer_is_said_once_it_is_done(event, said):
    assert layer_said(event) == said
