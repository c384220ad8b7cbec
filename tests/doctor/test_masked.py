"""Secrets in log lines never reach the doctor's output."""

from __future__ import annotations

from tasks.doctor.masked import Masker, sha256

TOKEN = "tok-9f8e7d6c5b4a39281706f5e4d3c2b1a0"


def test_a_value_the_operator_gave_is_masked():
    assert Masker([TOKEN]).line(f"started with {TOKEN}.") == "started with ****."


def test_a_value_known_only_by_its_hash_is_masked():
    masker = Masker(hashes=[sha256(TOKEN)])
    assert masker.line(f"using {TOKEN} now") == "using **** now"
    assert masker.line(f"DTMA_BEARER_TOKEN={TOKEN}") == "DTMA_BEARER_TOKEN=****"


def test_what_is_written_as_a_secret_is_masked_unknown():
    masker = Masker()
    assert masker.line("Authorization: Bearer abc.def") == "Authorization: Bearer ****"
    assert masker.line('{"api_key": "s3cr3t-value", "x": 1}') == '{"api_key": "****", "x": 1}'
    assert masker.line("plain words stay") == "plain words stay"


def test_long_lines_are_cut():
    assert len(Masker().line("x " * 500)) == 240
