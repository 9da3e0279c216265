//! Property tests of the pure parts of the policy: resource ids, the lock
//! files they map to, plans, and timeouts.
//!
//! Inputs are arbitrary strings, strings built from the pieces the parsers
//! care about, and valid ids with one mutation. The rules a lock-file name
//! and a message must keep live in [`invariants`], which the fuzz target in
//! `guest/fuzz` shares.
//!
//! Each property runs proptest's default 256 cases, so the whole module
//! stays well under a few seconds. For a longer hunt:
//!
//! ```text
//! PROPTEST_CASES=100000 cargo test -p wardlock-policy --release properties
//! ```
//!
//! A failure is shrunk and saved under `guest/proptest-regressions/`;
//! commit that file so the case is replayed first from then on.

mod invariants;

use std::collections::HashMap;

use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestCaseError;

use crate::engine::{OrphanedHolder, Preset, plan};
use crate::resource::{MAX_NAME_LEN, Resource};
use crate::timeout::Timeout;
use crate::wit::{Mode, RequestError};
use invariants::{lock_file_problem, message_problem};

const PRESET: Preset = Preset {
    name: "default",
    version: "0.1.0",
    default_timeout_ms: 300_000,
    orphaned_holder: OrphanedHolder::Wait,
};

/// The longest lock-file name the scheme documents.
const LONGEST_LOCK_FILE: usize = 80;

/// Nanoseconds per unit, as the timeout grammar spells the units.
const UNITS: [(&str, u128); 5] = [
    ("", 1_000_000_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Pieces that matter to the parsers, for strings near their edges.
const PIECES: [&str; 40] = [
    "wp:", "feature:", "config:", "WP", "wp", "Wp", "/", "\\", ".", "..", "-", "_", "0", "9",
    "0001", "a", "z", "Z", " ", "\t", "\n", "\0", "é", ":", "owner", ".owner", ".owner.", "tmp",
    "\u{1b}", "\u{2028}", "\u{202e}", "\u{feff}", "\u{212a}", "\u{130}", "ｗｐ", "`", "*", "?",
    "con", "nul",
];

/// Pieces a timeout parser may trip on.
const TIMEOUT_PIECES: [&str; 30] = [
    "0", "1", "5", "9", ".", "-", "+", "e", "E", "e-3", "ms", "s", "m", "h", "S", "us", "ns",
    "inf", "INF", "nan", "NaN", "forever", "infinity", " ", "\t", "_", ",", "µs", "0x", "\u{2212}",
];

/// Characters slugs may use, and a few the parsers must refuse.
const MUTATION_PIECES: [&str; 30] = [
    "A", "W", "P", "/", "\\", "\0", " ", "\t", "\n", ".", "..", "-", "_", ":", "é", "\u{2028}",
    "\u{feff}", "\u{212a}", "\u{130}", "ｗ", ".owner", ".owner.", "owner", "wp:", "WP", "0",
    "00000", "9", "`", "\u{1b}",
];

// ---------------------------------------------------------------------------
// Strategies

/// A valid feature slug or config name; half drawn from a small alphabet so
/// that near-collisions between names are common.
fn slug() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9][a-z0-9._-]{0,63}",
        "[aw0p1][aw0p1._-]{0,6}",
        "[a-z0-9]{1,8}(\\.owner[a-z0-9._-]{0,4})?",
    ]
    .prop_filter("not a valid slug", |s| {
        Resource::parse(&format!("feature:{s}")).is_ok()
    })
}

/// Any valid resource.
fn resource() -> impl Strategy<Value = Resource> {
    prop_oneof![
        (proptest::option::of(slug()), 0..=9999u16)
            .prop_map(|(feature, number)| Resource::WorkPackage { feature, number }),
        slug().prop_map(Resource::Feature),
        slug().prop_map(Resource::Config),
    ]
}

/// A valid id for a resource, spelled canonically or not: any case of `WP`
/// and any number of leading zeros up to four digits.
fn spelling(resource: Resource) -> impl Strategy<Value = (Resource, String)> {
    (any::<[bool; 2]>(), 0..=4usize).prop_map(move |([upper_w, upper_p], width)| {
        let id = match &resource {
            Resource::WorkPackage { feature, number } => {
                let w = if upper_w { "W" } else { "w" };
                let p = if upper_p { "P" } else { "p" };
                let wp = format!("{w}{p}{number:0width$}");
                match feature {
                    Some(feature) => format!("wp:{feature}/{wp}"),
                    None => format!("wp:{wp}"),
                }
            }
            other => other.to_string(),
        };
        (resource.clone(), id)
    })
}

