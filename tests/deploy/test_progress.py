"""The transfer meter: a rich bar on a terminal, one summary line elsewhere."""

import io

from tasks.progress import TransferProgress, format_progress


def test_progress_line_shows_sent_total_rate_and_eta():
    line = format_progress("ship", 12 * 1000**2, 48 * 1000**2, 2.0)
    assert line == "ship 12.0 MB / 48.0 MB   25%  6.0 MB/s  ETA 6s"
    assert format_progress("ship", 0, 10, 0.0).endswith("ETA ?")


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_redraws_at_most_ten_times_a_second_on_a_terminal():
    now = [0.0]
    out = FakeTerminal()
    meter = TransferProgress("ship", 1000, stream=out, clock=lambda: now[0])
    for sent in range(0, 1001, 10):  # 101 callbacks within 0.5 s
        now[0] = sent / 2000
        meter(sent, 1000)
    meter.finish()
    text = out.getvalue()
    assert 5 <= text.count("\r") <= 7  # 6 draws (0, .1, .2, .3, .4, .5 s) + the final one
    # rich hides the cursor while it draws and shows it again after the final line.
    assert text.removesuffix("\x1b[?25h").endswith("\n") and text.count("\n") == 1
    assert "1.0 KB / 1.0 KB  100%" in text.rsplit("\r", 1)[1]


def test_progress_off_a_terminal_prints_one_summary_line():
    now = [0.0]
    out = io.StringIO()
    meter = TransferProgress("ship", 2000, stream=out, clock=lambda: now[0])
    for sent in (1000, 2000):
        now[0] += 1
        meter(sent, 2000)
    meter.finish()
    assert out.getvalue() == "ship 2.0 KB in 2s (1.0 KB/s)\n"
