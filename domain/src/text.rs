//! Free text typed by people: trimmed, bounded, and free of control characters that would corrupt a
//! page, an email or a CSV export.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error("{field} is {length} characters long; at most {max} are allowed")]
    TooLong {
        field: &'static str,
        length: usize,
        max: usize,
    },
    #[error("{field} must not contain control characters{}", if *.line_breaks_allowed { " other than line breaks and tabs" } else { " or line breaks" })]
    ControlCharacters {
        field: &'static str,
        line_breaks_allowed: bool,
    },
}

/// Whether a text may span lines (a message, a description) or not (a title, a name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    One,
    Many,
}

impl fmt::Display for Lines {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Lines::One => "one line",
            Lines::Many => "several lines",
        })
    }
}

/// Whether `c` changes the direction text is shown in (the Unicode bidirectional controls): in a file
/// name, U+202E shows `…\u{202e}fdp.exe` as `…exe.pdf`, so names Lodge stores and shows go without them.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Trims `value` and checks it is non-empty, at most `max` characters, and clean.
pub fn required(field: &'static str, value: &str, max: usize, lines: Lines) -> Result<String, TextError> {
    optional(field, value, max, lines)?.ok_or(TextError::Empty { field })
}

/// Like [`required`], but an empty (or blank) text means "none".
pub fn optional(field: &'static str, value: &str, max: usize, lines: Lines) -> Result<Option<String>, TextError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    let length = trimmed.chars().count();
    if length > max {
        return Err(TextError::TooLong { field, length, max });
    }
    let allowed = |c: char| lines == Lines::Many && matches!(c, '\n' | '\r' | '\t');
    if trimmed.chars().any(|c| c.is_control() && !allowed(c)) {
        return Err(TextError::ControlCharacters {
            field,
            line_breaks_allowed: lines == Lines::Many,
        });
    }
    Ok(Some(trimmed.to_owned()))
}

/// [`optional`] for an optional input.
pub fn optional_input(
    field: &'static str,
    value: Option<&str>,
    max: usize,
    lines: Lines,
) -> Result<Option<String>, TextError> {
    value.map_or(Ok(None), |v| optional(field, v, max, lines))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_keeps_inner_text() {
        assert_eq!(required("title", "  Tax 2026 \n", 200, Lines::One).unwrap(), "Tax 2026");
    }

    #[test]
    fn blank_is_empty() {
        assert_eq!(
            required("title", " \t ", 200, Lines::One),
            Err(TextError::Empty { field: "title" })
        );
        assert_eq!(optional("message", "   ", 10, Lines::Many), Ok(None));
    }

    #[test]
    fn counts_characters_not_bytes() {
        assert!(required("name", &"é".repeat(200), 200, Lines::One).is_ok());
        assert_eq!(
            required("name", &"é".repeat(201), 200, Lines::One),
            Err(TextError::TooLong {
                field: "name",
                length: 201,
                max: 200
            })
        );
    }

    #[test]
    fn line_breaks_only_where_allowed() {
        assert!(required("message", "Hello\nthere", 100, Lines::Many).is_ok());
        assert!(matches!(
            required("title", "Hello\nthere", 100, Lines::One),
            Err(TextError::ControlCharacters { .. })
        ));
        assert!(matches!(
            required("message", "bell\u{7}", 100, Lines::Many),
            Err(TextError::ControlCharacters { .. })
        ));
    }
}
