//! Small pieces of SQL text and row reading shared by the tables' files.

use super::db::StoreError;
use crate::chain::Therapy;

/// A stored therapy label, for [`known`].
pub(super) fn parse_therapy(label: &str) -> Option<Therapy> {
    label.parse().ok()
}

/// `($1, $2), ($3, $4)`: the VALUES list of a multi-row statement with
/// numbered placeholders, which both engines read (`sqlx::QueryBuilder`
/// writes `?` for `Any`, which PostgreSQL does not).
pub(super) fn values_list(rows: usize, columns: usize) -> String {
    let row = |r: usize| {
        let cells: Vec<String> = (1..=columns)
            .map(|c| format!("${}", r * columns + c))
            .collect();
        format!("({})", cells.join(", "))
    };
    (0..rows).map(row).collect::<Vec<_>>().join(", ")
}

/// A stored label read back as the type it names. A label this version
/// does not know is an error, logged and counted, never mapped to a
/// default: it means another version wrote the row, or someone edited it.
pub(super) fn known<T>(
    column: &'static str,
    value: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<T, StoreError> {
    parse(value).ok_or_else(|| {
        tracing::error!(
            column,
            "the database holds a value this version does not know"
        );
        crate::telemetry::unknown_stored_value(column);
        StoreError::UnknownValue {
            column,
            value: value.chars().take(40).collect(),
        }
    })
}

/// [`known`] for a nullable column.
pub(super) fn known_or_null<T>(
    column: &'static str,
    value: Option<&str>,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<Option<T>, StoreError> {
    value.map(|v| known(column, v, parse)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_numbered_row_by_row() {
        assert_eq!(values_list(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(values_list(1, 1), "($1)");
    }

    #[test]
    fn unknown_labels_are_errors_not_defaults() {
        let parse = |s: &str| (s == "cbt").then_some(1);
        assert_eq!(known("t.c", "cbt", parse).unwrap(), 1);
        let error = known("t.c", "psychoanalysis", parse).unwrap_err();
        assert!(error.to_string().contains("t.c"), "{error}");
        assert_eq!(known_or_null("t.c", None, parse).unwrap(), None);
    }
}
