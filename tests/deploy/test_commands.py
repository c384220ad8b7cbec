"""The remote commands, exactly as they will run: argv lists, no host needed."""

import shlex

from tasks.commands import docker, files, scripts
from tasks.commands.shell import chain, to_shell


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


def test_shell_quotes_each_argument_once():
    line = to_shell(chain(["docker", "rename", "a b", "c"], ["docker", "start", "c;rm"]))
    assert line == "docker rename 'a b' c && docker start 'c;rm'"


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
    # Who publishes a port is asked inside the survey script, once per port.
    assert "docker ps --filter \"publish=$port\" --format '{{.Names}}'" in scripts.SURVEY
    assert (
        to_shell(docker.remove_if_present("x y"))
        == "docker rm --force 'x y' >/dev/null 2>&1 || true"
    )


def test_private_file_is_created_under_umask_not_chmodded_later():
    assert (
        to_shell(files.create_private_file("/etc/dtma/x.tmp")) == "umask 077 && : > /etc/dtma/x.tmp"
    )
    argv = files.install_file("/etc/dtma/x.tmp", "/etc/dtma/dtma.env")
    assert argv[:2] == ["sh", "-c"] and argv[-2:] == ["/etc/dtma/x.tmp", "/etc/dtma/dtma.env"]
    assert "mv -f" in argv[2] and "chmod 600" in argv[2]


def test_lock_is_an_atomic_mkdir():
    assert to_shell(files.take_lock("/var/lib/dtma-deploy/lock")) == (
        "mkdir -p /var/lib/dtma-deploy && mkdir /var/lib/dtma-deploy/lock"
    )


def test_audit_line_survives_the_shell_intact():
    line = '{"a": "it\'s $HOME"}'
    command = to_shell(files.append_line("/var/log/dtma-deploy.log", line))
    words = shlex.split(command)
    assert words[:3] == ["printf", "%s\\n", line]
    assert words[-2:] == [">>", "/var/log/dtma-deploy.log"]
