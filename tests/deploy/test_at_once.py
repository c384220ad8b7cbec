"""Work side by side: every piece ends before an error is raised, and the error is the one the
same work run in order would have raised first."""

import threading
import time

import pytest

from tasks.at_once import at_once


def test_results_come_back_in_the_order_given():
    assert at_once(lambda: 1, lambda: "two", lambda: None) == [1, "two", None]


def test_the_pieces_run_at_the_same_time():
    both_started = threading.Barrier(2, timeout=10)  # breaks (and fails) if run one by one
    assert at_once(both_started.wait, both_started.wait) is not None


def test_the_first_error_in_order_wins_and_every_piece_has_ended():
    ended = []

    def slow_failure():
        time.sleep(0.2)
        ended.append("slow")
        raise ValueError("first in order")

    def quick_failure():
        ended.append("quick")
        raise KeyError("second in order")

    def fine():
        time.sleep(0.3)
        ended.append("fine")

    with pytest.raises(ValueError, match="first in order"):
        at_once(slow_failure, quick_failure, fine)
    assert sorted(ended) == ["fine", "quick", "slow"]


def test_the_first_piece_runs_in_the_calling_thread():
    where = at_once(threading.current_thread, threading.current_thread)
    assert where[0] is threading.current_thread()
    assert where[1] is not threading.current_thread()
