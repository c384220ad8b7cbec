"""`fab deploy` for one host against a fake runner: the argv sent, in order, for a fresh host,
for a host that already runs this release, and for a release that fails its verify."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tasks.commands import files, scripts
from tasks.errors import DeployError
from tasks.facts.container import RELEASED_LABEL
from tasks.steps import release
from tasks.steps.build import BuiltImage
from tasks.steps.deploy import run_deploy
from tasks.steps.report import DeployReport
from tests.support.agent_stub import AgentStub
from tests.support.fake_remote import FakeRemote, result
from tests.support.host_answers import (
    KEY,
    NO_SUCH_CONTAINER,
    inspect_answer,
    settings,
    settle_answer,
    survey_answer,
)
from tests.support.save_archive import FakeDockerClient, FakeImage

ENV_TEXT = f"DTMA_BEARER_TOKEN=t\nBACKEND_TO_DTMA_API_KEY={KEY}\nAGENTOPIA_API_BASE_URL=http://x\n"


@pytest.fixture(autouse=True)
def fixed_labels(monkeypatch):
    monkeypatch.setattr(
        release, "release_labels", lambda version: {"dtma.version": version, RELEASED_LABEL: "now"}
    )


@pytest.fixture
def context(tmp_path: Path) -> Path:
    """A build context outside git: its version is `unversioned`."""
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "dtma.env").write_text(ENV_TEXT)
    return tmp_path


def deploy_settings(context: Path, agent_url: str, **overrides):
    return settings(
        agent_url,
        context=str(context),
        env_file=str(context / "dtma.env"),
        reports_dir=str(context / "reports"),
        **overrides,
    )


def built_for(context: Path, image: FakeImage, platform: str = "") -> dict:
    """The run's build cache, holding the image as if built already (no Docker here) for
    `platform` (the local engine's own when not given)."""
    built = BuiltImage(
        ref=image.tags[0],
        version="unversioned",
        image_id=image.id,
        size=image.attrs["Size"],
        diff_ids=tuple(image.diff_ids),
        fingerprint=image.fingerprint,
        platform=platform or "linux/amd64",
    )
    return {(str(context), "Dockerfile", "unversioned", None, platform): built}


def env_sha() -> str:
    return hashlib.sha256(ENV_TEXT.encode()).hexdigest()


def kinds(remote: FakeRemote) -> list[str]:
    """Each command sent, named by its first words (scripts by what they are)."""
    names = {
        scripts.SURVEY: "survey",
        scripts.SETTLE_PROBE: "settle",
        scripts.HOST_LAYERS: "layers",
        scripts.WAIT_LISTENING: "wait port",
        scripts.LOAD_STAGED: "load",
    }
    out = []
    for argv in remote.sent:
        if argv[:2] == ["sh", "-c"] and argv[2] in names:
            out.append(names[argv[2]])
        else:
            first, second = argv[0], argv[1] if len(argv) > 1 else ""
            out.append(f"{first} <staged>" if "/ship-" in second else f"{first} {second}".strip())
    return out


def fresh_host(image: FakeImage, **survey: str) -> FakeRemote:
    """A host with nothing of ours, answering a whole deploy of `image` (which it lacks until
    the load)."""
    remote = FakeRemote()
    remote.answer("sh", "-c", scripts.SURVEY, with_=survey_answer(**survey))
    loaded = f"Loaded image\nidentity={image.inspected()}"
    remote.answer("sh", "-c", scripts.LOAD_STAGED, with_=result(loaded))
    remote.answer(
        "df", "-PB1", with_=result("Filesystem 1 U Available C M\nx 1 0 999999999 0% /\n")
    )
    remote.answer("sh", "-c", files.install_file("a", "b")[2], with_=result(f"{env_sha()}  x\n"))
    remote.answer("docker", "container", "inspect", with_=NO_SUCH_CONTAINER)
    remote.answer("sh", "-c", scripts.SETTLE_PROBE, with_=settle_answer("dtma"))
    return remote


def test_fresh_host_gets_every_step_in_order(context):
    image = FakeImage("dtma:unversioned", [b"base" * 100, b"code"])
    remote = fresh_host(image)
    with AgentStub(key=KEY, version="unversioned") as agent:
        remote.tunnel_url = agent.url
        rep = DeployReport(host=remote.host)
        s = deploy_settings(context, agent.url)
        run_deploy(
            remote,
            s,
            rep,
            build_cache=built_for(context, image),
            docker_client=FakeDockerClient(image),
        )
    assert rep.outcome == "deployed" and rep.layers_sent == rep.layers_total == 2
    # Every command, file and tunnel is counted: in the step it served, and in all.
    writes = len(remote.sent) + len(remote.uploads) + len(remote.tunneled) + len(remote.files)
    assert rep.total_exchanges == writes
    assert sum(rep.exchanges.values()) == writes - 3  # the lock's take and release, the audit
    assert rep.exchanges["check"] == 1 and rep.exchanges["ship"] == 3  # stage, upload, load
    # Every check that presents the key goes through SSH: the candidate's port, then the agent's
    # (the switch between them is checked on the host).
    assert remote.tunneled == [30001, 30000]
    sent = kinds(remote)
    # verify: the public port is the agent's own before the key goes there, and beside that
    # check, Docker's (stable, healthy)
    assert sorted(sent[15:17]) == ["settle", "wait port"]
    assert sent[:15] + sent[17:] == [
        "survey",
        "mkdir -p",  # the lock, taken and signed
        "layers",  # the plan: which layer chains the host holds
        # the survey said the host lacks this image
        "mkdir -p",  # the stage dir, cleared, its free space
        "load",  # after the SFTP upload: checksum, rename, load, remove, read back, in one
        # no `docker tag`: the image has no tag but the one the archive carries
        "sha256sum /etc/dtma/dtma.env",  # env: not this one on the host yet
        "install -d",  # so: private dir and file, then the SFTP write
        "sh -c",  # installed atomically, its sha256 read back
        "docker container",  # candidate: is there an agent to hand over from? no
        "docker rm",  # candidate: created and started
        "wait port",  # its check port listens: the tunnel can open
        "settle",
        "sh -c",  # the candidate promoted: it takes the public port
        "wait port",  # the public port listens
        "docker rename",  # and the agent's name
        "flock /var/lib/dtma-deploy/lock.guard",  # the lock, released only if still this take's
        "printf %s\\n",  # the audit line
    ]


def test_host_already_running_this_release_is_only_verified(context):
    image = FakeImage("dtma:unversioned", [b"base"])
    running = f"{image.id} true dtma:unversioned healthy"
    survey = survey_answer(
        running=running, target=image.survey_target(), env=env_sha(), publish30000="dtma "
    )
    remote = FakeRemote().answer("sh", "-c", scripts.SURVEY, with_=survey)
    with AgentStub(key=KEY, version="unversioned") as agent:
        remote.tunnels[30000] = agent.url
        rep = DeployReport(host=remote.host)
        run_deploy(
            remote, deploy_settings(context, agent.url), rep, build_cache=built_for(context, image)
        )
    assert rep.outcome == "already up to date" and rep.bytes_sent == 0
    assert remote.tunneled == [30000]  # the key is presented only through SSH
    assert kinds(remote) == ["survey", "wait port", "printf %s\\n"]


def test_release_that_fails_verify_is_rolled_back(context):
    image = FakeImage("dtma:unversioned", [b"base"])
    remote = FakeRemote()
    # The host holds the image already (nothing to send) and runs v1.
    running = "sha256:old true dtma:v1 healthy"
    survey = survey_answer(running=running, target=image.survey_target(), publish30000="dtma ")
    remote.answer("sh", "-c", scripts.SURVEY, with_=survey)
    remote.answer("sh", "-c", files.install_file("a", "b")[2], with_=result(f"{env_sha()}  x\n"))
    remote.answer("inspect", "dtma-previous", with_=inspect_answer("dtma-previous", version="v1"))
    remote.answer("inspect", "dtma", with_=inspect_answer("dtma", version="v1"))
    remote.answer("sh", "-c", scripts.SETTLE_PROBE, with_=settle_answer("dtma"))
    new = AgentStub(key=KEY, version="unversioned")
    # What answers on the public port after the switch is still v1: the verify must fail.
    with new as candidate, AgentStub(key=KEY, version="v1") as public:
        remote.tunnels = {30001: candidate.url, 30000: public.url}
        rep = DeployReport(host=remote.host)
        cache = built_for(context, image)
        with pytest.raises(DeployError) as failure:
            run_deploy(
                remote,
                deploy_settings(context, public.url),
                rep,
                build_cache=cache,
                docker_client=FakeDockerClient(image),
            )
    assert rep.outcome == "rolled back"
    assert failure.value.hint == "rolled back to dtma:v1"
    sent = kinds(remote)
    # Each verify (the release's, the restored agent's): the port's owner, then the keyed
    # checks, and beside them Docker's (stable, healthy).
    assert sorted(sent[14:16]) == sorted(sent[20:22]) == ["settle", "wait port"]
    assert sent[:14] + sent[16:20] + sent[22:] == [
        "survey",
        "mkdir -p",
        "layers",
        # the survey said the host holds the image: nothing is sent
        "sha256sum /etc/dtma/dtma.env",
        "install -d",
        "sh -c",
        "docker container",  # v1 publishes its port itself (an earlier kind)
        "docker rm",
        "wait port",
        "settle",
        "sh -c",  # the candidate promoted
        "docker stop",  # so v1 stops first, then the candidate binds
        "wait port",
        "docker rm",  # v1 is set aside as dtma-previous, the candidate takes the name
        "docker logs",  # verify failed: the failed agent's logs
        "docker container",  # is there a previous release?
        "docker rm",  # v1 is of the kind that publishes: back in its own shape
        "docker container",
        "flock /var/lib/dtma-deploy/lock.guard",
        "printf %s\\n",
    ]


def test_a_host_of_another_platform_gets_the_image_built_for_it(context, monkeypatch):
    """The host says aarch64: the image is built again for linux/arm64 (tagged so) and that
    one is shipped; the amd64 one built first is left here."""
    local = FakeImage("dtma:unversioned", [b"base", b"code"])
    arm = FakeImage("dtma:unversioned-arm64", [b"arm base", b"code"])
    cache = built_for(context, local)
    cache.update(built_for(context, arm, "linux/arm64"))
    remote = fresh_host(arm, machine="aarch64")
    with AgentStub(key=KEY, version="unversioned") as agent:
        remote.tunnel_url = agent.url
        rep = DeployReport(host=remote.host)
        s = deploy_settings(context, agent.url)
        run_deploy(remote, s, rep, build_cache=cache, docker_client=FakeDockerClient(local, arm))
    assert rep.outcome == "deployed" and rep.new_image == "dtma:unversioned-arm64"
    surveys = [argv for argv in remote.sent if argv[:3] == ["sh", "-c", scripts.SURVEY]]
    assert [argv[5] for argv in surveys] == ["dtma:unversioned", "dtma:unversioned-arm64"]


def test_a_platform_the_local_engine_cannot_build_is_refused_before_anything_changes(
    context, monkeypatch
):
    from tasks import images

    def cannot(*args, **kwargs):
        assert kwargs["platform"] == "linux/arm64"
        raise images.ImageBuildFailed("no match for platform in manifest: not found")

    monkeypatch.setattr(images, "build_agent_image", cannot)
    image = FakeImage("dtma:unversioned", [b"base"])
    cache = built_for(context, image)
    remote = FakeRemote()
    remote.answer("sh", "-c", scripts.SURVEY, with_=survey_answer(machine="aarch64"))
    rep = DeployReport(host=remote.host)
    with pytest.raises(DeployError) as refused:
        run_deploy(remote, deploy_settings(context, "http://127.0.0.1:9"), rep, build_cache=cache)
    message = str(refused.value)
    assert refused.value.step == "build" and "linux/arm64" in message
    assert "cannot build it" in message and "nothing was changed" in message
    assert kinds(remote) == ["survey"]  # read, nothing written (not even the audit line)
