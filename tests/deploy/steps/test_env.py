"""The env step: the file goes over SFTP into place, unless the host holds exactly it already."""

from __future__ import annotations

from tasks.envfile import parse
from tasks.settings import DeploySettings
from tasks.steps.env import install_env
from tests.support.fake_remote import FakeRemote, result

ENV = parse("DTMA_BEARER_TOKEN=tok-1\nBACKEND_TO_DTMA_API_KEY=key-1\n")
FINAL = DeploySettings().remote_env_file


def test_the_same_env_file_on_the_host_is_read_once_and_not_written():
    remote = FakeRemote().answer("sha256sum", with_=result(f"{ENV.sha256}  {FINAL}\n"))
    assert install_env(remote, DeploySettings(), ENV) == ENV.sha256
    assert remote.sent == [["sha256sum", FINAL]] and remote.files == {}


def test_another_env_file_on_the_host_is_replaced_through_sftp():
    remote = FakeRemote()
    before, after = (result(f"{sha}  {FINAL}\n") for sha in ("0" * 64, ENV.sha256))
    remote.answer("sha256sum", with_=[before, after])  # read, then read back once installed
    assert install_env(remote, DeploySettings(), ENV) == ENV.sha256
    [(path, data)] = remote.files.items()
    assert path.startswith(f"{FINAL}.tmp-") and data == ENV.render()
