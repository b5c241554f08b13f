"""Control and task messages: their shapes, their signatures, and what refuses them."""

from __future__ import annotations

import base64
import json

import pytest

from sdk.model.errors import GraftError
from sdk.wire import messages
from sdk.wire.signing import Unauthenticated, sign, verify
from worker import transport

SECRET = b"s3cret"


def test_a_signed_message_verifies_and_any_change_breaks_it():
    body = {"type": "submit", "execution": "e1", "inputs": {"x": {"val": {"v": 1.5}}}}
    signed = sign(body, SECRET)
    assert verify(json.loads(json.dumps(signed)), SECRET, "m") == body
    with pytest.raises(Unauthenticated, match="wrong signature"):
        verify({**signed, "execution": "e2"}, SECRET, "m")
    with pytest.raises(Unauthenticated, match="wrong signature"):
        verify(signed, b"another", "m")
    with pytest.raises(Unauthenticated, match="not signed"):
        verify(body, SECRET, "m")
    assert sign(body, None) == body and verify(body, None, "m") == body


def _payload() -> dict:
    return {"spec": {"id": "n"}, "token": "t" * 16, "inputs": {"x": {"val": {"v": 1}}}}


def test_task_messages_are_signed_with_their_execution_node_and_attempt():
    payload = messages.task_body("e1", "n", 2, _payload(), SECRET)
    assert messages.check_task(["e1", "n", 2, payload], SECRET)[3] == _payload()
    for forged in (["e1", "n", 3, payload], ["e2", "n", 2, payload],
                   ["e1", "n", 2, {**payload, "inputs": {"x": {"val": {"v": 2}}}}]):
        with pytest.raises(Unauthenticated):
            messages.check_task(forged, SECRET)


@pytest.mark.parametrize("args, reason", [
    ("not a list", "has 4 arguments"),
    (["e1", "n", 1], "has 4 arguments"),
    (["bad id!", "n", 1, {}], "execution id"),
    (["e1", "", 1, {}], "malformed node id"),
    (["e1", "n", True, {}], "malformed attempt"),
    (["e1", "n", 0, {}], "malformed attempt"),
    (["e1", "n", 1, []], "payload is a JSON object"),
    (["e1", "n", 1, {"token": "t"}], "needs a token and a node spec"),
    (["e1", "n", 1, {"token": "t", "spec": {}}], "no inputs"),
    (["e1", "n", 1, {"token": "t", "spec": {}, "inputs": {"x": {"ref": ["a", "o"]}}}],
     "unresolved ref binding"),
])
def test_malformed_task_messages_say_what_is_wrong(args, reason):
    with pytest.raises(GraftError, match=reason):
        messages.check_task(args, None)


@pytest.mark.parametrize("body, reason", [
    ({"type": "report", "execution": "e", "node": "n", "attempt": 1, "token": "t",
      "outcome": "error", "error": {"kind": "MAYBE"}}, "unknown failure kind 'MAYBE'"),
    ({"type": "report", "execution": "e", "node": "n", "attempt": 1, "token": "t",
      "outcome": "values", "outputs": {"o0": {"input": "x"}}}, "unresolved input binding"),
    ({"type": "report", "execution": "e", "node": "n" * 5000, "attempt": 1, "token": "t",
      "outcome": "values", "outputs": {}}, "node id must be 1 to"),
    ({"type": "refresh", "execution": "../etc"}, "execution id"),
])
def test_malformed_control_messages_say_what_is_wrong(body, reason):
    with pytest.raises(messages.MessageError, match=reason):
        messages.check(body)


def _envelope(**fields) -> dict:
    body = base64.b64encode(json.dumps([["e1", "n", 1, {}], {}, {}]).encode()).decode()
    envelope = {"body": body, "content-type": "application/json",
                "properties": {"delivery_tag": "t", "body_encoding": "base64"},
                "headers": {"task": "graft.run_node"}}
    envelope.update(fields)
    return envelope


def _decode(body, encoding):
    return base64.b64decode(body) if encoding == "base64" else body


@pytest.mark.parametrize("message, reason", [
    ([1, 2], "not a list"),
    ({"body": "x"}, "no 'properties' object"),
    ({"body": "x", "properties": {}}, "no properties.delivery_tag"),
    (_envelope(headers=5), "headers are not an object"),
    (_envelope(body="abc"), "body cannot be decoded"),
    (_envelope(headers={"task": "t", "timelimit": 5}), "timelimit is not [hard, soft]"),
    (_envelope(body=base64.b64encode(b'{"a": 1}').decode()), "not [args, kwargs, embed]"),
    (_envelope(body=base64.b64encode(b"{nope").decode()), "task body is not JSON"),
])
def test_the_worker_transport_refuses_what_kombu_or_celery_would_die_on(message, reason):
    assert reason in transport.envelope_problem(message, _decode)


def test_the_worker_transport_passes_a_celery_message_on():
    assert transport.envelope_problem(_envelope(), _decode) is None
