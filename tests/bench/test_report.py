"""Case summaries, goal verdicts and the stdout table, from hand-made measurements (no host)."""

from bench.figures import Measurement, summarize_case
from bench.goals import judge, share
from bench.host import parse_probe_line
from bench.stats import Downtime, Probe
from bench.table import render_cases, render_goals
from bench.units import human_bytes, human_ratio


def rounds(pipeline, walls, sent, outage=0.2, case="code"):
    return [
        Measurement(
            case=case,
            pipeline=pipeline,
            round=i,
            wall_seconds=wall,
            wire_bytes=size,
            downtime=Downtime(outage, 2, 200),
        )
        for i, (wall, size) in enumerate(zip(walls, sent, strict=True), start=1)
    ]


def code_case(ours_bytes=(2_000, 2_200, 2_100), ours_walls=(2.0, 3.0, 2.5), outage=0.2):
    measured = rounds("baseline", [20.0, 22.0, 21.0], [150e6, 151e6, 149e6])
    measured += rounds("ours", list(ours_walls), list(ours_bytes), outage)
    return summarize_case("code", measured)


def test_case_summary_takes_medians_and_ranges_per_pipeline():
    case = code_case()
    assert case.median("baseline", "wire_bytes") == 150e6
    assert case.median("ours", "wall_seconds") == 2.5
    assert case.summaries["ours"]["wire_bytes"].min == 2_000
    assert case.summaries["ours"]["wire_bytes"].max == 2_200


def test_ratios_are_baseline_median_over_ours_median():
    case = code_case()
    assert case.ratios["wire_bytes"] == 150e6 / 2_100
    assert case.ratios["wall_seconds"] == 21.0 / 2.5


def test_failed_rounds_are_listed_and_left_out_of_the_figures():
    measured = rounds("ours", [2.0, 99.0], [1_000, 9e9])
    measured[1].error = "fab deploy failed (exit 1): boom"
    case = summarize_case("code", measured)
    assert case.summaries["ours"]["wall_seconds"].n == 1
    assert case.median("ours", "wire_bytes") == 1_000
    assert case.errors["ours"] == ["round 2: fab deploy failed (exit 1): boom"]


def test_goals_met_when_ours_is_small_enough():
    verdicts = judge({"code": code_case()})
    assert [g.met for g in verdicts[:3]] == [True, True, True]
    assert verdicts[3].met is None  # no no-change case in this run


def test_goals_say_by_how_much_they_were_missed():
    case = code_case(ours_bytes=(400_000,) * 3, ours_walls=(6.2,) * 3, outage=1.5)
    size, wall, outage, _ = judge({"code": case})
    assert size.met is False and size.verdict == "missed by 250.0 KB (budget 150.0 KB)"
    assert wall.met is False and wall.verdict == "missed by 2.00 s (budget 4.20 s)"
    assert outage.met is False and outage.verdict == "missed by 0.50 s"


def test_no_change_goal_is_judged_on_ours_median_bytes():
    quiet = rounds("ours", [1.0, 1.0, 1.0], [3_000, 12_000, 4_000], case="nochange")
    noisy = rounds("ours", [1.0, 1.0, 1.0], [13_000, 12_000, 4_000], case="nochange")
    assert judge({"nochange": summarize_case("nochange", quiet)})[3].met is True
    missed = judge({"nochange": summarize_case("nochange", noisy)})[3]
    assert missed.met is False and missed.verdict == "missed by 2.0 KB"


def test_table_shows_both_pipelines_and_the_ratio_per_figure():
    table = render_cases({"code": code_case()})
    lines = table.splitlines()
    assert "baseline median [min-max]" in lines[0] and "baseline/ours" in lines[0]
    assert lines[1].startswith("code-only change") and lines[1].endswith("3 rounds")
    sent = next(line for line in lines if "bytes on the wire" in line)
    assert "150.0 MB [149.0 MB-151.0 MB]" in sent
    assert "2.1 KB [2.0 KB-2.2 KB]" in sent
    assert sent.rstrip().endswith("71,429x")


def test_table_columns_line_up():
    lines = render_cases({"code": code_case()}).splitlines()
    column = lines[0].index("ours median")
    figures = lines[2:]
    assert len(figures) == 4
    for row in figures:
        assert row[column - 2 : column] == "  " and row[column] != " ", row


def test_table_says_when_ours_is_not_available():
    measured = rounds("baseline", [20.0], [150e6])
    table = render_cases({"code": summarize_case("code", measured)}, "not available")
    sent = next(line for line in table.splitlines() if "bytes on the wire" in line)
    assert "not available" in sent and sent.rstrip().endswith("-")


def test_goal_lines_carry_the_verdict():
    text = render_goals(judge({"code": code_case()}))
    assert "[MET] code-only change: bytes <= 1/1000 of baseline" in text
    assert "[----] no-change redeploy" in text and "not measured (case not run)" in text


def test_units_are_written_for_people():
    assert human_bytes(950) == "950 B"
    assert human_bytes(10_000) == "10.0 KB"
    assert human_bytes(153_200_000) == "153.2 MB"
    assert human_ratio(71_428.6) == "71,429x"
    assert human_ratio(3.456) == "3.46x"
    assert human_ratio(float("inf")) == "inf"
    assert human_ratio(None) == "-"


def test_probe_lines_parse_and_noise_is_skipped():
    assert parse_probe_line("1234.5000 1\n") == Probe(1234.5, True)
    assert parse_probe_line("1234.5500 0") == Probe(1234.55, False)
    assert parse_probe_line("Traceback (most recent call last):") is None
    assert parse_probe_line("12 x") is None


def test_goal_text_compares_ours_with_the_baseline_either_way():
    assert share(2_000, 61_000_000) == "1/30,500 of the baseline"
    assert share(2.0, 7.0) == "1/3.5 of the baseline"
    assert share(20.0, 8.0) == "2.50x the baseline"


def test_step_medians_keep_the_pipeline_order_and_show_under_the_case():
    measured = rounds("ours", [2.0, 3.0, 4.0], [1, 2, 3])
    for m, (build, ship) in zip(measured, [(1.0, 0.5), (3.0, 0.7), (2.0, 0.6)], strict=True):
        m.phases = {"build": build, "ship": ship}
    case = summarize_case("code", measured)
    assert case.phases == {"baseline": {}, "ours": {"build": 2.0, "ship": 0.6}}
    assert "    ours steps (median s): build 2.0, ship 0.6" in render_cases({"code": case})
