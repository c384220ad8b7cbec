"""The `fab` command line: Invoke tasks only, each a thin call into tasks/steps.

Every task is named here, once: `fab --list` shows exactly this collection.
"""

from invoke import Collection

from tasks.cli import (
    demo_task,
    deploy_tasks,
    doctor_task,
    host_tasks,
    publish_task,
    sandbox_tasks,
)

TASKS = {
    "deploy": deploy_tasks.deploy,
    "build": deploy_tasks.build_image,
    "ship": deploy_tasks.ship_image,
    "env": deploy_tasks.install_env_file,
    "release": deploy_tasks.release_image,
    "verify": deploy_tasks.verify_agent,
    "rollback": host_tasks.rollback,
    "status": host_tasks.status,
    "logs": host_tasks.logs,
    "restart": host_tasks.restart,
    "releases": host_tasks.releases,
    "prune": host_tasks.prune,
    "plan": host_tasks.plan,
    "doctor": doctor_task.doctor,
    "publish": publish_task.publish,
    "demo": demo_task.demo,
}
SANDBOX_TASKS = {
    "up": sandbox_tasks.start_sandbox,
    "down": sandbox_tasks.remove_sandbox,
    "status": sandbox_tasks.list_sandboxes,
    "reboot": sandbox_tasks.reboot_sandbox,
    "ssh": sandbox_tasks.ssh_into_sandbox,
}


def collection() -> Collection:
    ns = Collection()
    for name, task in TASKS.items():
        ns.add_task(task, name=name)
    sandboxes = Collection("sandbox")
    for name, task in SANDBOX_TASKS.items():
        sandboxes.add_task(task, name=name)
    ns.add_collection(sandboxes)
    return ns
