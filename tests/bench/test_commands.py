"""The commands both pipelines run, built as data (no host)."""

import shlex
from pathlib import Path

from bench.baseline import GZIP_ARGV, build_argv, install_env_command, release_command, save_argv
from bench.contexts import MARKER, with_marker
from bench.host import Counters, count_ssh_argv, parse_counters, probe_argv
from bench.ours import fab_argv
from tasks.sandbox import Sandbox
from tasks.sandbox.droplet import KNOWN_HOSTS

A = Sandbox("dtma-bench-x-a", 42300, 42301, Path("/keys/a"))
B = Sandbox("dtma-bench-x-b", 42302, 42303, Path("/keys/b"))


def test_baseline_builds_with_the_local_base_and_ships_everything_compressed():
    assert build_argv("t:1", Path("/ctx"), "base:1") == [
        "docker", "build", "-q", "-t", "t:1", "--build-arg", "BASE_IMAGE=base:1", "/ctx",
    ]  # fmt: skip
    assert save_argv("t:1") == ["docker", "save", "t:1"]
    assert GZIP_ARGV == ["gzip", "-1"]


def test_baseline_release_replaces_the_container_as_the_issue_describes():
    stop, rm, run = (part.strip() for part in release_command("t:1").split(";"))
    assert stop.startswith("docker stop dtma") and rm.startswith("docker rm dtma")
    assert shlex.split(run) == [
        "docker", "run", "-d", "--restart", "unless-stopped", "--name", "dtma",
        "--env-file", "/etc/dtma-bench/dtma.env", "-p", "30000:30000",
        "-v", "/var/run/docker.sock:/var/run/docker.sock", "t:1",
    ]  # fmt: skip


def test_env_file_travels_on_stdin_into_a_root_only_file():
    command = install_env_command()
    assert "cat > /etc/dtma-bench/dtma.env" in command and "chmod 0600" in command


def test_fab_deploys_one_host_with_its_key_and_url():
    argv = fab_argv([A], Path("/tmp/e.env"), Path("/tmp/ctx"))
    assert argv[1:] == [
        "-H", "root@127.0.0.1:42300", "-i", "/keys/a", "deploy", "--env-file", "/tmp/e.env",
        "--verify-url", "http://127.0.0.1:42301", "--context", "/tmp/ctx",
        "--known-hosts", str(KNOWN_HOSTS),
    ]  # fmt: skip


def test_fab_deploys_several_hosts_in_one_command_with_a_url_each():
    argv = fab_argv([A, B], Path("e.env"), Path("ctx"))
    assert argv[argv.index("-H") + 1] == "root@127.0.0.1:42300,root@127.0.0.1:42302"
    assert [argv[i + 1] for i, arg in enumerate(argv) if arg == "-i"] == ["/keys/a", "/keys/b"]
    assert argv[argv.index("--verify-url") + 1] == (
        "root@127.0.0.1:42300=http://127.0.0.1:42301,root@127.0.0.1:42302=http://127.0.0.1:42303"
    )


def test_marker_line_is_added_once_then_replaced():
    first = with_marker("fastapi>=0.110\nuvicorn\n", "r1")
    assert first == f"fastapi>=0.110\nuvicorn\n{MARKER}r1\n"
    second = with_marker(first, "r2")
    assert second == f"fastapi>=0.110\nuvicorn\n{MARKER}r2\n"


def test_probe_runs_inside_the_droplet_with_its_interval():
    argv = probe_argv("dtma-bench-x-a", 30000, 0.05, 60)
    assert argv[:4] == ["docker", "exec", "-i", "dtma-bench-x-a"]
    assert argv[-3:] == ["30000", "0.05", "60"]


IPTABLES = """\
Chain INPUT (policy ACCEPT 0 packets, 0 bytes)
    pkts      bytes target     prot opt in     out     source               destination
     120    45000            tcp  --  eth0   *       0.0.0.0/0            0.0.0.0/0            tcp dpt:22 /* dtma-bench-ssh */
"""  # noqa: E501


def test_counters_read_rx_bytes_and_ssh_frames():
    counters = parse_counters("61000000\n" + IPTABLES)
    assert counters == Counters(rx_bytes=61_000_000, ssh_bytes=45_000 + 14 * 120)


def test_without_the_counting_rule_ssh_bytes_are_unknown():
    assert parse_counters("5000\n") == Counters(5000, None)


def test_counter_difference_is_what_a_deploy_received():
    assert Counters(9_000, 4_000) - Counters(1_000, 500) == Counters(8_000, 3_500)
    assert Counters(9_000, None) - Counters(1_000, 500) == Counters(8_000, None)


def test_ssh_counting_rule_is_added_only_when_missing():
    script = count_ssh_argv("d")[-1]
    check, _, insert = script.partition(" || ")
    assert check.startswith("iptables -w -C INPUT -i eth0 -p tcp --dport 22")
    assert insert.startswith("iptables -w -I INPUT -i eth0 -p tcp --dport 22")
