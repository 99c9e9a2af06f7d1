//! The two engines' migrations stay equivalent: the same migration files
//! (version and name) in `migrations/sqlite` and `migrations/postgres`, and
//! after all of them the same tables, columns (type, nullability, default),
//! primary keys and indexes. CHECK constraints are compared by the store
//! tests instead, which write every label on both engines.

mod common;

use coe_bot::store::Store;
use common::databases::TestDb;
use std::collections::BTreeMap;

/// One column as both engines can describe it.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Column {
    name: String,
    kind: &'static str,
    not_null: bool,
    has_default: bool,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Table {
    columns: Vec<Column>,
    primary_key: Vec<String>,
    /// Index name → its columns, in order.
    indexes: BTreeMap<String, Vec<String>>,
}

type Schema = BTreeMap<String, Table>;

/// SQLite's and PostgreSQL's names for the three kinds the tables use.
fn kind(declared: &str) -> &'static str {
    match declared.to_ascii_lowercase().as_str() {
        "integer" | "bigint" => "integer",
        "text" => "text",
        "real" | "double precision" => "real",
        other => panic!("a column type the comparison does not know: {other}"),
    }
}

fn migration_files(engine: &str) -> Vec<String> {
    let dir = format!("{}/migrations/{engine}", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("the migrations folder")
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn both_engines_have_the_same_migrations() {
    let sqlite = migration_files("sqlite");
    assert!(sqlite.len() >= 7, "{sqlite:?}");
    assert_eq!(sqlite, migration_files("postgres"));
}

#[tokio::test(flavor = "multi_thread")]
async fn both_engines_migrate_to_the_same_schema() {
    let Some(postgres) = TestDb::postgres() else {
        return;
    };
    let sqlite = TestDb::sqlite();
    let sqlite = sqlite_schema(&sqlite.store().await).await;
    let postgres = postgres_schema(&postgres.store().await).await;
    assert!(sqlite.len() >= 9, "{:?}", sqlite.keys());
    for (name, table) in &sqlite {
        assert_eq!(Some(table), postgres.get(name), "table {name}");
    }
    assert_eq!(
        sqlite.keys().collect::<Vec<_>>(),
        postgres.keys().collect::<Vec<_>>()
    );
}

async fn sqlite_schema(store: &Store) -> Schema {
    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table'
           AND name NOT LIKE 'sqlite%' AND name <> '_sqlx_migrations'",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    let mut schema = Schema::new();
    for (name, sql) in tables {
        let info: Vec<(String, String, i64, Option<String>, i64)> = sqlx::query_as(
            "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info($1) ORDER BY cid",
        )
        .bind(&name)
        .fetch_all(store.pool())
        .await
        .unwrap();
        let mut key: Vec<(i64, String)> = info
            .iter()
            .filter(|(_, _, _, _, pk)| *pk > 0)
            .map(|(column, _, _, _, pk)| (*pk, column.clone()))
            .collect();
        key.sort();
        let mut table = Table {
            primary_key: key.into_iter().map(|(_, column)| column).collect(),
            ..Table::default()
        };
        for (column, declared, not_null, default, pk) in info {
            // An AUTOINCREMENT key is generated, like an identity (any other
            // INTEGER key is the rowid too, but the bot always gives it).
            let generated = pk > 0 && sql.contains("AUTOINCREMENT");
            table.columns.push(Column {
                // A key column is never NULL, whatever SQLite records.
                not_null: not_null == 1 || pk > 0,
                has_default: default.is_some() || generated,
                kind: kind(&declared),
                name: column,
            });
        }
        table.columns.sort();
        table.indexes = sqlite_indexes(store, &name).await;
        schema.insert(name, table);
    }
    schema
}

async fn sqlite_indexes(store: &Store, table: &str) -> BTreeMap<String, Vec<String>> {
    // Only indexes a migration created (`sql` is NULL for the automatic ones).
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = $1 AND sql IS NOT NULL",
    )
    .bind(table)
    .fetch_all(store.pool())
    .await
    .unwrap();
    let mut indexes = BTreeMap::new();
    for name in names {
        let columns: Vec<String> =
            sqlx::query_scalar("SELECT name FROM pragma_index_info($1) ORDER BY seqno")
                .bind(&name)
                .fetch_all(store.pool())
                .await
                .unwrap();
        indexes.insert(name, columns);
    }
    indexes
}

async fn postgres_schema(store: &Store) -> Schema {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
         WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    let mut schema = Schema::new();
    for name in names {
        let info: Vec<(String, String, String, bool)> = sqlx::query_as(
            "SELECT column_name::text, data_type::text, is_nullable::text,
                    column_default IS NOT NULL OR is_identity = 'YES'
             FROM information_schema.columns
             WHERE table_schema = 'public' AND table_name = $1",
        )
        .bind(&name)
        .fetch_all(store.pool())
        .await
        .unwrap();
        let mut table = Table::default();
        for (column, declared, nullable, has_default) in info {
            table.columns.push(Column {
                name: column,
                kind: kind(&declared),
                not_null: nullable == "NO",
                has_default,
            });
        }
        table.columns.sort();
        table.primary_key = sqlx::query_scalar(
            "SELECT k.column_name::text FROM information_schema.table_constraints c
             JOIN information_schema.key_column_usage k
               ON k.constraint_name = c.constraint_name AND k.table_name = c.table_name
             WHERE c.table_schema = 'public' AND c.table_name = $1
               AND c.constraint_type = 'PRIMARY KEY'
             ORDER BY k.ordinal_position",
        )
        .bind(&name)
        .fetch_all(store.pool())
        .await
        .unwrap();
        table.indexes = postgres_indexes(store, &name).await;
        schema.insert(name, table);
    }
    schema
}

async fn postgres_indexes(store: &Store, table: &str) -> BTreeMap<String, Vec<String>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT i.relname::text, string_agg(a.attname::text, ',' ORDER BY k.ord)
         FROM pg_index x
         JOIN pg_class i ON i.oid = x.indexrelid
         JOIN pg_class t ON t.oid = x.indrelid
         JOIN unnest(x.indkey) WITH ORDINALITY AS k (attnum, ord) ON TRUE
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
         WHERE t.relname = $1 AND NOT x.indisprimary
         GROUP BY i.relname",
    )
    .bind(table)
    .fetch_all(store.pool())
    .await
    .unwrap();
    rows.into_iter()
        .map(|(name, columns)| (name, columns.split(',').map(str::to_owned).collect()))
        .collect()
}
