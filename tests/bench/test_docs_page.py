"""docs/performance.md from a results folder: the newest file of each kind, one table each,
the file and the machine named under it (hand-made result files, no host)."""

import json

import pytest

from bench import docs_page, first_deploy

MACHINE = {
    "cpu_model": "Test CPU 9000",
    "cores": 2,
    "memory_bytes": 8_000_000_000,
    "kernel": "6.1.0-test",
    "docker": {"server": "20.10.24", "api": "1.41"},
}


def summary(median):
    return {"median": median, "min": median, "max": median, "n": 3}


def redeploy(fab_bytes, links=("loopback",)):
    def case(fab_wall, plain_wall, fab_sent, plain_sent):
        return {
            "summary": {
                "baseline": {
                    "wall_seconds": summary(plain_wall),
                    "wire_bytes": summary(plain_sent),
                    "downtime_seconds": summary(1.9),
                },
                "ours": {
                    "wall_seconds": summary(fab_wall),
                    "wire_bytes": summary(fab_sent),
                    "downtime_seconds": summary(0.0),
                },
            },
            "phase_medians_seconds": {"ours": {"build": 0.8, "ship": 1.7, "release": 1.2}},
        }

    cases = {"code": case(5.9, 6.9, fab_bytes, 61_000_000), "nochange": case(0.9, 6.4, 9_400, 6e7)}
    if "50mbit" in links:
        cases["code@50mbit"] = case(5.6, 14.1, 70_000, 63_700_000)
    return {"machine": MACHINE, "settings": {"links": list(links)}, "cases": cases}


def release(link, kind, failed):
    return {
        "link": link,
        "kind": kind,
        "ok": True,
        "requests": 1000,
        "rate": 72.0,
        "failed": failed,
        "longest_gap_seconds": 0.3,
        "wall_seconds": 12.0,
    }


RELEASES = {
    "machine": {**MACHINE, "load_average_before": [5.19, 5.9, 5.35]},
    "settings": {"links": ["loopback"]},
    "releases": [release("loopback", "code", 0), release("loopback", "plain", 117)],
}
FLEET = {
    "sizes": {
        "4": {
            "parallel": 3,
            "one_host_seconds": [6.0, 6.2],
            "fleet_seconds": [11.4, 10.9],
            "fleet_no_canary_seconds": [8.1, 8.2],
            "errors": [],
            "ratio": 1.88,
            "ratio_no_canary": 1.36,
        }
    },
    "rounds": 2,
    "machine": MACHINE,
}
AGENT_START = {
    "starts_per_condition": 10,
    "machine": MACHINE,
    "summary": {
        "idle": {
            "health_seconds": {"median": 0.388, "p90": 0.527},
            "status_seconds": {"median": 1.568, "p90": 2.29},
        }
    },
}


def write(folder, name, document):
    (folder / name).write_text(json.dumps(document))


@pytest.fixture
def results(tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    write(folder, "2026-11-26T185942Z.json", redeploy(58_000))  # older: must not show
    write(folder, "2026-12-04T151349Z.json", redeploy(68_600, ("loopback", "50mbit")))
    write(folder, "releases-2026-11-28T131824Z.json", RELEASES)
    write(folder, "fleet-2026-11-28T122152Z.json", {**FLEET, "rounds": 3})  # older
    write(folder, "fleet-2026-12-04T151857Z.json", FLEET)
    write(folder, "agent-start-2026-11-28T130616Z.json", AGENT_START)
    return folder


def tables(text):
    """The page's tables: runs of lines starting with '|'."""
    found, current = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            found.append(current)
            current = []
    return found


def test_the_page_has_one_table_per_kind_found_from_the_newest_file(results, tmp_path):
    out = tmp_path / "docs" / "performance.md"
    assert docs_page.main(["--results", str(results), "--out", str(out)]) == 0
    text = out.read_text()

    assert text.startswith("# Performance\n\n")
    assert "[README](../README.md)" in text.splitlines()[3]
    assert len(tables(text)) == 4  # redeploy, releases, fleet, agent start (no containerd run)
    for name in (
        "2026-12-04T151349Z.json",
        "releases-2026-11-28T131824Z.json",
        "fleet-2026-12-04T151857Z.json",
        "agent-start-2026-11-28T130616Z.json",
    ):
        assert f"{name}`; 2 cores (Test CPU 9000), 8.0 GB memory" in text
    assert "2026-11-26T185942Z.json" not in text and "fleet-2026-11-28T122152Z" not in text
    assert "No run against containerd-store droplets" in text


def test_each_table_is_the_benchs_own_rendering_of_its_run(results):
    text = docs_page.page(results)
    redeploy_table, releases_table, fleet_table, start_table = tables(text)

    assert redeploy_table[0] == "| figure | loopback | 50 Mbit/s |"
    bytes_row = "| code change: bytes at the NIC, plain / fab | 61.0 MB / 68.6 KB | 63.7 MB /"
    assert any(row.startswith(bytes_row) for row in redeploy_table)
    assert "58.0 KB" not in text  # the older run's figure
    assert any("1.90 s / 0.00 s" in row for row in redeploy_table)
    assert any("117 failed of 1000" in row for row in releases_table)
    assert "load average 5.2 when it began" in text
    assert fleet_table[-1].startswith("| 4 (parallel 3) | 6.1 s | 11.2 s (1.88x) goal")
    assert "Medians of 2 rounds" in text
    assert start_table[-1] == "| idle (10 starts) | 0.39 s / 0.53 s | 1.57 s / 2.29 s |"


def test_a_run_of_another_kind_gets_its_own_table(results):
    write(results, "containerd-2026-12-05T100000Z.json", redeploy(35_100))
    text = docs_page.page(results)
    assert len(tables(text)) == 5
    assert "containerd-2026-12-05T100000Z.json" in text and "35.1 KB" in text


def test_a_first_deploy_run_shows_both_ways_and_the_goal(results):
    runs = {
        "straight": [{"seconds": 100.0, "uplink_bytes": 500_000_000, "error": None}],
        "registry": [{"seconds": 20.0, "uplink_bytes": 65_000_000, "error": None}],
    }
    document = {"hosts": 8, "rate": "50mbit", "rounds": 1, "runs": runs, "machine": MACHINE}
    document["summary"] = first_deploy.summary(document)
    write(results, "first-deploy-2026-12-07T120000Z.json", document)
    text = docs_page.page(results)
    row = "| 8 | 50mbit | 100.0 s, 500.0 MB up | 20.0 s, 65.0 MB up | 0.20x goal met |"
    assert row in text and "first-deploy-2026-12-07T120000Z.json" in text


def test_no_results_at_all_is_an_error(tmp_path, capsys):
    assert docs_page.main(["--results", str(tmp_path), "--out", str(tmp_path / "p.md")]) == 1
    assert "no bench results" in capsys.readouterr().err
    assert not (tmp_path / "p.md").exists()
