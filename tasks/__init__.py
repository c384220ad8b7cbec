"""dtma-deploy's tasks, in rooms by concern (docs/code-layout.md walks through them).

The deploy core lives here at the root and in three layers below it, each calling only the
one beneath:
    steps/      preflight, build, ship, candidate, handover, verify, rollback, report
    facts/      typed things read from a host (survey, container state, host images)
    commands/   pure argv builders (no I/O)
    runner.py   the only code that touches an SSH connection (with host_shell.py, the shell
                kept open on the host, and tunnel.py, the local end of `ssh -L`)
plus what they share: settings, errors, layers (image archives), images (the local build and
its base image), rootfs, envfile, host_keys, interrupts, progress, units.

Around the core:
    fleet/      many hosts at once; uses the core, never the CLI
    sandbox/    throwaway droplets on this machine; uses the core; used only by the CLI,
                the tests and the bench
    cli/        the `fab` command line; uses everything

The core imports neither fleet/, sandbox/ nor cli/. `fab` loads the collection through
fabfile.py.
"""
