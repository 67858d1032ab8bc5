//! Checks of the text fields clients send.

use summer_sdk::ApiError;

/// The control characters multiline text may hold: tab, line feed and
/// carriage return. Every other one (Unicode's Cc category) is refused,
/// as the OpenAPI document's `pattern`s say.
const MULTILINE_CONTROLS: [char; 3] = ['\t', '\n', '\r'];

/// `value` trimmed, required non-empty, at most `max_chars` characters,
/// without control characters (tabs and line breaks only where `multiline`).
/// Control characters are refused wherever they are, even where trimming
/// would have removed them.
pub fn checked(
    field: &str,
    value: &str,
    max_chars: usize,
    multiline: bool,
) -> Result<String, ApiError> {
    let allowed = |c: char| multiline && MULTILINE_CONTROLS.contains(&c);
    if value.chars().any(|c| c.is_control() && !allowed(c)) {
        let which = if multiline {
            "control characters other than tabs and line breaks"
        } else {
            "control characters"
        };
        return Err(ApiError::invalid(format!(
            "{field} must not contain {which}"
        )));
    }
    let value = value.trim();
    if value.is_empty() {
        return Err(ApiError::invalid(format!("{field} must not be empty")));
    }
    if value.chars().count() > max_chars {
        return Err(ApiError::invalid(format!(
            "{field} must be at most {max_chars} characters"
        )));
    }
    Ok(value.to_owned())
}

/// A short lowercase token such as a notification type: `a-z`, digits,
/// `_`, `-` and `.`, starting with a letter.
pub fn token(field: &str, value: &str, max_chars: usize) -> Result<String, ApiError> {
    let ok = value.len() <= max_chars
        && value.starts_with(|c: char| c.is_ascii_lowercase())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-.".contains(c));
    if !ok {
        return Err(ApiError::invalid(format!(
            "{field} must be 1 to {max_chars} lowercase letters, digits, '_', '-' or '.', starting with a letter"
        )));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_bounded_and_free_of_control_characters() {
        assert_eq!(checked("name", "  Ada ", 10, false).unwrap(), "Ada");
        assert!(checked("name", "   ", 10, false).is_err());
        assert!(checked("name", &"é".repeat(10), 10, false).is_ok());
        assert!(checked("name", &"é".repeat(11), 10, false).is_err());
        assert!(checked("name", "a\nb", 10, false).is_err());
        assert!(checked("content", "a\nb", 10, true).is_ok());
        assert!(checked("content", "a\r\n\tb", 10, true).is_ok());
        assert!(checked("content", "a\u{0}b", 10, true).is_err());
        assert!(checked("content", "a\u{85}b", 10, true).is_err());
        assert!(
            checked("name", "Ada\t", 10, false).is_err(),
            "trimming hides no control"
        );
        assert!(checked("name", "\nAda", 10, false).is_err());
    }

    #[test]
    fn tokens_are_lowercase_words() {
        assert!(token("type", "friend_request", 50).is_ok());
        for bad in ["", "Friend", "1st", "a b", "ü"] {
            assert!(token("type", bad, 50).is_err(), "{bad}");
        }
        assert!(token("type", &"a".repeat(51), 50).is_err());
    }
}
