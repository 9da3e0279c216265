//! The rules every lock-file name and every message must keep, as plain
//! string checks shared by the property tests and the fuzz target.
//!
//! This file names nothing from the crate, so that the fuzz crate
//! (`guest/fuzz`) can include it with `#[path]` and both check exactly the
//! same rules. Each check returns the first rule broken, or `None`.

/// The longest file name the file systems we care about accept, in bytes.
pub const FILE_NAME_LIMIT: usize = 255;

/// The longest suffix the host appends to a lock-file name: the temporary
/// file it writes an owner record to before renaming it.
pub const HOST_TEMP_SUFFIX: &str = ".owner.tmp";

/// The prefix the host keeps for its own files in a lock directory.
pub const HOST_PREFIX: &str = ".wardlock";

/// The longest lock-file name that still leaves room for the host's suffix.
pub const LOCK_FILE_LIMIT: usize = FILE_NAME_LIMIT - HOST_TEMP_SUFFIX.len();

/// Names Windows reserves for devices, whatever the extension or case.
const WINDOWS_DEVICES: [&str; 22] = [
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// The longest message the policy should ever build, in bytes. A message
/// quotes at most two values, each cut at 80 characters of at most 10
/// bytes once escaped (`\u{10ffff}`), plus under 200 bytes of its own
/// words; an input of any length must stay under this.
pub const MESSAGE_LIMIT: usize = 2048;

/// Whether a character is in the portable file-name charset: POSIX's
/// `[A-Za-z0-9._-]`, which Windows, macOS and Linux all accept as is.
pub fn is_portable(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// The first rule a lock-file name breaks, if any.
pub fn lock_file_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("is empty".to_owned());
    }
    if name.len() > LOCK_FILE_LIMIT || name.len() + HOST_TEMP_SUFFIX.len() > FILE_NAME_LIMIT {
        return Some(format!(
            "is {} bytes, past {LOCK_FILE_LIMIT} (no room for `{HOST_TEMP_SUFFIX}`)",
            name.len()
        ));
    }
    if name == "." || name == ".." {
        return Some("names a directory".to_owned());
    }
    if let Some(c) = name
        .chars()
        .find(|&c| matches!(c, '/' | '\\' | '\0') || c.is_control())
    {
        return Some(format!("contains {c:?}"));
    }
    if let Some(c) = name.chars().find(|&c| !is_portable(c)) {
        return Some(format!("contains the non-portable character {c:?}"));
    }
    if name.contains("..") {
        return Some("contains `..`".to_owned());
    }
    if name.ends_with('.') || name.ends_with(' ') {
        return Some("ends with `.` or a space, which Windows strips".to_owned());
    }
    if name.ends_with(".owner") || name.contains(".owner.") {
        return Some("uses the owner-record suffix".to_owned());
    }
    if name.starts_with(HOST_PREFIX) {
        return Some(format!("starts with the host's prefix `{HOST_PREFIX}`"));
    }
    if name.starts_with('-') {
        return Some("starts with `-`, which reads as an option".to_owned());
    }
    let stem = name.split('.').next().unwrap_or_default();
    if WINDOWS_DEVICES.contains(&stem.to_ascii_lowercase().as_str()) {
        return Some(format!("has the Windows device name `{stem}` as its stem"));
    }
    None
}

/// The first rule a user-facing message breaks, if any: every refusal says
/// something, on one line, lowercase first, with no trailing period, and
/// stays short however long the input was.
pub fn message_problem(message: &str) -> Option<String> {
    if message.is_empty() {
        return Some("is empty".to_owned());
    }
    if let Some(c) = message.chars().find(|c| c.is_control()) {
        return Some(format!("contains the control character {c:?}"));
    }
    if message.ends_with('.') {
        return Some("ends with a period".to_owned());
    }
    if message.starts_with(|c: char| c.is_uppercase()) {
        return Some("starts with an uppercase letter".to_owned());
    }
    if message.len() > MESSAGE_LIMIT {
        return Some(format!("is {} bytes, past {MESSAGE_LIMIT}", message.len()));
    }
    None
}
