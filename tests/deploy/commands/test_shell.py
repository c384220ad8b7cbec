"""Operators as data: each combinator's line, exactly."""

from tasks.commands.shell import (
    Op,
    append_to,
    chain,
    either,
    group,
    or_true,
    silenced,
    then,
    to_shell,
    with_stderr,
    write_to,
)


def test_combinators_place_operators_between_quoted_words():
    a, b = ["echo", "a b"], ["echo", "$HOME"]
    assert to_shell(chain(a, b)) == "echo 'a b' && echo '$HOME'"
    assert to_shell(then(a, b)) == "echo 'a b' ; echo '$HOME'"
    assert to_shell(either(a, b)) == "echo 'a b' || echo '$HOME'"
    assert to_shell(group(a)) == "{ echo 'a b' ; }"
    assert to_shell(or_true(silenced(a))) == "echo 'a b' >/dev/null 2>&1 || true"
    assert to_shell(with_stderr(a)) == "echo 'a b' 2>&1"
    assert to_shell(write_to(a, "/tmp/x y")) == "echo 'a b' > '/tmp/x y'"
    assert to_shell(append_to(a, "/log")) == "echo 'a b' >> /log"


def test_only_marked_operators_escape_quoting():
    assert to_shell(["echo", "&&", "rm -rf /"]) == "echo '&&' 'rm -rf /'"
    assert to_shell(["echo", Op("&&"), "true"]) == "echo && true"
    assert chain() == [] and chain(["x"]) == ["x"]


def test_shell_quotes_each_argument_once():
    line = to_shell(chain(["docker", "rename", "a b", "c"], ["docker", "start", "c;rm"]))
    assert line == "docker rename 'a b' c && docker start 'c;rm'"
