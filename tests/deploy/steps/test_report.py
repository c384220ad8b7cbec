"""The deploy report: its table, JSON and audit line."""

import json

from tasks.steps.report import DeployReport, audit_line, file_name, render, write


def make_report() -> DeployReport:
    rep = DeployReport(host="root@10.0.0.1:22", version="abc", outcome="deployed", started_at=0.0)
    rep.phases = {"build": 1.5, "ship": 2.25}
    rep.bytes_sent, rep.image_bytes = 2_200, 308_000_000
    rep.layers_total, rep.layers_sent = 9, 1
    rep.old_image, rep.new_image = "dtma:old", "dtma:abc"
    rep.verify = "ok"
    rep.env_sha256 = "f" * 64
    return rep


def test_render_table():
    text = render(make_report())
    assert text.splitlines() == [
        "deploy root@10.0.0.1:22: deployed",
        "build          1.50 s",
        "ship           2.25 s",
        "total          3.75 s",
        "sent       2.2 KB of 308.0 MB (0.00%)",
        "layers     8 of 9 reused",
        "image      dtma:old -> dtma:abc",
        "verify     ok",
    ]


def test_a_pulled_release_names_what_it_pulled():
    rep = make_report()
    rep.bytes_sent, rep.pulled_from = 0, "reg.example/team/dtma@sha256:" + "a" * 64
    lines = render(rep).splitlines()
    assert "sent       0 B of 308.0 MB (0.00%)" in lines
    assert f"pulled     {rep.pulled_from}" in lines
    assert rep.to_dict()["pulled_from"] == rep.pulled_from


def test_exchanges_with_the_host_per_step_and_in_all():
    rep = make_report()
    rep.exchanges = {"build": 0, "ship": 7}
    lines = render(rep).splitlines()
    assert lines[1:4] == [
        "build          1.50 s    0 exchanges",
        "ship           2.25 s    7 exchanges",
        "total          3.75 s    7 exchanges",
    ]
    assert rep.to_dict()["total_exchanges"] == 7


def test_json_report_and_audit_line(tmp_path):
    path = write(make_report(), tmp_path)
    assert path.name == "root_10.0.0.1_22-19700101T000000Z.json"
    data = json.loads(path.read_text())
    assert data["bytes_sent"] == 2200 and data["total_seconds"] == 3.75
    audit = json.loads(audit_line(make_report(), "me@box"))
    assert audit["by"] == "me@box" and audit["outcome"] == "deployed"
    assert file_name("a/b c", 0.0) == "a_b_c-19700101T000000Z.json"
