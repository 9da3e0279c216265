"""The shared test vectors (`tests/vectors/plans.json`) through the Python
host: the same plans and refusals `tests/vectors.rs` asserts through the
Rust host, from the same policy component."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

import wardlock

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[3] / "tests" / "vectors" / "plans.json").read_text(
        encoding="utf-8"
    )
)


@pytest.fixture(scope="module")
def policy() -> wardlock.Policy:
    path = os.environ.get("WARDLOCK_POLICY")
    if not path:
        pytest.fail("`WARDLOCK_POLICY` is not set")
    return wardlock.Policy(path)


def test_the_policy_is_the_one_the_vectors_describe(policy: wardlock.Policy) -> None:
    expected = VECTORS["policy"]

    assert policy.info.name == expected["name"]
    assert policy.info.contract == expected["contract"]
    assert policy.info.default_timeout_ms == expected["default_timeout_ms"]


@pytest.mark.parametrize(
    "case", VECTORS["plans"], ids=lambda c: f"{c['resource']}|{c['mode']}|{c['timeout']}"
)
def test_plans_match_the_shared_vectors(policy: wardlock.Policy, case: dict[str, Any]) -> None:
    plan = policy.plan(case["resource"], timeout=case["timeout"], shared=case["mode"] == "shared")

    expect = case["expect"]
    assert plan.resource == expect["resource"]
    assert plan.mode.value == expect["mode"]
    assert plan.timeout_ms == expect["timeout_ms"]
    assert [(s.lock_file, s.mode.value, s.records_owner) for s in plan.steps] == [
        (s["lock_file"], s["mode"], s["records_owner"]) for s in expect["steps"]
    ]


@pytest.mark.parametrize(
    "case", VECTORS["invalid"], ids=lambda c: f"{c['resource']!r}|{c['timeout']!r}"
)
def test_invalid_requests_are_refused_as_the_vectors_say(
    policy: wardlock.Policy, case: dict[str, Any]
) -> None:
    kind = {
        "invalid-resource": wardlock.InvalidResource,
        "invalid-timeout": wardlock.InvalidTimeout,
    }[case["error"]]

    with pytest.raises(wardlock.InvalidInput) as raised:
        policy.plan(case["resource"], timeout=case["timeout"], shared=case["mode"] == "shared")

    assert type(raised.value) is kind, raised.value
    assert case["message_contains"] in raised.value.message
