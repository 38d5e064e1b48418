"""``GET /explain`` on a real server (a free loopback port, real HTTP requests): the same top-k as
``GET /recommend``, reasons in original ids with titles, one-line errors for bad input."""

from __future__ import annotations

import pytest

import recframe
from recframe.serving.server import create_app
from tests.serving.test_server import ThreadedServer, call


@pytest.fixture(scope="module")
def server(closed_form_run):
    handle = recframe.load(closed_form_run("ease"))
    with ThreadedServer(create_app(handle)) as base:
        yield base, handle


def test_explain_answers_the_recommendations_with_their_reasons(server):
    base, handle = server
    status, body = call(base, "/explain?user=5&k=4&reasons=3")
    assert status == 200, body
    _, recommended = call(base, "/recommend?user=5&k=4")
    assert [e["item"] for e in body["items"]] == [e["item"] for e in recommended["items"]]
    assert body["explainer"] == "item_weights" and body["exact"] is True and body["user"] == 5
    history = set(handle.saved.train.item_ids[handle.seen[handle.users.internal([5], "u")[0]].indices].tolist())
    for entry in body["items"]:
        assert entry["title"] and len(entry["reasons"]) == 3
        weights = [r["weight"] for r in entry["reasons"]]
        assert weights == sorted(weights, reverse=True)
        assert all(r["item"] in history and r["title"] for r in entry["reasons"])


@pytest.mark.parametrize(
    ("query", "field", "status"),
    [
        ("/explain?k=3", "user", 400),
        ("/explain?user=999999", "user", 404),
        ("/explain?user=5&reasons=0", "reasons", 400),
    ],
)
def test_bad_explain_requests_are_one_line_naming_the_field(server, query, field, status):
    base, _ = server
    code, body = call(base, query)
    assert code == status and body["field"] == field and "\n" not in body["error"]
