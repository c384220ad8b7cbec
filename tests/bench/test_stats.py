"""The benchmark's arithmetic: summaries, ratios, downtime from a probe timeline (no host)."""

import math

import pytest

from bench.stats import Downtime, Probe, Summary, downtime, ratio, summarize


def timeline(pattern: str, interval: float = 0.05, start: float = 100.0) -> list[Probe]:
    """'++--+' -> probes every `interval` seconds, + answered 200, - did not."""
    return [Probe(start + i * interval, mark == "+") for i, mark in enumerate(pattern)]


def test_summary_of_an_odd_count_is_the_middle_value():
    assert summarize([5.0, 1.0, 3.0]) == Summary(median=3.0, min=1.0, max=5.0, n=3)


def test_summary_of_an_even_count_averages_the_two_middle_values():
    assert summarize([4, 1, 3, 2]) == Summary(median=2.5, min=1.0, max=4.0, n=4)


def test_summary_ignores_rounds_that_measured_nothing():
    assert summarize([None, 7, None]) == Summary(median=7.0, min=7.0, max=7.0, n=1)


def test_summary_of_nothing_is_none():
    assert summarize([]) is None
    assert summarize([None, None]) is None


def test_ratio_is_baseline_over_ours():
    assert ratio(150_000_000, 1_500) == 100_000
    assert ratio(2.0, 8.0) == 0.25


def test_ratio_against_zero_is_infinite_and_zero_over_zero_is_unknown():
    assert math.isinf(ratio(10, 0))
    assert ratio(0, 0) is None


def test_ratio_with_a_missing_side_is_unknown():
    assert ratio(None, 3) is None
    assert ratio(3, None) is None


def test_no_failed_probe_means_no_downtime():
    assert downtime(timeline("++++++")) == Downtime(0.0, 0, 6)


def test_outage_runs_from_first_failure_to_next_success():
    result = downtime(timeline("++---++"))  # fails at 0.10, 0.15, 0.20; back at 0.25
    assert result.failed_probes == 3
    assert result.probes == 7
    assert result.longest_gap_seconds == pytest.approx(0.15)


def test_the_longest_of_several_outages_is_reported_and_all_failures_counted():
    result = downtime(timeline("+-+----+--+"))  # the four failures from 0.15 to 0.30, back at 0.35
    assert result.longest_gap_seconds == pytest.approx(0.20)
    assert result.failed_probes == 7


def test_an_outage_still_going_at_the_end_lasts_until_the_last_probe():
    result = downtime(timeline("++----"))
    assert result.longest_gap_seconds == pytest.approx(0.15)


def test_probes_out_of_order_are_sorted_by_time():
    probes = timeline("+--+")
    assert downtime(list(reversed(probes))) == downtime(probes)


def test_slow_probes_count_by_their_start_times():
    probes = [Probe(0.0, True), Probe(0.05, False), Probe(1.30, False), Probe(1.35, True)]
    assert downtime(probes).longest_gap_seconds == pytest.approx(1.30)


def test_an_empty_timeline_has_no_downtime():
    assert downtime([]) == Downtime(0.0, 0, 0)
