//! NUL characters in text: PostgreSQL cannot store them, SQLite would, and both backends must
//! accept the same input, so every way in refuses them. A leaf module: the body, query and
//! import readers all use it, and it uses nothing of theirs.

/// Whether `bytes` contain `needle` as a NUL: `%00` in a query string, or the JSON escape
/// `\u0000` not itself escaped (an odd number of backslashes before the `u`). Text with NUL
/// characters is refused everywhere: PostgreSQL cannot store it, SQLite would, and both backends
/// must accept the same input.
pub fn has_nul_escape(bytes: &[u8], needle: &[u8]) -> bool {
    bytes.windows(needle.len()).enumerate().any(|(i, w)| {
        w == needle
            && (needle[0] != b'\\'
                || bytes[..i].iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 0)
    })
}

/// A JSON document's text contains a NUL character (`\u0000`).
pub fn json_has_nul(bytes: &[u8]) -> bool {
    has_nul_escape(bytes, b"\\u0000")
}
