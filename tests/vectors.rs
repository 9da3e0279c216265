//! The shared test vectors (`tests/vectors/plans.json`): the plans the
//! default policy must give, and the requests it must refuse, asserted here
//! through the Rust host. The Python host asserts the same file
//! (`host/python/tests/test_vectors.py`), so both hosts are held to one
//! contract.

use serde_json::Value;
use wardlock::{Error, Mode, Policy, Timeout};

/// The vectors, parsed.
fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/plans.json");
    let text = std::fs::read_to_string(path).expect("tests/vectors/plans.json");
    serde_json::from_str(&text).expect("valid JSON")
}

fn mode(name: &str) -> Mode {
    match name {
        "shared" => Mode::Shared,
        "exclusive" => Mode::Exclusive,
        other => panic!("unknown mode `{other}` in the vectors"),
    }
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Shared => "shared",
        Mode::Exclusive => "exclusive",
    }
}

/// A case's timeout: `null` is the policy's default, text is passed on as
/// the contract's timeout text.
fn timeout(case: &Value) -> Timeout {
    match &case["timeout"] {
        Value::Null => Timeout::Default,
        Value::String(text) => Timeout::Text(text.clone()),
        other => panic!("timeout must be null or text, not {other}"),
    }
}

fn text<'a>(case: &'a Value, key: &str) -> &'a str {
    case[key]
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` must be text in {case}"))
}

#[test]
fn the_embedded_policy_is_the_one_the_vectors_describe() {
    let expected = &vectors()["policy"];
    let policy = Policy::embedded().expect("embedded policy");

    let info = policy.info();

    assert_eq!(info.name, text(expected, "name"));
    assert_eq!(info.contract, text(expected, "contract"));
    assert_eq!(
        Some(info.default_timeout_ms),
        expected["default_timeout_ms"].as_u64()
    );
}

#[test]
fn plans_match_the_shared_vectors() {
    let vectors = vectors();
    let policy = Policy::embedded().expect("embedded policy");
    let cases = vectors["plans"].as_array().expect("plans");
    assert!(!cases.is_empty());

    for case in cases {
        let resource = text(case, "resource");
        let plan = policy
            .plan(resource, mode(text(case, "mode")), &timeout(case))
            .unwrap_or_else(|e| panic!("{case}: {e}"));

        let expect = &case["expect"];
        assert_eq!(plan.resource, text(expect, "resource"), "{case}");
        assert_eq!(mode_name(plan.mode), text(expect, "mode"), "{case}");
        assert_eq!(plan.timeout_ms, expect["timeout_ms"].as_u64(), "{case}");
        let steps = expect["steps"].as_array().expect("steps");
        assert_eq!(plan.steps.len(), steps.len(), "{case}");
        for (got, want) in plan.steps.iter().zip(steps) {
            assert_eq!(got.lock_file, text(want, "lock_file"), "{case}");
            assert_eq!(mode_name(got.mode), text(want, "mode"), "{case}");
            assert_eq!(
                Some(got.records_owner),
                want["records_owner"].as_bool(),
                "{case}"
            );
        }
    }
}

#[test]
fn invalid_requests_are_refused_as_the_vectors_say() {
    let vectors = vectors();
    let policy = Policy::embedded().expect("embedded policy");
    let cases = vectors["invalid"].as_array().expect("invalid");
    assert!(!cases.is_empty());

    for case in cases {
        let result = policy.plan(
            text(case, "resource"),
            mode(text(case, "mode")),
            &timeout(case),
        );

        let (variant, message) = match result {
            Err(Error::InvalidResource(m)) => ("invalid-resource", m),
            Err(Error::InvalidTimeout(m)) => ("invalid-timeout", m),
            Err(other) => panic!("{case}: unexpected error {other}"),
            Ok(plan) => panic!("{case}: accepted as {plan:?}"),
        };
        assert_eq!(variant, text(case, "error"), "{case}: {message}");
        assert!(
            message.contains(text(case, "message_contains")),
            "{case}: {message}"
        );
    }
}
