//! Fuzz the policy's parsers: resource ids, lock-file names, plans and
//! timeouts, from arbitrary bytes.
//!
//! The bytes are read three ways: as they are when they are UTF-8 (lossily
//! otherwise), as Latin-1 (every byte one character, so bytes 0x80 to 0xff
//! become characters too), and split at the first 0xff byte into a
//! resource id and a timeout. Every reading goes through resource parsing,
//! lock-file naming and decoding, planning in both modes, and timeout
//! parsing. A panic is a finding: either a parser panicked or one of the
//! invariants below, the same the property tests check, was broken.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wardlock_policy::engine::{OrphanedHolder, Preset, plan};
use wardlock_policy::resource::Resource;
use wardlock_policy::timeout::Timeout;
use wardlock_policy::wit::{Mode, RequestError};

#[path = "../../src/properties/invariants.rs"]
mod invariants;

use invariants::{lock_file_problem, message_problem};

const PRESET: Preset = Preset {
    name: "default",
    version: "0.1.0",
    default_timeout_ms: 300_000,
    orphaned_holder: OrphanedHolder::Wait,
};

/// The longest lock-file name the scheme documents.
const LONGEST_LOCK_FILE: usize = 80;

fuzz_target!(|data: &[u8]| {
    // The text as given, or lossily when it is not UTF-8.
    let text = String::from_utf8_lossy(data);
    check_text(&text);

    // Every byte a character of its own.
    let latin1: String = data.iter().map(|&b| char::from(b)).collect();
    check_text(&latin1);

    // A resource and a timeout, for plans that get past the resource.
    if let Some(at) = data.iter().position(|&b| b == 0xff) {
        let resource = String::from_utf8_lossy(&data[..at]);
        let timeout = String::from_utf8_lossy(&data[at + 1..]);
        check_text(&resource);
        check_text(&timeout);
        for mode in [Mode::Shared, Mode::Exclusive] {
            check_plan(&resource, mode, Some(&timeout));
        }
    }
});

/// Run one text through every parser.
fn check_text(text: &str) {
    check_id(text);
    check_lock_file_name(text);
    check_timeout(text);
    for mode in [Mode::Shared, Mode::Exclusive] {
        check_plan(text, mode, None);
        check_plan(text, mode, Some(text));
    }
}

/// A message keeps the rules for user-facing text.
fn check_message(message: &str, input: &str) {
    if let Some(problem) = message_problem(message) {
        panic!("message for {input:?} {problem}: {message:?}");
    }
}

/// A lock-file name keeps the portability and reservation rules.
fn check_lock_file(name: &str) {
    if let Some(problem) = lock_file_problem(name) {
        panic!("lock file {name:?} {problem}");
    }
    assert!(name.len() <= LONGEST_LOCK_FILE, "{name:?} is long");
}

/// A valid resource's lock file keeps the rules and decodes to it, and its
/// canonical spelling parses to it.
fn check_resource(resource: &Resource) {
    let name = resource.lock_file();
    check_lock_file(&name);
    assert_eq!(Resource::from_lock_file(&name).as_ref(), Some(resource));

    // No case variant of the name decodes to another resource.
    for variant in [name.to_ascii_lowercase(), name.to_ascii_uppercase()] {
        if let Some(other) = Resource::from_lock_file(&variant) {
            assert_eq!(&other, resource, "{name:?} and {variant:?}");
        }
    }

    let canonical = resource.to_string();
    assert_eq!(Resource::parse(&canonical).as_ref(), Ok(resource));
}

/// Any id parses to a resource keeping every promise, or is refused with
/// a proper message.
fn check_id(id: &str) {
    match Resource::parse(id) {
        Ok(resource) => {
            check_resource(&resource);
            if !matches!(resource, Resource::WorkPackage { .. }) {
                assert_eq!(resource.to_string(), id);
            }
        }
        Err(message) => check_message(&message, id),
    }
}

