//! What can go wrong in the store, each with the fix where there is one.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {url}: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("DATABASE_URL={0} names no database this bot knows; use sqlite://PATH or postgres://USER:PASSWORD@HOST/DB")]
    Scheme(String),
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    #[error("database write failed: {0}")]
    Write(String),
    #[error(
        "the database was migrated by a newer coe-bot (migration {0}); run that version or newer"
    )]
    NewerSchema(i64),
    #[error("the database holds a {column} this version does not know ({value:?}); run the coe-bot version that wrote it, or fix the row")]
    UnknownValue { column: &'static str, value: String },
}
