"""Many hosts at once: `fab deploy -H a,b,c`, --hosts-file, --do-tag.

    rollout.py   the rollout's shape: canaries, then N in parallel, stop or roll back all
    gate.py      where the hosts after the canaries wait, candidates checked, to be released
    hosts.py     one host's deploy and rollback as the fleet runs them (over the deploy core)
    run.py       the host list, one build, the rollout, the summary and the fleet report
    inventory.py hosts from a file or a DigitalOcean tag
    images.py    one local `docker save` shared by every host
    prefetch.py  the hosts after the canaries receive the image while the canaries run
    output.py    each host's lines prefixed with its name

May import the deploy core (tasks/ root, steps/, facts/, commands/); never tasks/cli/ or
tasks/sandbox/.
"""
