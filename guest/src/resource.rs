//! Resource ids, their validation, and the lock-file names they map to.
//!
//! A resource id is `kind:name`. The kinds are `wp:<feature>/<WPxx>` (a work
//! package of a feature), `wp:<WPxx>` (a work package of no feature),
//! `feature:<slug>` and `config:<name>`. Slugs and names are 1 to 64 bytes
//! of `[a-z0-9._-]`, start with a letter or digit, contain no `..`, do not
//! end in `.`, and never end in `.owner` or contain `.owner.` (the host keeps
//! owner records and their temporary files under those suffixes). A work
//! package id is `WP` and 1 to 4 digits, read case-insensitively and
//! spelled canonically as `WP` and at least two digits (`wp1`, `WP01` and
//! `WP001` are all `WP01`), so one work package never has two lock files.
//!
//! The mapping to lock-file names is injective and has an inverse,
//! [`Resource::from_lock_file`]:
//!
//! | resource | lock file |
//! | --- | --- |
//! | `wp:F/WPnn` | `.lock-WP-F-WPnn` |
//! | `wp:WPnn` | `.lock-WP-WPnn` |
//! | `feature:F` | `.lock-feature-F` |
//! | `config:N` | `.lock-config-N` |
//!
//! The three prefixes differ and none is a prefix of another; a work
//! package id holds no `-`, so the last `-` after `.lock-WP-` separates a
//! feature from its work package, and the feature-less form has no `-` at
//! all. Slugs are lowercase and work package ids uppercase, so two names
//! never differ only in case. The longest name is 80 bytes.

use std::fmt;

use crate::text::quote;

/// The lock-file prefix of work packages.
pub const WP_PREFIX: &str = ".lock-WP-";

/// The lock-file prefix of features.
pub const FEATURE_PREFIX: &str = ".lock-feature-";

/// The lock-file prefix of configurations.
pub const CONFIG_PREFIX: &str = ".lock-config-";

/// The longest slug or name, in bytes.
pub const MAX_NAME_LEN: usize = 64;

/// The most digits a work package id may have.
const MAX_WP_DIGITS: usize = 4;

/// The suffix the host stores owner records under.
const OWNER_SUFFIX: &str = ".owner";

/// A piece the host reserves inside names (owner records' temporary files).
const OWNER_INFIX: &str = ".owner.";

/// The characters a slug or name may use, for messages.
const CHARSET: &str = "a-z, 0-9, `-`, `_` and `.`";

/// The kinds there are, for messages.
const KINDS: &str = "`wp`, `feature` and `config`";

/// A validated resource.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    /// A work package, of a feature or of none.
    WorkPackage {
        /// The feature slug, if the work package belongs to one.
        feature: Option<String>,
        /// The work package number (`WP07` is 7).
        number: u16,
    },
    /// A whole feature, with all its work packages.
    Feature(String),
    /// A configuration, independent of features.
    Config(String),
}

/// What kind of name a slug is, for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NameKind {
    /// A feature slug.
    Feature,
    /// A configuration name.
    Config,
}

impl NameKind {
    /// How messages call this kind of name.
    fn noun(self) -> &'static str {
        match self {
            NameKind::Feature => "feature slug",
            NameKind::Config => "config name",
        }
    }

    /// The plural, for the charset hint.
    fn plural(self) -> &'static str {
        match self {
            NameKind::Feature => "slugs",
            NameKind::Config => "names",
        }
    }
}

impl Resource {
    /// Parse and validate a resource id; the error names the rule broken.
    pub fn parse(id: &str) -> Result<Resource, String> {
        if id.is_empty() {
            return Err(
                "resource id is empty; use `wp:<feature>/<WPxx>`, `wp:<WPxx>`, \
                        `feature:<slug>` or `config:<name>`"
                    .to_owned(),
            );
        }
        let Some((kind, rest)) = id.split_once(':') else {
            return Err(format!(
                "resource `{}` has no `kind:` prefix; kinds are {KINDS}",
                quote(id)
            ));
        };
        match kind {
            "wp" => parse_work_package(rest),
            "feature" => Ok(Resource::Feature(check_name(rest, NameKind::Feature)?)),
            "config" => Ok(Resource::Config(check_name(rest, NameKind::Config)?)),
            other if ["wp", "feature", "config"].contains(&other.to_ascii_lowercase().as_str()) => {
                Err(format!(
                    "unknown resource kind `{}`; kinds are {KINDS}, in lowercase",
                    quote(other)
                ))
            }
            other => Err(format!(
                "unknown resource kind `{}`; kinds are {KINDS}",
                quote(other)
            )),
        }
    }

