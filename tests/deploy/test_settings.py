"""One settings object: defaults <- fabric.yaml <- DTMA_DEPLOY_* <- flags."""

import re

import pytest

from tasks.settings import DeploySettings, SettingsError, merge


def test_defaults():
    s = merge()
    assert (s.env_file, s.port, s.candidate_port, s.keep_releases) == (".env", 30000, 30001, 3)
    assert (s.lock_ttl, s.verify_timeout, s.full) == (900.0, 60.0, False)
    assert s.previous == "dtma-previous" and s.candidate == "dtma-candidate"


def test_each_layer_overrides_the_one_before():
    config = {"env_file": "conf.env", "keep_releases": 5, "verify_timeout": 10, "full": True}
    environ = {"DTMA_DEPLOY_ENV_FILE": "environ.env", "DTMA_DEPLOY_KEEP_RELEASES": "7"}
    cli = {"env_file": "cli.env", "verify_timeout": None}
    s = merge(config, environ, cli)
    assert s.env_file == "cli.env"  # flag beats environment beats config
    assert s.keep_releases == 7  # environment beats config
    assert s.verify_timeout == 10.0  # a flag left at None does not override
    assert s.full is True


def test_environment_values_are_typed():
    s = merge(environ={"DTMA_DEPLOY_FULL": "yes", "DTMA_DEPLOY_LOCK_TTL": "60", "OTHER": "x"})
    assert s.full is True and s.lock_ttl == 60.0


def test_restart_anyway_is_off_unless_asked():
    assert merge().restart_anyway is False
    assert merge(environ={"DTMA_DEPLOY_RESTART_ANYWAY": "1"}).restart_anyway is True
    assert merge(config={"restart-anyway": "no"}, cli={"restart_anyway": True}).restart_anyway


def test_bad_values_and_unknown_keys_are_named():
    with pytest.raises(SettingsError, match="keep_releases"):
        merge(environ={"DTMA_DEPLOY_KEEP_RELEASES": "many"})
    with pytest.raises(SettingsError, match="colour"):
        merge(config={"colour": "blue"})


def test_settings_are_frozen_and_hide_the_key():
    s = DeploySettings().with_backend_key("s3cret-value")
    assert "s3cret-value" not in repr(s)
    with pytest.raises(AttributeError):
        s.port = 1  # type: ignore[misc]


def test_agent_url_default_single_and_per_host():
    assert merge().agent_url("root@droplet", "droplet") == "http://droplet:30000"
    single = merge(cli={"verify_url": "http://127.0.0.1:30100/"})
    assert single.agent_url("anything", "h") == "http://127.0.0.1:30100"
    per_host = merge(
        cli={"verify_url": "root@a:22=http://127.0.0.1:1,root@b:22=http://127.0.0.1:2"}
    )
    assert per_host.agent_url("root@b:22", "b") == "http://127.0.0.1:2"
    with pytest.raises(SettingsError, match="root@c"):
        per_host.agent_url("root@c", "c")


@pytest.mark.parametrize(
    ("setting", "value", "said"),
    [
        ("verify_timeout", "nan", "'verify_timeout': nan is not a finite number of seconds"),
        ("lock_ttl", "inf", "'lock_ttl': inf is not a finite"),
        ("health_timeout", "0", "'health_timeout': 0.0 is not a finite number of seconds above 0"),
        ("settle_seconds", "-1", "'settle_seconds': -1.0 is not 0 or more"),
        ("port", "70000", "'port': 70000 is not a port"),
        ("candidate_port", "30000", "'port' and 'candidate_port' are both 30000"),
        ("keep_releases", "0", "'keep_releases': 0 must be 1 or more"),
        ("lock_dir", "/etc", "'lock_dir': '/etc' must be an absolute path inside a directory"),
        ("lock_dir", "relative/dtma/lock", "'lock_dir'"),
        ("stage_dir", "/var/tmp/dtma/../../etc", "'stage_dir'"),
        ("stage_dir", "/tmp", "'stage_dir': '/tmp'"),
        # The env file's directory is made 0700: /etc/dtma.env would close /etc to all but root.
        ("remote_env_file", "/etc/dtma.env", "'remote_env_file': '/etc/dtma.env' must be"),
        ("remote_env_file", "/etc/dtma/../x.env", "'remote_env_file'"),
        # The audit log is appended to: never a file not named for this tool.
        ("audit_log", "/etc/passwd", "'audit_log': '/etc/passwd' must be"),
        ("audit_log", "/var/lib/dtma/../../../etc/passwd", "'audit_log'"),
        # A registry is REGISTRY/REPO[:TAG]; hosts pull by the digest the push gives.
        ("registry", "dtma", "'registry': 'dtma' is not REGISTRY/REPO[:TAG]"),
        ("registry", "reg.io/team/dtma@sha256:ab", "'registry'"),
        ("registry", "reg.io/team dtma", "'registry'"),
    ],
)
def test_values_that_cannot_work_are_refused_one_line_each(setting, value, said):
    with pytest.raises(SettingsError, match=re.escape(said)):
        merge(environ={f"DTMA_DEPLOY_{setting.upper()}": value})


def test_a_registry_may_name_a_port_and_a_tag():
    for value in ("reg.example:5000/team/dtma", "ghcr.io/me/dtma:v2", "me/dtma"):
        assert merge(cli={"registry": value}).registry == value


def test_the_default_files_and_folders_are_the_tools_own():
    s = merge()
    assert (s.remote_env_file, s.audit_log) == ("/etc/dtma/dtma.env", "/var/log/dtma-deploy.log")


def test_every_bad_value_gets_its_own_line():
    with pytest.raises(SettingsError) as refused:
        merge(cli={"verify_timeout": "nan", "port": 0, "lock_dir": "/"})
    assert len(str(refused.value).splitlines()) == 3


def test_fleet_settings_default_to_one_host_at_a_time():
    s = merge()
    assert (s.canary, s.parallel, s.on_failure, s.smoke) == (1, 1, "stop", False)
    assert s.connect_timeout < 15 and s.host_deadline == 1800.0
    s = merge(
        config={"parallel": 3, "on-failure": "rollback-all"},
        environ={"DTMA_DEPLOY_CANARY": "2", "DTMA_DEPLOY_SMOKE": "yes"},
    )
    assert (s.canary, s.parallel, s.on_failure, s.smoke) == (2, 3, "rollback-all", True)


def test_fleet_settings_out_of_range_are_named():
    bad = {"canary": "-1", "parallel": "0", "on_failure": "retry", "connect_timeout": "0"}
    with pytest.raises(SettingsError) as failed:
        merge(cli=bad)
    message = str(failed.value)
    assert "'canary': -1 must be 0 or more" in message
    assert "'parallel': 0 must be 1 or more" in message
    assert "'on_failure': 'retry' is not one of stop, rollback-all" in message
    assert "'connect_timeout': 0.0 is not a finite number" in message


def test_smoke_needs_a_local_env_file_not_the_hosts():
    with pytest.raises(SettingsError, match="'smoke' and 'env_from_host'"):
        merge(cli={"smoke": True, "env_from_host": True})
