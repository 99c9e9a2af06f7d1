//! Times as the tables store them: RFC 3339 text in UTC with milliseconds
//! (`2026-01-31T09:05:00.123Z`), the form of the SQLite tables' defaults
//! and of the PostgreSQL ones, so comparing the text compares the times on
//! both engines. Times are computed here and bound, not asked of the
//! database, so one SQL text serves both.

use chrono::{DateTime, Duration, SecondsFormat, Utc};

pub(super) fn stored_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(super) fn now() -> String {
    stored_time(Utc::now())
}

/// The stored form of the time `age` ago.
pub(super) fn ago(age: Duration) -> String {
    stored_time(Utc::now() - age)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_times_sort_as_the_times_do() {
        let early = DateTime::parse_from_rfc3339("2026-01-31T09:05:00Z").unwrap();
        let early = early.with_timezone(&Utc);
        let later = early + Duration::milliseconds(7);
        assert_eq!(stored_time(early), "2026-01-31T09:05:00.000Z");
        assert!(stored_time(early) < stored_time(later));
        assert!(ago(Duration::days(1)) < now());
    }
}
