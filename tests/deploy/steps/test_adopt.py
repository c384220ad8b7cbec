"""adopt's relay lookup: the relay's labels are no proof, a tool image may carry them."""

from __future__ import annotations

from tasks.steps import adopt
from tests.support.fake_remote import FakeRemote, result
from tests.support.host_answers import inspect_answer

RELAY = {"dtma.role": "forwarder", "dtma.adopted_name": "dtma_manager"}


def test_a_tool_carrying_the_relays_labels_is_never_taken_for_the_relay():
    remote = FakeRemote()
    remote.answer("docker", "ps", with_=result("id-tool\nid-relay\n"))
    tool_labels = {**RELAY, "agentopia.managed_by": "dtma", "dtma.adopted_name": "victim"}
    remote.answer("inspect", "id-tool", with_=inspect_answer("tool", labels=tool_labels))
    remote.answer("inspect", "id-relay", with_=inspect_answer("dtma_manager", labels=RELAY))
    found = adopt.forwarder(remote)
    assert found is not None and found.name == "dtma_manager"


def test_only_a_tool_with_the_labels_means_no_relay():
    remote = FakeRemote()
    remote.answer("docker", "ps", with_=result("id-tool\n"))
    labels = {**RELAY, "agentopia.managed_by": "dtma"}
    remote.answer("inspect", "id-tool", with_=inspect_answer("tool", labels=labels))
    assert adopt.forwarder(remote) is None
