//! Ids are UUIDv7: unique, and ordered by the millisecond they were made in.

use summer_sdk::{ApiError, Timestamp};
use uuid::Uuid;

/// A new id, later than every id made before it in this instance.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

/// `text` as an id; anything else is a 400 naming `what`.
pub fn parse_id(what: &str, text: &str) -> Result<Uuid, ApiError> {
    Uuid::try_parse(text)
        .map_err(|_| ApiError::invalid(format!("{what} {text:?} is not a valid id (a UUID)")))
}

/// When a UUIDv7 was made, to the millisecond; `None` for other UUIDs.
pub fn timestamp_of(id: Uuid) -> Option<Timestamp> {
    let (secs, nanos) = id.get_timestamp()?.to_unix();
    let millis = i64::try_from(secs).ok()? * 1000 + i64::from(nanos / 1_000_000);
    Some(Timestamp(millis * 1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_creation_time() {
        let before = Timestamp::now().micros() / 1000;
        let id = new_id();
        let at = timestamp_of(id).unwrap().micros() / 1000;
        assert!(at >= before && at <= Timestamp::now().micros() / 1000);
        assert_eq!(timestamp_of(Uuid::nil()), None);
    }

    #[test]
    fn bad_ids_are_a_400_naming_the_field() {
        let err = parse_id("user_id", "42").unwrap_err();
        assert_eq!(err.status, 400);
        assert!(err.message.contains("user_id"), "{err}");
        assert!(parse_id("user_id", &new_id().to_string()).is_ok());
    }
}
