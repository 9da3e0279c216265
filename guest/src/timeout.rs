//! Timeouts: how long `acquire` may wait, parsed from what a caller typed.
//!
//! A timeout is a non-negative decimal number of seconds (`5`, `1.5`, `.5`),
//! optionally followed by a unit: `ms`, `s`, `m` or `h` (`250ms`, `2m`).
//! `0` means try once and never wait; `inf` and `forever` (any case) wait
//! for ever. Surrounding whitespace is ignored. The value is exact to the
//! nanosecond; digits finer than that are dropped.
//!
//! A wait is measured in `u64` nanoseconds on the monotonic clock, which
//! reaches about 584 years. A finite timeout beyond that cannot be told
//! apart from for ever by anyone alive, so it is treated as for ever rather
//! than rejected or silently wrapped.

use crate::text::{human_ms, ns_to_ms_ceil, quote};

/// Nanoseconds per millisecond.
pub const NS_PER_MS: u64 = 1_000_000;

/// How long `acquire` may wait for each blocked lock, in total.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timeout {
    /// Wait at most this many nanoseconds; zero tries once.
    After(u64),
    /// Wait until the lock is free.
    Forever,
}

impl Timeout {
    /// The caller's timeout, or the preset default when there is none.
    pub fn parse_or(text: Option<&str>, default_ms: u64) -> Result<Timeout, String> {
        match text {
            None => Ok(default_ms
                .checked_mul(NS_PER_MS)
                .map_or(Timeout::Forever, Timeout::After)),
            Some(text) => Timeout::parse(text),
        }
    }

