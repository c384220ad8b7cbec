"""Docker commands exactly as they will run: argv lists, no host needed."""

from tasks.commands import docker
from tasks.commands.shell import to_shell


def test_create_builds_the_agent_container_exactly():
    argv = docker.create(
        "dtma",
        "dtma:abc123",
        env_file="/etc/dtma/dtma.env",
        publish="30000:30000",
        labels={"dtma.version": "abc123", "dtma.deployed_by": "me@here"},
    )
    assert argv == [
        "docker",
        "create",
        "--name",
        "dtma",
        "--restart",
        "unless-stopped",
        "--env-file",
        "/etc/dtma/dtma.env",
        "-p",
        "30000:30000",
        "-v",
        "/var/run/docker.sock:/var/run/docker.sock",
        "--log-driver",
        "json-file",
        "--log-opt",
        "max-size=10m",
        "--log-opt",
        "max-file=3",
        "--label",
        "dtma.deployed_by=me@here",
        "--label",
        "dtma.version=abc123",
        "dtma:abc123",
    ]


def test_candidate_binds_loopback_and_never_restarts():
    argv = docker.create(
        "dtma-candidate", "dtma:x", env_file="/e", publish="127.0.0.1:30001:30000", restart="no"
    )
    assert argv[argv.index("-p") + 1] == "127.0.0.1:30001:30000"
    assert argv[argv.index("--restart") + 1] == "no"


def test_simple_builders():
    assert docker.stop("dtma-previous") == ["docker", "stop", "--time", "10", "dtma-previous"]
    assert docker.rename("dtma", "dtma-previous") == ["docker", "rename", "dtma", "dtma-previous"]
    assert docker.logs("dtma", tail=50) == ["docker", "logs", "--tail", "50", "dtma"]
    assert docker.logs("dtma", 5, follow=True) == [
        "docker",
        "logs",
        "--tail",
        "5",
        "--follow",
        "dtma",
    ]
    assert (
        to_shell(docker.remove_if_present("x y"))
        == "docker rm --force 'x y' >/dev/null 2>&1 || true"
    )


def test_healthcheck_command_runs_as_docker_would():
    shell_form = ["CMD-SHELL", "curl -f http://127.0.0.1/ || exit 1"]
    assert docker.healthcheck_exec("dtma", shell_form, 3) == [
        "timeout", "3", "docker", "exec", "dtma", "/bin/sh", "-c", shell_form[1],
    ]  # fmt: skip
    exec_form = ["CMD", "/opt/venv/bin/python", "-c", "print(1)"]
    assert docker.healthcheck_exec("dtma", exec_form, 2.5) == [
        "timeout", "2.5", "docker", "exec", "dtma", "/opt/venv/bin/python", "-c", "print(1)",
    ]  # fmt: skip
    for none in ([], ["NONE"], ["CMD"], ["CMD-SHELL"]):
        assert docker.healthcheck_exec("dtma", none, 3) is None


def test_a_container_is_stopped_before_its_restart_policy_changes():
    """A crash-looping container caught between two runs refuses a policy update ("cannot
    update a stopped container: unknown", seen adopting Agentopia's crash-looping agent); a
    container stopped first always takes it, and the stop already ends the loop."""
    assert docker.stop_for_good("dtma_manager") == [
        "docker", "stop", "--time", "10", "dtma_manager", "&&",
        "docker", "update", "--restart", "no", "dtma_manager",
    ]  # fmt: skip
