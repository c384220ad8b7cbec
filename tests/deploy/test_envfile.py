"""Env file parsing: what people write, rendered in the literal form `docker --env-file` reads."""

import pytest

from tasks.envfile import EnvFileError, check, load, parse

GOOD = (
    "# comment\r\n"
    "DTMA_BEARER_TOKEN=tok-1\r\n"
    "export BACKEND_TO_DTMA_API_KEY = 'key with spaces'\r\n"
    'AGENTOPIA_API_BASE_URL="https://x.example/functions/v1"  # trailing comment\r\n'
    "\r\n"
    "EMPTY=\n"
    "HASHED=a#b\n"
    "PORT=30000 # default\n"
)


def test_crlf_quotes_comments_export_and_empty_values():
    env = parse(GOOD)
    assert env.values == {
        "DTMA_BEARER_TOKEN": "tok-1",
        "BACKEND_TO_DTMA_API_KEY": "key with spaces",
        "AGENTOPIA_API_BASE_URL": "https://x.example/functions/v1",
        "EMPTY": "",
        "HASHED": "a#b",
        "PORT": "30000",
    }
    check(env, 30000)


def test_render_is_literal_and_the_sha_follows_it():
    env = parse(GOOD)
    rendered = env.render().decode()
    assert "BACKEND_TO_DTMA_API_KEY=key with spaces\n" in rendered
    assert "'" not in rendered and '"' not in rendered and "\r" not in rendered
    assert env.sha256 == parse(rendered).sha256


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not a line\n", "line 1: expected KEY=VALUE"),
        ("A=1\n1BAD=2\n", "line 2: expected KEY=VALUE"),
        ("A='open\n", "line 1: unterminated ' quote"),
        ('A="x" y\n', "line 1: text after the closing quote"),
    ],
)
def test_garbage_is_rejected_with_the_line_number(text, message):
    with pytest.raises(EnvFileError, match=message):
        parse(text)


def test_missing_or_empty_required_keys_are_named_but_never_values():
    env = parse("DTMA_BEARER_TOKEN=secret-token\nBACKEND_TO_DTMA_API_KEY=\n")
    with pytest.raises(EnvFileError) as info:
        check(env, 30000)
    assert "BACKEND_TO_DTMA_API_KEY, AGENTOPIA_API_BASE_URL" in str(info.value)
    assert "secret-token" not in str(info.value)


def test_port_other_than_the_published_one_is_refused():
    env = parse(
        "DTMA_BEARER_TOKEN=a\nBACKEND_TO_DTMA_API_KEY=b\nAGENTOPIA_API_BASE_URL=c\nPORT=3030\n"
    )
    with pytest.raises(EnvFileError, match="PORT must be 30000"):
        check(env, 30000)


def test_values_never_appear_in_repr():
    assert "tok-1" not in repr(parse(GOOD))


def test_load_missing_file(tmp_path):
    with pytest.raises(EnvFileError, match="does not exist"):
        load(tmp_path / "nope.env")