/// A valid id in any spelling, with the resource it names.
fn valid_id() -> impl Strategy<Value = (Resource, String)> {
    resource().prop_flat_map(spelling)
}

/// One change to a string.
#[derive(Clone, Debug)]
enum Mutation {
    Insert(usize, &'static str),
    Replace(usize, &'static str),
    Delete(usize),
    ToggleCase(usize),
    Append(&'static str),
    Prepend(&'static str),
    /// Lengthen the part after the last separator to this many bytes.
    Stretch(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let piece = || select(&MUTATION_PIECES[..]);
    prop_oneof![
        (any::<usize>(), piece()).prop_map(|(at, p)| Mutation::Insert(at, p)),
        (any::<usize>(), piece()).prop_map(|(at, p)| Mutation::Replace(at, p)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::ToggleCase),
        piece().prop_map(Mutation::Append),
        piece().prop_map(Mutation::Prepend),
        (MAX_NAME_LEN - 2..=MAX_NAME_LEN + 2).prop_map(Mutation::Stretch),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

/// The char boundary nearest below `at % (len + 1)`.
fn boundary(text: &str, at: usize) -> usize {
    let mut at = at % (text.len() + 1);
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// Apply a mutation.
fn mutate(text: &str, mutation: &Mutation) -> String {
    let mut out = text.to_owned();
    match *mutation {
        Mutation::Insert(at, piece) => out.insert_str(boundary(text, at), piece),
        Mutation::Replace(at, piece) => {
            let at = boundary(text, at);
            let end = text[at..].chars().next().map_or(at, |c| at + c.len_utf8());
            out.replace_range(at..end, piece);
        }
        Mutation::Delete(at) => {
            let at = boundary(text, at);
            if at < text.len() {
                out.remove(at);
            }
        }
        Mutation::ToggleCase(at) => {
            let at = boundary(text, at);
            if let Some(c) = text[at..].chars().next() {
                let toggled: String = if c.is_lowercase() {
                    c.to_uppercase().collect()
                } else {
                    c.to_lowercase().collect()
                };
                out.replace_range(at..at + c.len_utf8(), &toggled);
            }
        }
        Mutation::Append(piece) => out.push_str(piece),
        Mutation::Prepend(piece) => out.insert_str(0, piece),
        Mutation::Stretch(len) => {
            let start = text.rfind([':', '/']).map_or(0, |i| i + 1);
            let tail = &text[start..];
            if tail.len() < len {
                out.push_str(&"x".repeat(len - tail.len()));
            }
        }
        Mutation::Truncate(at) => out.truncate(boundary(text, at)),
    }
    out
}

/// A string made of pieces the parsers care about.
fn pieces(set: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::collection::vec(select(set), 0..10).prop_map(|p| p.concat())
}

/// Any string at all, near the parsers' edges or not.
fn any_id() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        pieces(&PIECES),
        "(wp|feature|config|WP|Feature)?:?[a-zA-Z0-9._/\\\\-]{0,70}",
        (valid_id(), mutation()).prop_map(|((_, id), m)| mutate(&id, &m)),
    ]
}

/// A mode.
fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![Just(Mode::Shared), Just(Mode::Exclusive)]
}

// ---------------------------------------------------------------------------
// Checks

/// Check a message against the rules for user-facing text.
fn check_message(message: &str, input: &str) -> Result<(), TestCaseError> {
    if let Some(problem) = message_problem(message) {
        return Err(TestCaseError::fail(format!(
            "message for {input:?} {problem}: {message:?}"
        )));
    }
    Ok(())
}

/// Check a lock-file name against the portability and reservation rules.
fn check_lock_file(name: &str) -> Result<(), TestCaseError> {
    if let Some(problem) = lock_file_problem(name) {
        return Err(TestCaseError::fail(format!("lock file {name:?} {problem}")));
    }
    prop_assert!(name.len() <= LONGEST_LOCK_FILE, "{name:?} is long");
    Ok(())
}

/// Everything a valid resource promises: its lock file keeps the rules and
/// decodes to it, and its canonical spelling parses to it.
fn check_resource(resource: &Resource) -> Result<(), TestCaseError> {
    let name = resource.lock_file();
    check_lock_file(&name)?;
    prop_assert_eq!(Resource::from_lock_file(&name), Some(resource.clone()));

    let canonical = resource.to_string();
    prop_assert_eq!(Resource::parse(&canonical), Ok(resource.clone()));
    prop_assert!(canonical.is_ascii(), "{canonical:?}");
    Ok(())
}

/// Parsing any string gives a resource keeping every promise, or a
/// refusal with a proper message.
fn check_any_id(id: &str) -> Result<(), TestCaseError> {
    match Resource::parse(id) {
        Ok(resource) => {
            check_resource(&resource)?;
            // Only the work package id has other spellings.
            if !matches!(resource, Resource::WorkPackage { .. }) {
                prop_assert_eq!(resource.to_string(), id);
            }
            Ok(())
        }
        Err(message) => check_message(&message, id),
    }
}

/// A name decodes only if it is the canonical lock file of what it decodes
/// to.
fn check_any_lock_file(name: &str) -> Result<(), TestCaseError> {
    if let Some(resource) = Resource::from_lock_file(name) {
        prop_assert_eq!(resource.lock_file(), name);
        check_resource(&resource)?;
    }
    Ok(())
}

/// A plan keeps the lock order and the naming rules, and agrees with the
/// parsers on what it accepts and why it refuses.
fn check_plan(id: &str, mode: Mode, timeout: Option<&str>) -> Result<(), TestCaseError> {
    let parsed = Resource::parse(id);
    let timeout_parsed = Timeout::parse_or(timeout, PRESET.default_timeout_ms);

    match plan(&PRESET, id, mode, timeout) {
        Ok(p) => {
            let resource = parsed.map_err(TestCaseError::fail)?;
            let timeout = timeout_parsed.map_err(TestCaseError::fail)?;
            prop_assert_eq!(&p.resource, &resource.to_string());
            prop_assert_eq!(p.mode, mode);
            prop_assert_eq!(p.timeout_ms, timeout.as_ms());

            // Every step name keeps the rules and names a resource.
            for step in &p.steps {
                check_lock_file(&step.lock_file)?;
                prop_assert!(Resource::from_lock_file(&step.lock_file).is_some());
            }

            // The resource's own lock file comes last, in the mode asked.
            let own = p.steps.last().expect("a plan has steps");
            prop_assert_eq!(&own.lock_file, &resource.lock_file());
            prop_assert_eq!(own.mode, mode);
            prop_assert_eq!(own.records_owner, mode == Mode::Exclusive);

            // A feature's work package takes the feature shared first.
            match &resource {
                Resource::WorkPackage {
                    feature: Some(feature),
                    ..
                } => {
                    prop_assert_eq!(p.steps.len(), 2);
                    let first = &p.steps[0];
                    let feature_file = Resource::Feature(feature.clone()).lock_file();
                    prop_assert_eq!(&first.lock_file, &feature_file);
                    prop_assert_eq!(first.mode, Mode::Shared);
                    prop_assert!(!first.records_owner);
                    prop_assert!(
                        !first.lock_file.eq_ignore_ascii_case(&own.lock_file),
                        "steps share a lock file"
                    );
                }
                _ => prop_assert_eq!(p.steps.len(), 1),
            }
        }
        Err(RequestError::InvalidResource(message)) => {
            prop_assert_eq!(Err(message.clone()), parsed);
            check_message(&message, id)?;
        }
        Err(RequestError::InvalidTimeout(message)) => {
            prop_assert!(parsed.is_ok(), "a timeout refusal for an invalid resource");
            prop_assert_eq!(Err(message.clone()), timeout_parsed);
            check_message(&message, timeout.unwrap_or_default())?;
        }
    }
    Ok(())
}

/// Parsing any timeout gives a wait or a refusal with a proper message,
/// and whatever it gives can be described.
fn check_any_timeout(text: &str) -> Result<Option<Timeout>, TestCaseError> {
    match Timeout::parse(text) {
        Ok(timeout) => {
            // Whatever the text, nothing negative-looking is accepted.
            prop_assert!(!text.trim().starts_with('-'), "{text:?} gave {timeout:?}");
            match (timeout, timeout.as_ms()) {
                (Timeout::After(ns), Some(ms)) => {
                    let ns = u128::from(ns);
                    let ms = u128::from(ms);
                    prop_assert!(ms * 1_000_000 >= ns && ms * 1_000_000 < ns + 1_000_000);
                }
                (Timeout::Forever, None) => {}
                other => prop_assert!(false, "{other:?}"),
            }
            prop_assert!(!timeout.describe().is_empty());
            Ok(Some(timeout))
        }
        Err(message) => {
            check_message(&message, text)?;
            Ok(None)
        }
    }
}

/// The exact value of `whole.fraction` units, in nanoseconds, rounded
/// down; `Forever` past `u64`. Needs at most 20 digits on either side.
fn exact(whole: &str, fraction: &str, unit_ns: u128) -> Timeout {
    let whole_n: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().expect("digits")
    };
    let fraction_n: u128 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().expect("digits")
    };
    let scale = 10u128.pow(u32::try_from(fraction.len()).expect("short"));
    let ns = whole_n * unit_ns + fraction_n * unit_ns / scale;
    u64::try_from(ns).map_or(Timeout::Forever, Timeout::After)
}

/// Timeouts in order, for ever last.
fn order(t: Timeout) -> (bool, u64) {
    match t {
        Timeout::After(ns) => (false, ns),
        Timeout::Forever => (true, 0),
    }
}

/// Parse a timeout that must be accepted.
fn accepted(text: &str) -> Result<Timeout, TestCaseError> {
    Timeout::parse(text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))
}

// ---------------------------------------------------------------------------
// Resources and lock files

proptest! {
    #[test]
    fn any_string_is_a_resource_keeping_every_rule_or_a_refusal(id in any_id()) {
        check_any_id(&id)?;
    }

    #[test]
    fn valid_ids_in_any_spelling_parse_to_their_resource((resource, id) in valid_id()) {
        prop_assert_eq!(Resource::parse(&id), Ok(resource.clone()));
        check_resource(&resource)?;
    }

    #[test]
    fn valid_ids_with_one_mutation_parse_or_are_refused(
        (_, id) in valid_id(),
        mutation in mutation(),
    ) {
        check_any_id(&mutate(&id, &mutation))?;
    }

    #[test]
    fn two_resources_never_share_a_lock_file_even_ignoring_case(
        a in resource(),
        b in resource(),
    ) {
        let (name_a, name_b) = (a.lock_file(), b.lock_file());

        prop_assert_eq!(a == b, name_a == name_b);
        prop_assert_eq!(a == b, name_a.to_lowercase() == name_b.to_lowercase());
    }

    #[test]
    fn only_canonical_lock_file_names_decode(
        resource in resource(),
        mutation in mutation(),
        flips in proptest::collection::vec(any::<bool>(), 0..90),
    ) {
        let name = resource.lock_file();
        let flipped: String = name
            .chars()
            .zip(flips.iter().chain(std::iter::repeat(&false)))
            .map(|(c, &flip)| if flip { flip_ascii_case(c) } else { c })
            .collect();
        let mutated = mutate(&name, &mutation);

        for candidate in [&flipped, &mutated] {
            check_any_lock_file(candidate)?;
            // A case variant of a lock file names that resource or none.
            if candidate.eq_ignore_ascii_case(&name) {
                let decoded = Resource::from_lock_file(candidate);
                prop_assert!(decoded.is_none() || decoded == Some(resource.clone()));
            }
        }
    }

    #[test]
    fn any_string_decodes_only_as_a_canonical_lock_file(
        name in prop_oneof![
            any::<String>(),
            pieces(&PIECES),
            "\\.lock-(WP|wp|feature|config|Feature)-[a-zA-Z0-9._-]{0,70}",
        ],
    ) {
        check_any_lock_file(&name)?;
    }

    // -----------------------------------------------------------------------
    // Plans

    #[test]
    fn every_plan_keeps_the_lock_order_and_the_naming_rules(
        id in prop_oneof![valid_id().prop_map(|(_, id)| id), any_id()],
        mode in mode(),
        timeout in proptest::option::of(prop_oneof![
            pieces(&TIMEOUT_PIECES),
            any::<String>(),
            any::<f64>().prop_map(|x| x.to_string()),
        ]),
    ) {
        check_plan(&id, mode, timeout.as_deref())?;
    }

    // -----------------------------------------------------------------------
    // Timeouts

    #[test]
    fn any_timeout_text_is_a_wait_or_a_refusal(
        text in prop_oneof![any::<String>(), pieces(&TIMEOUT_PIECES)],
    ) {
        check_any_timeout(&text)?;
    }

    #[test]
    fn numbers_formatted_any_way_give_a_defined_result(
        x in prop_oneof![
            any::<f64>(),
            Just(0.0),
            Just(-0.0),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(f64::MAX),
            Just(f64::MIN_POSITIVE),
            0.0..1e6,
        ],
        format in 0..7usize,
        unit in select(&["", "s", "ms", "m", "h", "S", " s", "sec", "us", "ns", "d", "e3"][..]),
        pad in select(&["", " ", "\t", "\n ", "\u{3000}"][..]),
    ) {
        let number = match format {
            0 => format!("{x}"),
            1 => format!("{x:e}"),
            2 => format!("{x:E}"),
            3 => format!("{x:.3}"),
            4 => format!("{x:?}"),
            5 => format!("{x:+}"),
            _ => format!("{x:.0}"),
        };
        let text = format!("{pad}{number}{unit}{pad}");

        let result = check_any_timeout(&text)?;

        if x.is_nan() {
            prop_assert_eq!(result, None, "NaN accepted: {:?}", text);
        }
        if number.starts_with('-') {
            prop_assert_eq!(result, None, "negative accepted: {:?}", text);
        }
        if number == "inf" && unit.is_empty() {
            prop_assert_eq!(result, Some(Timeout::Forever));
        }
    }

    #[test]
    fn decimal_timeouts_are_exact_to_the_nanosecond(
        whole in "[0-9]{0,20}",
        fraction in proptest::option::of("[0-9]{0,20}"),
        (unit, unit_ns) in select(&UNITS[..]),
    ) {
        prop_assume!(!whole.is_empty() || fraction.as_deref().is_some_and(|f| !f.is_empty()));
        let text = match &fraction {
            Some(fraction) => format!("{whole}.{fraction}{unit}"),
            None => format!("{whole}{unit}"),
        };

        let parsed = accepted(&text)?;

        let expected = exact(&whole, fraction.as_deref().unwrap_or_default(), unit_ns);
        prop_assert_eq!(parsed, expected, "{:?}", text);
    }

    #[test]
    fn timeouts_grow_with_the_number_for_a_fixed_unit(
        a in prop_oneof![0.0..1e3, 0.0..1e12, 0.0..f64::MAX],
        b in prop_oneof![0.0..1e3, 0.0..1e12, 0.0..f64::MAX],
        (unit, _) in select(&UNITS[..]),
    ) {
        // `{}` prints an f64 as the shortest exact decimal, never in
        // exponent form, so the texts are ordered as the numbers are.
        let (low, high) = if a <= b { (a, b) } else { (b, a) };

        let low_t = accepted(&format!("{low}{unit}"))?;
        let high_t = accepted(&format!("{high}{unit}"))?;

        prop_assert!(order(low_t) <= order(high_t), "{low} {low_t:?} > {high} {high_t:?}");
    }

    #[test]
    fn whole_numbers_grow_with_the_number_and_the_unit(
        a in any::<u64>(),
        b in any::<u64>(),
        fraction in "[0-9]{0,12}",
    ) {
        let (low, high) = (a.min(b), a.max(b));

        for (unit, _) in UNITS {
            let low_t = accepted(&format!("{low}.{fraction}{unit}"))?;
            let high_t = accepted(&format!("{high}.{fraction}{unit}"))?;
            prop_assert!(order(low_t) <= order(high_t));
        }
        let mut by_unit = Vec::new();
        for unit in ["ms", "s", "m", "h"] {
            by_unit.push(order(accepted(&format!("{low}.{fraction}{unit}"))?));
        }
        prop_assert!(by_unit.is_sorted(), "{low}.{fraction}: {by_unit:?}");
    }

    #[test]
    fn spellings_of_one_number_give_one_timeout(n in any::<u64>(), zeros in 0..4usize) {
        let zeros = "0".repeat(zeros);
        let seconds = accepted(&n.to_string())?;
        let minutes = accepted(&format!("{n}m"))?;

        for (text, expected) in [
            (format!("{n}s"), seconds),
            (format!("{n}."), seconds),
            (format!("{n}.{zeros}"), seconds),
            (format!("{zeros}{n}"), seconds),
            (format!(" {n}\t"), seconds),
            (format!("{n}000ms"), seconds),
            (format!("{}s", u128::from(n) * 60), minutes),
            (format!("{}.{zeros}m", n), minutes),
        ] {
            prop_assert_eq!(accepted(&text)?, expected, "{:?}", text);
        }
        let (negative, plus) = (format!("-{n}"), format!("+{n}"));
        prop_assert!(Timeout::parse(&negative).is_err());
        prop_assert!(Timeout::parse(&plus).is_err());
    }

    #[test]
    fn defaults_are_used_only_without_a_timeout(ms in any::<u64>()) {
        let expected = ms
            .checked_mul(1_000_000)
            .map_or(Timeout::Forever, Timeout::After);

        prop_assert_eq!(Timeout::parse_or(None, ms), Ok(expected));
        prop_assert_eq!(Timeout::parse_or(Some("0"), ms), Ok(Timeout::After(0)));
    }
}

/// Flip the case of an ASCII letter.
fn flip_ascii_case(c: char) -> char {
    if c.is_ascii_lowercase() {
        c.to_ascii_uppercase()
    } else {
        c.to_ascii_lowercase()
    }
}

// ---------------------------------------------------------------------------
// Exhaustive checks over small domains

/// Every string of up to `len` characters from `alphabet`.
fn all_strings(alphabet: &[char], len: usize) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut last = vec![String::new()];
    for _ in 0..len {
        last = last
            .iter()
            .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
            .collect();
        out.extend(last.iter().cloned());
    }
    out
}

#[test]
fn lock_files_are_injective_ignoring_case_over_every_short_slug() {
    // Letters that spell `wp`, digits, and every separator.
    let slugs: Vec<String> = all_strings(&['a', 'w', 'p', '0', '1', '-', '.', '_'], 3)
        .into_iter()
        .filter(|s| Resource::parse(&format!("config:{s}")).is_ok())
        .collect();
    let mut resources: Vec<Resource> = (0..=9999)
        .map(|number| Resource::WorkPackage {
            feature: None,
            number,
        })
        .collect();
    for slug in &slugs {
        resources.push(Resource::Feature(slug.clone()));
        resources.push(Resource::Config(slug.clone()));
        for number in [0, 1, 10, 100, 1000, 9999] {
            resources.push(Resource::WorkPackage {
                feature: Some(slug.clone()),
                number,
            });
        }
    }

    let mut seen = HashMap::new();
    for resource in &resources {
        let name = resource.lock_file();
        if let Some(problem) = lock_file_problem(&name) {
            panic!("{resource}: lock file {name:?} {problem}");
        }
        assert_eq!(Resource::from_lock_file(&name).as_ref(), Some(resource));
        if let Some(other) = seen.insert(name.to_lowercase(), resource) {
            panic!("{resource} and {other} share lock file {name:?} ignoring case");
        }
    }

    assert!(slugs.len() > 300, "{} slugs", slugs.len());
    assert_eq!(seen.len(), resources.len());
}

#[test]
fn every_short_timeout_text_is_a_wait_or_a_refusal() {
    let texts = all_strings(&['0', '1', '9', '.', '-', 'm', 's', 'h', ' '], 4);

    for text in &texts {
        if let Err(e) = check_any_timeout(text) {
            panic!("{text:?}: {e}");
        }
    }

    assert_eq!(texts.len(), 1 + 9 + 81 + 729 + 6561);
}

#[test]
fn zero_in_any_spelling_tries_once() {
    for text in ["0", "0.0", "00", ".0", "0.", "0ms", "0h", "000.000m", " 0 "] {
        let timeout = Timeout::parse(text).expect(text);

        assert!(timeout.is_zero(), "{text:?} gave {timeout:?}");
        assert_eq!(timeout.as_ms(), Some(0));
    }
}

#[test]
fn the_shared_name_rules_reject_what_they_should() {
    for bad in [
        "",
        ".",
        "..",
        "a/b",
        "a\\b",
        "a\0b",
        "a\nb",
        "a..b",
        "a.",
        "a ",
        "x.owner",
        "x.owner.tmp",
        ".wardlock-x",
        "-x",
        "con",
        "Nul.txt",
        "caf\u{e9}",
        "a:b",
        &"a".repeat(invariants::LOCK_FILE_LIMIT + 1),
    ] {
        assert!(lock_file_problem(bad).is_some(), "{bad:?} passed");
    }
    for good in [".lock-WP-a-WP01", ".lock-feature-x.y", "console", "a"] {
        assert_eq!(lock_file_problem(good), None, "{good:?}");
    }
    assert!(message_problem("Failed.").is_some() && message_problem("").is_some());
    assert!(message_problem("line\nbreak").is_some());
    assert_eq!(message_problem("timeout `x` is negative"), None);
}
