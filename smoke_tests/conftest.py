"""The smoke suite's pytest plugin: options, the agent fixture, masking and the summary."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smoke_tests import promises
from smoke_tests.agent_client import AgentClient
from smoke_tests.promises import PROMISES, Ledger, mask, summary_lines
from smoke_tests.settings import OPTIONS, SettingsError, SmokeSettings, resolve

SETTINGS = pytest.StashKey[SmokeSettings]()
LEDGER = pytest.StashKey[Ledger]()


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    group = parser.getgroup("dtma-smoke", "DTMA smoke suite (each option also from its env var)")
    for option in OPTIONS:
        flags = [option.flag]
        if option.flag == "--timeout":
            # pytest-timeout owns --timeout where it is installed; --request-timeout always works.
            flags = ["--request-timeout"] + ([] if pluginmanager.has_plugin("timeout") else flags)
        default = "" if option.default in (None, False) else f"; default {option.default}"
        shape = {} if option.is_flag else {"metavar": option.env.removeprefix("DTMA_SMOKE_")}
        group.addoption(
            *flags,
            dest=option.dest,
            default=None,
            action="store_true" if option.is_flag else "store",
            help=f"{option.help} [{option.env}{default}]",
            **shape,
        )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "promise(name): the agent's promise this test checks")
    if config.option.help:
        return
    raw = {option.dest: config.getoption(option.dest) for option in OPTIONS}
    try:
        settings = resolve(raw)
    except SettingsError as exc:
        raise pytest.UsageError(str(exc)) from None
    promises.SECRETS[:] = settings.secrets
    config.stash[SETTINGS] = settings
    config.stash[LEDGER] = Ledger()


def pytest_report_header(config: pytest.Config) -> str | None:
    settings = config.stash.get(SETTINGS, None)
    if settings is None:
        return None
    return f"DTMA agent: {settings.base_url} (key: {settings.key_source})"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the promises in the order a caller depends on them: health first."""
    order = {promise.name: index for index, promise in enumerate(PROMISES)}

    def rank(item: pytest.Item) -> int:
        marker = item.get_closest_marker("promise")
        return order.get(marker.args[0], len(order)) if marker else len(order)

    items.sort(key=rank)  # stable: the file order holds within a promise
    for item in items:
        if marker := item.get_closest_marker("promise"):
            item.user_properties.append(("promise", marker.args[0]))  # shows in --junitxml


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Iterator[None] | pytest.TestReport:
    report: pytest.TestReport = yield
    secrets = promises.SECRETS
    text = str(report.longrepr) if report.longrepr else ""
    if any(secret in text for secret in secrets):
        # Belt and braces for failures not raised through promises.broken(), e.g. a bare assert.
        report.longrepr = mask(text, tuple(secrets))
    report.sections = [(name, mask(body, tuple(secrets))) for name, body in report.sections]
    marker = item.get_closest_marker("promise")
    ledger = item.config.stash.get(LEDGER, None)
    if marker and ledger is not None:
        ledger.record(marker.args[0], report)
    return report


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    settings = config.stash.get(SETTINGS, None)
    ledger = config.stash.get(LEDGER, None)
    if settings is None or ledger is None:
        return
    notes = []
    if not settings.refresh_url and ledger.verdict("refresh") != "not checked":
        notes.append(
            "refresh: the real backend path was not exercised — the suite made the backend's "
            "one GET /status itself and applied its rules; to exercise it pass "
            "--refresh-url URL --user-jwt JWT"
        )
    terminalreporter.write_line("")
    for line in summary_lines(ledger, settings.base_url, notes):
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def settings(pytestconfig: pytest.Config) -> SmokeSettings:
    return pytestconfig.stash[SETTINGS]


@pytest.fixture(scope="session")
def agent(settings: SmokeSettings) -> Iterator[AgentClient]:
    client = AgentClient(settings)
    yield client
    client.close()
