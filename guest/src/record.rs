//! Owner records: who holds a lock file exclusively, as JSON beside it.
//!
//! The host stores the bytes and replaces them atomically; their meaning
//! is the policy's. A record is a JSON object:
//!
//! ```json
//! {"pid":1234,"start_token":"…","started_at_ms":1733300000000,
//!  "host":"build-1","command":"make build","resource":"wp:auth/WP01",
//!  "mode":"exclusive","acquired_at":"2024-12-04T08:13:20.000Z",
//!  "acquired_at_ms":1733300000000,
//!  "policy":{"name":"default","version":"0.1.0"}}
//! ```
//!
//! Reading is lenient about what it does not need (unknown fields are
//! ignored, optional ones may be missing) and strict about identity: a
//! record without `pid`, `start_token` and `host` is unreadable.

use serde::{Deserialize, Serialize};

/// An owner record, as written and read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerRecord {
    /// The owning process.
    pub pid: u32,
    /// The owning process's start token, to detect a recycled pid.
    pub start_token: String,
    /// When the owning process started, for display.
    #[serde(default)]
    pub started_at_ms: Option<u64>,
    /// The host the owner runs on.
    pub host: String,
    /// The command the lock is held for.
    #[serde(default)]
    pub command: Option<String>,
    /// The resource, canonical.
    #[serde(default)]
    pub resource: String,
    /// `exclusive` or `shared`.
    #[serde(default)]
    pub mode: String,
    /// When the lock was taken, RFC 3339 UTC.
    #[serde(default)]
    pub acquired_at: String,
    /// When the lock was taken, milliseconds since the Unix epoch.
    #[serde(default)]
    pub acquired_at_ms: Option<u64>,
    /// The policy that wrote the record.
    #[serde(default)]
    pub policy: PolicyStamp,
}

/// The policy that wrote a record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyStamp {
    /// The policy's name.
    #[serde(default)]
    pub name: String,
    /// The policy's version.
    #[serde(default)]
    pub version: String,
}

impl OwnerRecord {
    /// The record as bytes.
    pub fn encode(&self) -> Vec<u8> {
        // A struct of strings and integers always serializes; the fallback
        // only keeps this function total.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Read a record; the error says why it is unreadable.
    pub fn decode(bytes: &[u8]) -> Result<OwnerRecord, String> {
        if bytes.is_empty() {
            return Err("empty".to_owned());
        }
        if std::str::from_utf8(bytes).is_err() {
            return Err("not UTF-8".to_owned());
        }
        serde_json::from_slice(bytes).map_err(|e| format!("not an owner record: {e}"))
    }
}

/// Milliseconds since the Unix epoch as RFC 3339 UTC with milliseconds:
/// `2024-12-04T08:13:20.000Z`.
pub fn rfc3339_ms(ms: u64) -> String {
    let secs = ms / 1000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01.
///
/// Howard Hinnant's `civil_from_days`, restricted to days on or after the
/// epoch so that it needs no signed arithmetic.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01, so that leap days end each cycle.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> OwnerRecord {
        OwnerRecord {
            pid: 1234,
            start_token: "boot:ns:42".to_owned(),
            started_at_ms: Some(1_733_300_000_000),
            host: "build-1".to_owned(),
            command: Some("make \"build\"\n".to_owned()),
            resource: "wp:auth/WP01".to_owned(),
            mode: "exclusive".to_owned(),
            acquired_at: rfc3339_ms(1_733_300_000_000),
            acquired_at_ms: Some(1_733_300_000_000),
            policy: PolicyStamp {
                name: "default".to_owned(),
                version: "0.1.0".to_owned(),
            },
        }
    }

    #[test]
    fn records_round_trip() {
        let r = record();

        assert_eq!(OwnerRecord::decode(&r.encode()), Ok(r));
    }

    #[test]
    fn records_carry_the_documented_fields() {
        let text = String::from_utf8(record().encode()).expect("JSON is UTF-8");

        for field in [
            "\"pid\":1234",
            "\"start_token\":\"boot:ns:42\"",
            "\"started_at_ms\":1733300000000",
            "\"host\":\"build-1\"",
            "\"command\":\"make \\\"build\\\"\\n\"",
            "\"resource\":\"wp:auth/WP01\"",
            "\"mode\":\"exclusive\"",
            "\"acquired_at\":\"2024-12-04T08:13:20.000Z\"",
            "\"acquired_at_ms\":1733300000000",
            "\"policy\":{\"name\":\"default\",\"version\":\"0.1.0\"}",
        ] {
            assert!(text.contains(field), "{field} missing from {text}");
        }
    }

    #[test]
    fn minimal_records_from_other_writers_are_readable() {
        let r = OwnerRecord::decode(br#"{"pid":7,"start_token":"t","host":"h","extra":[1,{}]}"#);

        assert_eq!(r.map(|r| (r.pid, r.command)), Ok((7, None)));
    }

    #[test]
    fn damaged_records_are_unreadable_with_a_reason() {
        let full = record().encode();
        let cases: [(&[u8], &str); 7] = [
            (b"", "empty"),
            (b"\xff\xfe{}", "not UTF-8"),
            (&full[..full.len() / 2], "not an owner record"),
            (b"garbage", "not an owner record"),
            (
                br#"{"pid":-1,"start_token":"t","host":"h"}"#,
                "not an owner record",
            ),
            (
                br#"{"pid":99999999999,"start_token":"t","host":"h"}"#,
                "not an owner record",
            ),
            (br#"{"start_token":"t","host":"h"}"#, "not an owner record"),
        ];

        for (bytes, reason) in cases {
            let result = OwnerRecord::decode(bytes);

            assert!(
                matches!(&result, Err(e) if e.contains(reason)),
                "{bytes:?} gave {result:?}"
            );
        }
    }

    #[test]
    fn deeply_nested_records_do_not_overflow_the_stack() {
        let mut bytes = b"{\"pid\":1,\"x\":".to_vec();
        bytes.extend(std::iter::repeat_n(b'[', 100_000));

        assert!(OwnerRecord::decode(&bytes).is_err());
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339_ms(951_868_799_999), "2000-02-29T23:59:59.999Z");
        assert_eq!(rfc3339_ms(1_709_251_199_000), "2024-02-29T23:59:59.000Z");
        assert_eq!(rfc3339_ms(4_102_444_800_000), "2100-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(253_402_300_799_999), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn civil_dates_agree_with_a_day_by_day_count() {
        let mut date = (1970, 1, 1);
        for days in 0..200_000 {
            assert_eq!(civil_from_days(days), date, "day {days}");

            let leap = date.0 % 4 == 0 && (date.0 % 100 != 0 || date.0 % 400 == 0);
            let month_len = [
                31,
                if leap { 29 } else { 28 },
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ];
            date.2 += 1;
            if date.2 > month_len[date.1 as usize - 1] {
                date = if date.1 == 12 {
                    (date.0 + 1, 1, 1)
                } else {
                    (date.0, date.1 + 1, 1)
                };
            }
        }
    }

    #[test]
    fn the_largest_timestamp_does_not_overflow() {
        assert!(rfc3339_ms(u64::MAX).ends_with(".615Z"));
    }
}