    /// The name of this resource's own lock file.
    pub fn lock_file(&self) -> String {
        match self {
            Resource::WorkPackage {
                feature: Some(feature),
                number,
            } => format!("{WP_PREFIX}{feature}-{}", wp_id(*number)),
            Resource::WorkPackage {
                feature: None,
                number,
            } => format!("{WP_PREFIX}{}", wp_id(*number)),
            Resource::Feature(slug) => format!("{FEATURE_PREFIX}{slug}"),
            Resource::Config(name) => format!("{CONFIG_PREFIX}{name}"),
        }
    }

    /// The resource whose own lock file has this name, if the name follows
    /// this scheme exactly (canonical spelling only).
    pub fn from_lock_file(name: &str) -> Option<Resource> {
        let resource = if let Some(rest) = name.strip_prefix(WP_PREFIX) {
            match rest.rsplit_once('-') {
                Some((feature, wp)) => Resource::WorkPackage {
                    feature: Some(check_name(feature, NameKind::Feature).ok()?),
                    number: parse_wp_id(wp).ok()?,
                },
                None => Resource::WorkPackage {
                    feature: None,
                    number: parse_wp_id(rest).ok()?,
                },
            }
        } else if let Some(rest) = name.strip_prefix(FEATURE_PREFIX) {
            Resource::Feature(check_name(rest, NameKind::Feature).ok()?)
        } else if let Some(rest) = name.strip_prefix(CONFIG_PREFIX) {
            Resource::Config(check_name(rest, NameKind::Config).ok()?)
        } else {
            return None;
        };

        // Only the canonical spelling decodes, so decoding inverts encoding.
        (resource.lock_file() == name).then_some(resource)
    }
}

impl fmt::Display for Resource {
    /// The canonical spelling of the resource id.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resource::WorkPackage {
                feature: Some(feature),
                number,
            } => write!(f, "wp:{feature}/{}", wp_id(*number)),
            Resource::WorkPackage {
                feature: None,
                number,
            } => write!(f, "wp:{}", wp_id(*number)),
            Resource::Feature(slug) => write!(f, "feature:{slug}"),
            Resource::Config(name) => write!(f, "config:{name}"),
        }
    }
}

/// The canonical spelling of a work package id.
fn wp_id(number: u16) -> String {
    format!("WP{number:02}")
}

/// Parse the part of a `wp:` id after the colon.
fn parse_work_package(rest: &str) -> Result<Resource, String> {
    let mut parts = rest.split('/');
    let first = parts.next().unwrap_or_default();
    let second = parts.next();
    if parts.next().is_some() {
        return Err(format!(
            "work package resource `wp:{}` has more than one `/`; \
             use `wp:<feature>/<WPxx>` or `wp:<WPxx>`",
            quote(rest)
        ));
    }
    match second {
        Some(wp) => Ok(Resource::WorkPackage {
            feature: Some(check_name(first, NameKind::Feature)?),
            number: parse_wp_id(wp)?,
        }),
        None => Ok(Resource::WorkPackage {
            feature: None,
            number: parse_wp_id(first)?,
        }),
    }
}

/// Parse a work package id, `WP` and 1 to 4 digits, any case.
fn parse_wp_id(id: &str) -> Result<u16, String> {
    if id.is_empty() {
        return Err(
            "work package id is empty; use `WP` and 1 to 4 digits, such as `WP01`".to_owned(),
        );
    }
    let digits = match id.get(..2) {
        Some(prefix) if prefix.eq_ignore_ascii_case("WP") => &id[2..],
        _ => {
            return Err(format!(
                "work package id `{}` does not start with `WP`; use `WP` and 1 to 4 digits, \
                 such as `WP01`",
                quote(id)
            ));
        }
    };
    if digits.is_empty()
        || digits.len() > MAX_WP_DIGITS
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(format!(
            "work package id `{}` must be `WP` and 1 to 4 digits, such as `WP01`",
            quote(id)
        ));
    }
    digits
        .parse()
        .map_err(|_| format!("work package id `{}` is not a number", quote(id)))
}

