"""env: the local env file becomes the host's /etc/dtma/dtma.env (root, 0600, atomic)."""

from __future__ import annotations

import secrets

from tasks.commands import files
from tasks.commands.shell import chain
from tasks.envfile import EnvFile
from tasks.errors import DeployError
from tasks.runner import Remote
from tasks.settings import DeploySettings


def install_env(remote: Remote, s: DeploySettings, env: EnvFile) -> str:
    """Put the env file in place atomically, 0600 root, values only ever through SFTP (unless
    the host holds exactly this one already: one round trip, read under the lock, instead of
    three). Returns the sha256 of what the host now holds."""
    final = s.remote_env_file
    held = remote.run(files.sha256(final), step="env", check=False)
    if held.ok and held.stdout.split()[:1] == [env.sha256]:
        return env.sha256
    folder = final.rsplit("/", 1)[0]
    tmp = f"{final}.tmp-{secrets.token_hex(4)}"
    remote.run(chain(files.make_private_dir(folder), files.create_private_file(tmp)), step="env")
    try:
        remote.write_file(tmp, env.render(), step="env")
        installed = remote.run(
            chain(files.install_file(tmp, final), files.sha256(final)), step="env"
        )
    except BaseException:
        remote.run(files.remove_tree(tmp), step="env", check=False)
        raise
    if installed.stdout.split()[0] != env.sha256:
        raise DeployError(
            remote.host, "env", "the env file on the host differs from the one sent", "redeploy"
        )
    return env.sha256
