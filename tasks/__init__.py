"""dtma-deploy's Fabric tasks: `fab --list` shows them all."""

from invoke import Collection

from tasks import demo, deploy, sandbox

ns = Collection.from_module(deploy)
ns.add_task(demo.demo)
ns.add_collection(Collection.from_module(sandbox, name="sandbox"))
