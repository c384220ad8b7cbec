"""The one error type: one line naming host, step, cause and what to do."""

from tasks.errors import DeployError


def test_ship_error_is_one_line_with_host_step_cause_and_hint():
    err = DeployError("root@h:22", "disk", "/var/tmp has 1.0 MB free", "free space")
    assert str(err) == "root@h:22: disk failed: /var/tmp has 1.0 MB free -> free space"
    assert "\n" not in str(err)
