"""Fleet inventory: a hosts file, and DigitalOcean droplets by tag through pydo (against a
stand-in of the API on loopback, pydo itself unmocked)."""

from __future__ import annotations

import socket

import pytest

from tasks.fleet.inventory import InventoryError, hosts_from_digitalocean, hosts_from_file
from tests.support.digitalocean import DigitalOceanStandIn, droplet

TOKEN = "dop_v1_standin_" + "5f" * 16


def test_hosts_file_one_per_line_with_comments_and_duplicates(tmp_path):
    path = tmp_path / "hosts"
    path.write_text(
        "# production toolboxes\n"
        "root@203.0.113.10\n"
        "\n"
        "  root@203.0.113.11:2222   # moved sshd\n"
        "root@203.0.113.10\n"
        "droplet-c\n"
    )
    inventory = hosts_from_file(path)
    assert inventory.hosts == ("root@203.0.113.10", "root@203.0.113.11:2222", "droplet-c")
    assert inventory.source == str(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# nothing here\n\n", "names no host"),
        ("root@a root@b\n", ":1: one host per line"),
    ],
)
def test_hosts_file_mistakes_are_one_clear_line(tmp_path, text, message):
    path = tmp_path / "hosts"
    path.write_text(text)
    with pytest.raises(InventoryError, match=message):
        hosts_from_file(path)


def test_missing_hosts_file_names_it(tmp_path):
    with pytest.raises(InventoryError, match=r"cannot read hosts file .*nope: No such file"):
        hosts_from_file(tmp_path / "nope")


@pytest.fixture
def fleet() -> list[dict]:
    """230 tagged droplets (two pages of 200), one without a public address, and others."""
    tagged = [droplet(i, f"toolbox-{i}", f"203.0.113.{i % 250}", ["dtma"]) for i in range(1, 230)]
    tagged.insert(100, droplet(900, "toolbox-private", None, ["dtma", "vpc"]))
    return tagged + [droplet(i, f"web-{i}", f"198.51.100.{i}", ["web"]) for i in range(1, 6)]


@pytest.fixture
def api(tmp_path, fleet, monkeypatch):
    with DigitalOceanStandIn(tmp_path, TOKEN, fleet) as stand_in:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(stand_in.cert))  # trust the stand-in only
        yield stand_in


def test_do_tag_lists_every_page_of_tagged_droplets(api):
    inventory = hosts_from_digitalocean("dtma", TOKEN, endpoint=api.endpoint)
    assert len(inventory.hosts) == 229
    assert inventory.hosts[:2] == ("root@203.0.113.1", "root@203.0.113.2")
    assert "root@203.0.113.229" in inventory.hosts
    assert not any(host.startswith("root@198.51.100.") for host in inventory.hosts)
    assert inventory.skipped == ("toolbox-private: no public IPv4",)
    assert inventory.source == "DigitalOcean tag 'dtma'"
    pages = [(q["page"], q["per_page"], q["tag_name"]) for q in api.requests]
    assert pages == [(["1"], ["200"], ["dtma"]), (["2"], ["200"], ["dtma"])]


def test_do_tag_with_a_wrong_token_says_so_without_the_token(api):
    with pytest.raises(InventoryError) as failed:
        hosts_from_digitalocean("dtma", TOKEN + "x", endpoint=api.endpoint)
    assert str(failed.value) == (
        "DigitalOcean answered HTTP 401 listing droplets (check DIGITALOCEAN_TOKEN)"
    )


def test_do_tag_without_a_token_asks_for_one():
    with pytest.raises(InventoryError, match="set DIGITALOCEAN_TOKEN"):
        hosts_from_digitalocean("dtma", "", endpoint="https://127.0.0.1:9")


def test_do_tag_matching_nothing_is_an_error(api):
    with pytest.raises(InventoryError, match="no droplet with tag 'nothing' has a public IPv4"):
        hosts_from_digitalocean("nothing", TOKEN, endpoint=api.endpoint)


def test_unreachable_api_is_one_line():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        endpoint = f"https://127.0.0.1:{unused.getsockname()[1]}"
        with pytest.raises(InventoryError, match=f"cannot reach DigitalOcean at {endpoint}"):
            hosts_from_digitalocean("dtma", TOKEN, endpoint=endpoint)