    /// Parse a timeout; the error says why it is not accepted.
    pub fn parse(text: &str) -> Result<Timeout, String> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(
                "timeout is empty; give seconds such as `30`, `1.5s`, `250ms` or `inf`".to_owned(),
            );
        }
        let lower = trimmed.to_ascii_lowercase();
        if lower == "inf" || lower == "forever" {
            return Ok(Timeout::Forever);
        }
        if lower.starts_with('-') {
            return Err(format!("timeout `{}` is negative", quote(trimmed)));
        }
        if lower.contains("nan") {
            return Err(format!("timeout `{}` is not a number", quote(trimmed)));
        }

        // Split the number from its unit.
        let unit_at = trimmed
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(trimmed.len());
        let (number, unit) = trimmed.split_at(unit_at);
        let unit_ns: u128 = match unit {
            "" | "s" => 1_000_000_000,
            "ms" => 1_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(format!(
                    "timeout `{}` has an unknown unit `{}`; units are `ms`, `s`, `m` and `h`",
                    quote(trimmed),
                    quote(unit)
                ));
            }
        };
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
            return Err(format!(
                "timeout `{}` is not a number of seconds, such as `30`, `1.5s` or `250ms`",
                quote(trimmed)
            ));
        }

        // Whole units, saturating: past u64 nanoseconds it is for ever.
        let mut ns: u128 = 0;
        for digit in whole.bytes().map(|b| u128::from(b - b'0')) {
            ns = ns
                .saturating_mul(10)
                .saturating_add(digit.saturating_mul(unit_ns));
        }
        // The fraction, exactly: Horner's rule from the last digit. Flooring
        // each step floors the whole sum, so no digit's share is rounded on
        // its own (dividing the unit by ten per digit lost up to 5ns for
        // `m` and `h`). The running value stays below one unit.
        let mut part: u128 = 0;
        for digit in fraction.bytes().rev().map(|b| u128::from(b - b'0')) {
            part = (part + digit * unit_ns) / 10;
        }
        ns = ns.saturating_add(part);
        Ok(u64::try_from(ns).map_or(Timeout::Forever, Timeout::After))
    }

    /// The timeout in milliseconds, rounded up; `None` for ever.
    pub fn as_ms(self) -> Option<u64> {
        match self {
            Timeout::After(ns) => Some(ns_to_ms_ceil(ns)),
            Timeout::Forever => None,
        }
    }

    /// Whether this timeout tries once without waiting.
    pub fn is_zero(self) -> bool {
        self == Timeout::After(0)
    }

    /// How the wait reads in messages: `up to 5m 0s` or `for ever`.
    pub fn describe(self) -> String {
        match self.as_ms() {
            Some(ms) => format!("up to {}", human_ms(ms)),
            None => "for ever".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parse, panicking with the message on failure.
    fn ns(text: &str) -> u64 {
        match Timeout::parse(text) {
            Ok(Timeout::After(ns)) => ns,
            other => panic!("`{text}` gave {other:?}"),
        }
    }

    /// The message for a timeout that must fail.
    fn reject(text: &str) -> String {
        match Timeout::parse(text) {
            Ok(t) => panic!("`{text}` should be rejected, parsed as {t:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn accepts_seconds_fractions_and_units() {
        assert_eq!(ns("0"), 0);
        assert_eq!(ns("0.0ms"), 0);
        assert_eq!(ns("5"), 5_000_000_000);
        assert_eq!(ns("1.5"), 1_500_000_000);
        assert_eq!(ns(".5"), 500_000_000);
        assert_eq!(ns("2."), 2_000_000_000);
        assert_eq!(ns("250ms"), 250_000_000);
        assert_eq!(ns("0.5ms"), 500_000);
        assert_eq!(ns("3s"), 3_000_000_000);
        assert_eq!(ns("2m"), 120_000_000_000);
        assert_eq!(ns("1.5h"), 5_400_000_000_000);
        assert_eq!(ns(" 7 "), 7_000_000_000);
        assert_eq!(ns("0.0000000019"), 1);
        assert_eq!(
            ns("0.1234567891234567891234567891234567890123456789"),
            123_456_789
        );
    }

    #[test]
    fn fractions_of_minutes_and_hours_are_exact_to_the_nanosecond() {
        assert_eq!(ns(".00000000002m"), 1);
        assert_eq!(ns("0.99999999999m"), 59_999_999_999);
        assert_eq!(ns("0.999999999999h"), 3_599_999_999_996);
        assert_eq!(ns("0.000000000000277777777777777777777777777778h"), 1);
    }

    #[test]
    fn inf_and_forever_wait_for_ever() {
        for text in ["inf", "INF", "forever", "Forever"] {
            assert_eq!(Timeout::parse(text), Ok(Timeout::Forever), "{text}");
        }
    }

    #[test]
    fn values_past_u64_nanoseconds_mean_for_ever() {
        assert_eq!(ns("18446744073.709551615"), u64::MAX);
        assert_eq!(
            Timeout::parse("18446744073.709551616"),
            Ok(Timeout::Forever)
        );
        assert_eq!(Timeout::parse("600000000h"), Ok(Timeout::Forever));
        assert_eq!(Timeout::parse(&"9".repeat(10_000)), Ok(Timeout::Forever));
    }

    #[test]
    fn rejects_what_is_not_a_timeout_and_says_why() {
        assert!(reject("").contains("empty"));
        assert!(reject("   ").contains("empty"));
        assert!(reject("-1").contains("negative"));
        assert!(reject("-0").contains("negative"));
        assert!(reject("NaN").contains("not a number"));
        assert!(reject("nans").contains("not a number"));
        assert!(reject("5x").contains("unknown unit `x`"));
        assert!(reject("5 s").contains("unknown unit ` s`"));
        assert!(reject("5S").contains("unknown unit"));
        assert!(reject("1e3").contains("unknown unit"));
        assert!(reject("+5").contains("unknown unit"));
        assert!(reject("ms").contains("not a number of seconds"));
        assert!(reject(".").contains("not a number of seconds"));
        assert!(reject("1.2.3").contains("not a number of seconds"));
        assert!(reject("infinity").contains("unknown unit"));
    }

    #[test]
    fn default_applies_only_without_a_timeout() {
        assert_eq!(
            Timeout::parse_or(None, 300_000),
            Ok(Timeout::After(300_000_000_000))
        );
        assert_eq!(Timeout::parse_or(Some("0"), 300_000), Ok(Timeout::After(0)));
        assert_eq!(Timeout::parse_or(None, u64::MAX), Ok(Timeout::Forever));
    }

    #[test]
    fn milliseconds_round_up_and_describe_the_wait() {
        assert_eq!(Timeout::After(500_000).as_ms(), Some(1));
        assert_eq!(Timeout::Forever.as_ms(), None);
        assert_eq!(Timeout::After(300_000_000_000).describe(), "up to 5m 0s");
        assert_eq!(Timeout::Forever.describe(), "for ever");
        assert!(Timeout::After(0).is_zero() && !Timeout::After(1).is_zero());
    }
}
