"""Files on the host: the env file's atomic install, the deploy lock, staging, the audit log."""

from __future__ import annotations

from tasks.commands.shell import Argv, append_to, chain, either, group, then, to_shell, write_to

STAGED_PREFIX = "ship-"  # every file ship() stages starts so; leftovers are found by it
UNSIGNED_LOCK = 73  # exit code of take_lock when the owner file could not be written


def make_private_dir(path: str) -> Argv:
    return ["install", "-d", "-m", "0700", "-o", "root", "-g", "root", path]


def create_private_file(path: str) -> Argv:
    """An empty file that is 0600 from its first moment (umask, not chmod after)."""
    return chain(["umask", "077"], write_to([":"], path))


def install_file(tmp: str, final: str) -> Argv:
    """The last step of an atomic write: permissions on the temp file, then one rename."""
    return [
        "sh",
        "-c",
        'chmod 600 "$1" && chown root:root "$1" && mv -f "$1" "$2"',
        "-",
        tmp,
        final,
    ]


def sha256(path: str) -> Argv:
    return ["sha256sum", path]


def read_file(path: str) -> Argv:
    return ["cat", path]


def remove_tree(path: str) -> Argv:
    return ["rm", "-rf", path]


def remove_files(*paths: str) -> Argv:
    return ["rm", "-f", *paths]


def append_line(path: str, line: str) -> Argv:
    """Append one line to a file (the audit log: no secrets in it)."""
    return append_to(["printf", "%s\\n", line], path)


def lock_owner_file(lock_dir: str) -> str:
    return f"{lock_dir}/owner"


def guarded(lock_dir: str, argv: Argv) -> Argv:
    """`argv` under an exclusive flock on the lock's guard file: the take, renewal, release and
    break of the lock never interleave, so the owner read in one is the owner acted on."""
    return ["flock", f"{lock_dir}.guard", "sh", "-c", to_shell(argv)]


def take_and_sign_lock(lock_dir: str, owner_json: str) -> Argv:
    """Take the lock (`mkdir`: exactly one taker) and write its owner file in one round trip;
    a lock whose owner file cannot be written is given back at once (exit UNSIGNED_LOCK), so no
    lock is left anonymous."""
    parent = lock_dir.rsplit("/", 1)[0] or "/"
    sign = write_to(["printf", "%s\\n", owner_json], lock_owner_file(lock_dir))
    give_back = group(then(remove_tree(lock_dir), ["exit", str(UNSIGNED_LOCK)]))
    take = chain(["mkdir", lock_dir], group(either(sign, give_back)))
    return chain(["mkdir", "-p", parent], guarded(lock_dir, take))


# Remove lock $1 only if its owner file still reads exactly $2 (the owner judged stale: not
# renewed since, nor released and taken again).
BREAK_IF_STILL = 'printf %s "$2" | cmp -s - "$1/owner" && rm -rf "$1"'


def break_lock_if_still(lock_dir: str, owner_text: str) -> Argv:
    """--force-unlock's break: the check and the removal in one step under the guard."""
    return guarded(lock_dir, ["sh", "-c", BREAK_IF_STILL, "dtma-break-lock", lock_dir, owner_text])


def owner_is(lock_dir: str, token: str) -> Argv:
    """Succeeds only when the lock's owner file carries `token`."""
    return ["grep", "-qF", f'"token": "{token}"', lock_owner_file(lock_dir)]


def remove_own_lock(lock_dir: str, token: str) -> Argv:
    """Remove the lock only when its owner file carries `token` (the take that made it)."""
    return guarded(lock_dir, chain(owner_is(lock_dir, token), remove_tree(lock_dir)))


def rewrite_own_lock(lock_dir: str, token: str, owner_json: str) -> Argv:
    """Replace the owner file (renewal) only while it carries `token`; written then renamed."""
    owner_file = lock_owner_file(lock_dir)
    fresh = f"{owner_file}.renew"
    return guarded(
        lock_dir,
        chain(
            owner_is(lock_dir, token),
            write_to(["printf", "%s\\n", owner_json], fresh),
            ["mv", "-f", fresh, owner_file],
        ),
    )


def clean_stage(stage_dir: str) -> Argv:
    """Leftovers of earlier runs (cut transfers, killed deploys); the deploy lock keeps
    a concurrent run from staging here at the same time."""
    return [
        "find",
        stage_dir,
        "-maxdepth",
        "1",
        "-type",
        "f",
        "-name",
        f"{STAGED_PREFIX}*",
        "-delete",
    ]


PRIVATE_DIR_CHECK = (
    '[ -d "$1" ] && [ ! -L "$1" ] && [ "$(stat -c %u:%g:%a "$1")" = 0:0:700 ] || '
    '{ echo "$1 is not a directory only root can use (uid:gid:mode'
    ' $(stat -c %u:%g:%a "$1" 2>/dev/null)): remove it, or choose another stage_dir" >&2; exit 1; }'
)


def verify_private_dir(path: str) -> Argv:
    """Succeeds only for a real directory (not a link) owned by root:root with mode 0700: an
    archive staged anywhere else could be swapped between its checksum and `docker load`."""
    return ["sh", "-c", PRIVATE_DIR_CHECK, "-", path]


def prepare_stage(stage_dir: str) -> Argv:
    """Create the stage dir (root, 0700) or refuse one others can write, clear earlier runs'
    leftovers, then say how much room is free."""
    return chain(
        ["mkdir", "-p", "-m", "700", stage_dir],
        verify_private_dir(stage_dir),
        clean_stage(stage_dir),
        ["df", "-PB1", stage_dir],
    )
