//! Text for people: quoting untrusted values and formatting durations.
//!
//! Every message the policy builds is one line: values that come from a
//! caller or from the host (resource ids, commands, owner records) pass
//! through [`quote`], which escapes control characters and backticks and
//! shortens very long values.

use std::fmt::Write as _;

/// The most characters of a value a message quotes.
const QUOTE_LIMIT: usize = 80;

/// A value made safe to show between backticks on one line.
///
/// Control characters, Unicode line and paragraph separators and the
/// invisible direction marks that can make a terminal show text out of
/// order are escaped (`\n`, `\u{1b}`, `\u{202e}`), a backtick becomes `'`,
/// and values longer than 80 characters are cut with `…`.
pub fn quote(value: &str) -> String {
    let mut out = String::new();
    for (i, c) in value.chars().enumerate() {
        if i == QUOTE_LIMIT {
            out.push('…');
            break;
        }
        match c {
            '`' => out.push('\''),
            c if c.is_control() || is_format_trap(c) => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out
}

/// Characters that are not control characters but still break a one-line
/// message or reorder what a terminal shows: line and paragraph
/// separators, and bidirectional marks, embeddings, overrides and isolates.
fn is_format_trap(c: char) -> bool {
    matches!(
        c,
        '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{061c}'
    ) || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// A duration for people: `850ms`, `2.5s`, `12s`, `5m 0s`, `1h 3m`, `2d 4h`.
///
/// Under ten seconds it keeps one decimal so that short waits read
/// precisely; above that, two units are enough.
pub fn human_ms(ms: u64) -> String {
    const SECOND: u64 = 1_000;
    const MINUTE: u64 = 60 * SECOND;
    const HOUR: u64 = 60 * MINUTE;
    const DAY: u64 = 24 * HOUR;
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = match ms {
        ms if ms < SECOND => write!(out, "{ms}ms"),
        ms if ms < 10 * SECOND => write!(out, "{}.{}s", ms / SECOND, ms % SECOND / 100),
        ms if ms < MINUTE => write!(out, "{}s", ms / SECOND),
        ms if ms < HOUR => write!(out, "{}m {}s", ms / MINUTE, ms % MINUTE / SECOND),
        ms if ms < DAY => write!(out, "{}h {}m", ms / HOUR, ms % HOUR / MINUTE),
        ms => write!(out, "{}d {}h", ms / DAY, ms % DAY / HOUR),
    };
    out
}

/// Nanoseconds to whole milliseconds, rounding up so that a non-zero wait
/// never shows as zero.
pub fn ns_to_ms_ceil(ns: u64) -> u64 {
    ns / 1_000_000 + u64::from(!ns.is_multiple_of(1_000_000))
}

/// A list of pids for messages: `11, 12`.
pub fn pid_list(pids: &[u32]) -> String {
    let words: Vec<String> = pids.iter().map(u32::to_string).collect();
    words.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_people_write_them() {
        let cases = [
            (0, "0ms"),
            (850, "850ms"),
            (1_000, "1.0s"),
            (2_050, "2.0s"),
            (9_999, "9.9s"),
            (12_000, "12s"),
            (59_999, "59s"),
            (300_000, "5m 0s"),
            (3_780_000, "1h 3m"),
            (2 * 86_400_000 + 4 * 3_600_000, "2d 4h"),
            (u64::MAX, "213503982334d 14h"),
        ];

        for (ms, expected) in cases {
            assert_eq!(human_ms(ms), expected, "{ms}");
        }
    }

    #[test]
    fn quote_keeps_messages_on_one_line() {
        assert_eq!(quote("make build"), "make build");
        assert_eq!(quote("a\nb\u{1b}[31m"), "a\\nb\\u{1b}[31m");
        assert_eq!(quote("rm `x`"), "rm 'x'");
        assert_eq!(quote("é漢"), "é漢");
        let long = quote(&"x".repeat(1_000));
        assert_eq!(long.chars().count(), QUOTE_LIMIT + 1);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn ns_round_up_to_ms() {
        assert_eq!(ns_to_ms_ceil(0), 0);
        assert_eq!(ns_to_ms_ceil(1), 1);
        assert_eq!(ns_to_ms_ceil(1_000_000), 1);
        assert_eq!(ns_to_ms_ceil(1_000_001), 2);
        assert_eq!(ns_to_ms_ceil(u64::MAX), 18_446_744_073_710);
    }

    #[test]
    fn pid_lists_are_comma_separated() {
        assert_eq!(pid_list(&[11, 12]), "11, 12");
        assert_eq!(pid_list(&[]), "");
    }
}

#[cfg(test)]
mod quote_tests {
    use super::quote;

    #[test]
    fn separators_and_direction_overrides_are_escaped() {
        let shown = quote("a\u{2028}b\u{202e}c\u{2067}d`e");

        assert_eq!(shown, "a\\u{2028}b\\u{202e}c\\u{2067}d'e");
        assert!(!shown.chars().any(|c| c == '\u{2028}' || c == '\u{202e}'));
    }
}