/// A name decodes only as the canonical lock file of what it decodes to.
fn check_lock_file_name(name: &str) {
    if let Some(resource) = Resource::from_lock_file(name) {
        assert_eq!(resource.lock_file(), name);
        check_resource(&resource);
    }
}

/// A plan keeps the lock order and the naming rules, and agrees with the
/// parsers on what it accepts and why it refuses.
fn check_plan(id: &str, mode: Mode, timeout: Option<&str>) {
    let parsed = Resource::parse(id);
    let timeout_parsed = Timeout::parse_or(timeout, PRESET.default_timeout_ms);

    match plan(&PRESET, id, mode, timeout) {
        Ok(p) => {
            let resource = parsed.expect("a plan for an invalid resource");
            let timeout = timeout_parsed.expect("a plan with an invalid timeout");
            assert_eq!(p.resource, resource.to_string());
            assert_eq!(p.mode, mode);
            assert_eq!(p.timeout_ms, timeout.as_ms());
            for step in &p.steps {
                check_lock_file(&step.lock_file);
                assert!(Resource::from_lock_file(&step.lock_file).is_some());
            }

            // The resource's own lock file comes last, in the mode asked.
            let own = p.steps.last().expect("a plan has steps");
            assert_eq!(own.lock_file, resource.lock_file());
            assert_eq!(own.mode, mode);
            assert_eq!(own.records_owner, mode == Mode::Exclusive);

            // A feature's work package takes the feature shared first.
            if let Resource::WorkPackage {
                feature: Some(feature),
                ..
            } = &resource
            {
                assert_eq!(p.steps.len(), 2);
                let first = &p.steps[0];
                assert_eq!(
                    first.lock_file,
                    Resource::Feature(feature.clone()).lock_file()
                );
                assert_eq!(first.mode, Mode::Shared);
                assert!(!first.records_owner);
                assert!(!first.lock_file.eq_ignore_ascii_case(&own.lock_file));
            } else {
                assert_eq!(p.steps.len(), 1);
            }
        }
        Err(RequestError::InvalidResource(message)) => {
            assert_eq!(Err(&message), parsed.as_ref());
            check_message(&message, id);
        }
        Err(RequestError::InvalidTimeout(message)) => {
            assert!(parsed.is_ok(), "a timeout refusal for an invalid resource");
            assert_eq!(Err(&message), timeout_parsed.as_ref());
            check_message(&message, timeout.unwrap_or_default());
        }
    }
}

/// Timeouts in order, for ever last.
fn order(t: Timeout) -> (bool, u64) {
    match t {
        Timeout::After(ns) => (false, ns),
        Timeout::Forever => (true, 0),
    }
}

/// Any timeout text is a wait that can be described, or a refusal with a
/// proper message; a wait grows when a digit is put in front of it.
fn check_timeout(text: &str) {
    let timeout = match Timeout::parse(text) {
        Ok(timeout) => timeout,
        Err(message) => return check_message(&message, text),
    };

    assert!(!text.trim().starts_with('-'), "{text:?} gave {timeout:?}");
    match (timeout, timeout.as_ms()) {
        (Timeout::After(ns), Some(ms)) => {
            let (ns, ms) = (u128::from(ns), u128::from(ms));
            assert!(ms * 1_000_000 >= ns && ms * 1_000_000 < ns + 1_000_000);
        }
        (Timeout::Forever, None) => {}
        other => panic!("{text:?}: {other:?}"),
    }
    assert!(!timeout.describe().is_empty());

    // `1` before the number makes it larger; the unit stays.
    let trimmed = text.trim();
    if trimmed.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        let larger = Timeout::parse(&format!("1{trimmed}"))
            .unwrap_or_else(|e| panic!("{trimmed:?} parsed but 1{trimmed:?} did not: {e}"));
        assert!(
            order(larger) >= order(timeout),
            "1{trimmed:?} gave {larger:?}, less than {timeout:?}"
        );
    }
}