/// Check a feature slug or config name against the naming rules.
fn check_name(name: &str, kind: NameKind) -> Result<String, String> {
    let noun = kind.noun();
    let plural = kind.plural();
    if name.is_empty() {
        return Err(format!("{noun} is empty"));
    }

    // Characters first: the most specific reason wins.
    for c in name.chars() {
        let why = match c {
            'a'..='z' | '0'..='9' | '.' | '_' | '-' => continue,
            'A'..='Z' => format!(
                "contains uppercase `{c}`; {plural} are lowercase so that they stay distinct \
                 on case-insensitive file systems"
            ),
            '\0' => "contains a NUL character".to_owned(),
            c if c.is_control() => format!("contains control character `{}`", c.escape_default()),
            '/' | '\\' => format!("contains `{c}`"),
            ' ' => "contains a space".to_owned(),
            c if c.is_whitespace() => format!("contains whitespace `{}`", c.escape_unicode()),
            c if !c.is_ascii() => format!("contains non-ASCII character `{c}`"),
            c => format!("contains `{c}`"),
        };
        return Err(format!(
            "{noun} `{}` {why}; {plural} may use {CHARSET}",
            quote(name)
        ));
    }

    let quoted = quote(name);
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "{noun} `{quoted}` is {} characters long; the limit is {MAX_NAME_LEN}",
            name.len()
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(format!(
            "{noun} `{quoted}` starts with `{}`; {plural} start with a-z or 0-9",
            &name[..1]
        ));
    }
    if name.contains("..") {
        return Err(format!("{noun} `{quoted}` contains `..`"));
    }
    if name.ends_with('.') {
        return Err(format!("{noun} `{quoted}` ends with `.`"));
    }
    if name.ends_with(OWNER_SUFFIX) || name.contains(OWNER_INFIX) {
        return Err(format!(
            "{noun} `{quoted}` uses `{OWNER_SUFFIX}`, which the host reserves for owner records"
        ));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parse, panicking with the message on failure.
    fn parse(id: &str) -> Resource {
        Resource::parse(id).unwrap_or_else(|e| panic!("`{id}` should parse: {e}"))
    }

    /// The message for an id that must fail.
    fn reject(id: &str) -> String {
        match Resource::parse(id) {
            Ok(r) => panic!("`{id}` should be rejected, parsed as {r:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn parses_each_kind_and_maps_it_to_its_lock_file() {
        let cases = [
            ("wp:auth/WP01", "wp:auth/WP01", ".lock-WP-auth-WP01"),
            ("wp:WP07", "wp:WP07", ".lock-WP-WP07"),
            ("feature:auth", "feature:auth", ".lock-feature-auth"),
            ("config:ci.yml", "config:ci.yml", ".lock-config-ci.yml"),
            (
                "wp:a-b_c.d/WP1234",
                "wp:a-b_c.d/WP1234",
                ".lock-WP-a-b_c.d-WP1234",
            ),
        ];

        for (id, canonical, file) in cases {
            let r = parse(id);

            assert_eq!(r.to_string(), canonical);
            assert_eq!(r.lock_file(), file);
        }
    }

    #[test]
    fn work_package_ids_are_canonicalized() {
        for id in ["wp:f/wp1", "wp:f/Wp01", "wp:f/WP001", "wp:f/wP0001"] {
            assert_eq!(parse(id).to_string(), "wp:f/WP01", "{id}");
        }
        assert_eq!(parse("wp:wp123").to_string(), "wp:WP123");
        assert_eq!(parse("wp:WP0").to_string(), "wp:WP00");
    }

    #[test]
    fn rejects_ids_without_a_known_kind() {
        assert!(reject("").contains("empty"));
        assert!(reject("auth").contains("no `kind:` prefix"));
        let unknown = reject("team:x");
        assert!(
            unknown.contains("unknown resource kind `team`"),
            "{unknown}"
        );
        assert!(
            unknown.contains("`wp`, `feature` and `config`"),
            "{unknown}"
        );
        assert!(reject("WP:x").contains("in lowercase"));
    }

    #[test]
    fn rejects_bad_work_package_ids() {
        assert!(reject("wp:").contains("work package id is empty"));
        assert!(reject("wp:f/").contains("work package id is empty"));
        assert!(reject("wp:/WP01").contains("feature slug is empty"));
        assert!(reject("wp:f/WP").contains("1 to 4 digits"));
        assert!(reject("wp:f/WP12345").contains("1 to 4 digits"));
        assert!(reject("wp:f/WP1a").contains("1 to 4 digits"));
        assert!(reject("wp:f/WP+1").contains("1 to 4 digits"));
        assert!(reject("wp:f/X01").contains("does not start with `WP`"));
        assert!(reject("wp:f/é").contains("does not start with `WP`"));
        assert!(reject("wp:a/b/WP01").contains("more than one `/`"));
    }

    #[test]
    fn rejects_names_breaking_each_rule_and_says_which() {
        let cases = [
            (
                "feature:a/b",
                "feature slug `a/b` contains `/`; slugs may use a-z, 0-9, `-`, `_` and `.`",
            ),
            ("feature:a\\b", "contains `\\`"),
            ("feature:a b", "contains a space"),
            ("feature:a\tb", "control character `\\t`"),
            ("feature:a\0b", "NUL"),
            ("feature:caf\u{e9}", "non-ASCII character `\u{e9}`"),
            (
                "feature:Auth",
                "uppercase `A`; slugs are lowercase so that they stay distinct on case-insensitive",
            ),
            ("config:a:b", "contains `:`"),
            ("feature:.hidden", "starts with `.`"),
            ("feature:-x", "starts with `-`"),
            ("feature:a..b", "contains `..`"),
            ("feature:a.", "ends with `.`"),
            ("feature:", "feature slug is empty"),
            ("config:", "config name is empty"),
            ("feature:x.owner", "reserves for owner records"),
            ("config:x.owner.tmp", "reserves for owner records"),
            ("wp:x.owner.y/WP01", "reserves for owner records"),
        ];

        for (id, expected) in cases {
            let message = reject(id);

            assert!(message.contains(expected), "`{id}` gave `{message}`");
            assert!(!message.ends_with('.'), "{message}");
            assert!(
                !message.contains('\n') && !message.contains('\0'),
                "{message:?}"
            );
        }
    }

    #[test]
    fn name_length_limit_is_64() {
        let ok = "a".repeat(MAX_NAME_LEN);
        let long = "a".repeat(MAX_NAME_LEN + 1);

        assert_eq!(parse(&format!("feature:{ok}")).lock_file().len(), 14 + 64);
        assert!(reject(&format!("config:{long}")).contains("the limit is 64"));
    }

    #[test]
    fn names_that_merely_mention_owner_are_fine() {
        for id in [
            "feature:owner",
            "feature:x.owners",
            "config:owner.x",
            "feature:x-owner",
        ] {
            parse(id);
        }
    }

    #[test]
    fn huge_offending_values_are_shortened_in_messages() {
        let message = reject(&format!("feature:{}", "A".repeat(100_000)));

        assert!(message.len() < 400, "{} bytes", message.len());
    }

    /// Many resources of every kind, including awkward slugs.
    fn sample() -> Vec<Resource> {
        let slugs = [
            "a", "0", "a-b", "a-b-c", "a.b", "a_b", "x-wp01", "wp01", "a-", "a_", "ab-WP", "9.9",
            "a-b.c_d",
        ];
        let slugs: Vec<String> = slugs
            .iter()
            .map(|s| s.to_string())
            .filter(|s| check_name(s, NameKind::Feature).is_ok())
            .chain(std::iter::once("z".repeat(MAX_NAME_LEN)))
            .collect();
        let mut out = Vec::new();
        for number in [0, 1, 9, 10, 99, 100, 1234, 9999] {
            out.push(Resource::WorkPackage {
                feature: None,
                number,
            });
            for s in &slugs {
                out.push(Resource::WorkPackage {
                    feature: Some(s.clone()),
                    number,
                });
            }
        }
        for s in &slugs {
            out.push(Resource::Feature(s.clone()));
            out.push(Resource::Config(s.clone()));
        }
        out
    }

    #[test]
    fn lock_file_names_are_injective_even_ignoring_case() {
        let resources = sample();
        let mut seen = std::collections::HashMap::new();

        for r in &resources {
            let name = r.lock_file().to_ascii_lowercase();
            if let Some(other) = seen.insert(name.clone(), r.clone()) {
                panic!("{r} and {other} share lock file {name}");
            }
        }

        assert_eq!(seen.len(), resources.len());
    }

    #[test]
    fn decoding_inverts_encoding() {
        for r in sample() {
            let name = r.lock_file();

            assert_eq!(Resource::from_lock_file(&name), Some(r.clone()), "{name}");
            assert_eq!(Resource::parse(&r.to_string()), Ok(r.clone()));
            assert!(name.len() <= 255 && !name.contains(['/', '\\', '\0']));
            assert!(!name.ends_with(".owner") && !name.contains(".owner."));
        }
    }

    #[test]
    fn foreign_and_non_canonical_names_do_not_decode() {
        for name in [
            "",
            ".lock",
            "build.lock",
            ".lock-WP-",
            ".lock-WP-WP1",
            ".lock-WP-wp01",
            ".lock-WP-f-WP001",
            ".lock-WP--WP01",
            ".lock-WP-F-WP01",
            ".lock-feature-",
            ".lock-feature-A",
            ".lock-feature-a.owner",
            ".lock-config-a/b",
            ".lock-wp-WP01",
        ] {
            assert_eq!(Resource::from_lock_file(name), None, "{name}");
        }
    }
}
