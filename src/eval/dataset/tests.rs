use super::*;
use std::fs;

mod sampling;
mod stream;
use crate::eval::synthetic;

// Fixtures written for this project in EPITOME's format (no EPITOME text).
// Levels (er, ex, ip) per pair; fx03 is listed twice and its second row
// (2, 0, 0) wins over the first (0, 0, 2):
//   er: fx01 fx03 fx07   ex: fx02 fx04 fx10   ip: fx08 fx11
//   ties: fx05 (er=ex) fx09 (er=ip) fx12 (all three)   all zero: fx06
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Every labelled item and the stats, as the whole data set would be read.
fn load(path: &Path, ties: &TieRule) -> (Vec<EvalItem>, LoadStats) {
    let index = scan(path, ties, None, None).unwrap();
    let items: Result<Vec<_>, _> = index.selected().unwrap().collect();
    (items.unwrap(), index.stats().clone())
}

fn scan_err(path: &Path) -> DatasetError {
    scan(path, &TieRule::Exclude, None, None).unwrap_err()
}

fn golds(items: &[EvalItem]) -> Vec<(&str, Strategy)> {
    items.iter().map(|i| (i.item_id.as_str(), i.gold)).collect()
}

use Strategy::{EmotionalReaction as Er, Exploration as Ex, Interpretation as Ip};

#[test]
fn epitome_excluding_ties() {
    let (items, stats) = load(&fixture("epitome"), &TieRule::Exclude);
    assert_eq!(
        golds(&items),
        [
            ("fx01s:fx01r", Er),
            ("fx02s:fx02r", Ex),
            ("fx03s:fx03r", Er),
            ("fx04s:fx04r", Ex),
            ("fx07s:fx07r", Er),
            ("fx08s:fx08r", Ip),
            ("fx10s:fx10r", Ex),
            ("fx11s:fx11r", Ip),
        ]
    );
    let expected = LoadStats {
        rows_read: 39,
        duplicate_keys: 1,
        duplicate_conflicts: 1,
        ties_excluded: 3,
        ties_resolved: 0,
        all_zero_excluded: 1,
        unknown_label_skipped: 0,
        items: 8,
    };
    assert_eq!(stats, expected);
    // Quotes, commas and newlines inside fields survive.
    let fx08 = &items[5];
    assert_eq!(
        (fx08.item_id.as_str(), fx08.seeker_id.as_str()),
        ("fx08s:fx08r", "fx08s")
    );
    assert_eq!(
        fx08.seeker_post,
        "Everyone says \"just relax\", as if that helps, honestly."
    );
    assert!(fx08.response_post.contains("too.\nIt sounds like"));
    assert_eq!(
        items[4].seeker_post,
        "My dog died this morning.\nShe was 14."
    );
}

#[test]
fn epitome_ties_follow_the_order() {
    let rule: TieRule = "order:ip,er,ex".parse().unwrap();
    let (items, stats) = load(&fixture("epitome"), &rule);
    let got = golds(&items);
    assert!(got.contains(&("fx05s:fx05r", Er)));
    assert!(got.contains(&("fx09s:fx09r", Ip)));
    assert!(got.contains(&("fx12s:fx12r", Ip)));
    assert!(!got.iter().any(|(id, _)| *id == "fx06s:fx06r"));
    assert_eq!((stats.ties_resolved, stats.ties_excluded), (3, 0));
    assert_eq!((stats.all_zero_excluded, stats.items), (1, 11));

    let rule: TieRule = "order:ex,er,ip".parse().unwrap();
    let (items, _) = load(&fixture("epitome"), &rule);
    let got = golds(&items);
    assert!(got.contains(&("fx05s:fx05r", Ex)));
    assert!(got.contains(&("fx09s:fx09r", Er)));
    assert!(got.contains(&("fx12s:fx12r", Ex)));
}

#[test]
fn tie_rules_parse_display_and_serialize() {
    assert_eq!("exclude".parse(), Ok(TieRule::Exclude));
    assert_eq!(TieRule::default(), TieRule::Exclude);
    let rule: TieRule = " ORDER: IP, er ,Ex ".parse().unwrap();
    assert_eq!(rule, TieRule::Order([Ip, Er, Ex]));
    assert_eq!(rule.to_string(), "order:ip,er,ex");
    assert_eq!(serde_json::to_string(&rule).unwrap(), "\"order:ip,er,ex\"");
    let back: TieRule = serde_json::from_str("\"exclude\"").unwrap();
    assert_eq!(back, TieRule::Exclude);
    for bad in [
        "",
        "first",
        "order:",
        "order:ip,er",
        "order:ip,er,er",
        "order:ip,er,ex,ex",
        "order:ip,er,xx",
    ] {
        let err = bad.parse::<TieRule>().unwrap_err();
        assert!(err.to_string().contains("order:ip,er,ex"), "{bad}: {err}");
    }
    assert!(serde_json::from_str::<TieRule>("\"order:ip\"").is_err());
}

#[test]
fn simple_csv_skips_unknown_labels_and_keeps_row_numbers() {
    let (items, stats) = load(&fixture("simple.csv"), &TieRule::Exclude);
    assert_eq!(golds(&items), [("1", Er), ("2", Ex), ("3", Ip), ("5", Ex)]);
    assert_eq!(items[2].seeker_post, "I said \"fine\" but I wasn't.");
    assert_eq!(
        items[2].response_post,
        "I do that too,\nit's easier than explaining."
    );
    assert_eq!(
        (stats.rows_read, stats.unknown_label_skipped, stats.items),
        (5, 1, 4)
    );
    // Each row is its own seeker post.
    assert!(items.iter().all(|i| i.seeker_id == i.item_id));
    assert!(items
        .iter()
        .all(|i| seeker_id_of(&i.item_id) == i.seeker_id));
}

#[test]
fn dataset_digests_match_coreutils_recipes() {
    let simple = fixture("simple.csv");
    let expected = hex::encode(Sha256::digest(fs::read(&simple).unwrap()));
    assert_eq!(dataset_sha256(&simple).unwrap(), expected);

    let dir = fixture("epitome");
    let listing: String = EPITOME_FILES
        .iter()
        .map(|name| {
            let bytes = fs::read(dir.join(name)).unwrap();
            format!("{}  {name}\n", hex::encode(Sha256::digest(bytes)))
        })
        .collect();
    let expected = hex::encode(Sha256::digest(listing.as_bytes()));
    assert_eq!(dataset_sha256(&dir).unwrap(), expected);
    assert!(matches!(
        dataset_sha256(&dir.join("missing.csv")),
        Err(DatasetError::Io { .. })
    ));
}

/// A copy of the EPITOME fixture where `edit` rewrites one file's text.
fn edited_epitome(file: usize, edit: impl Fn(&str) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (i, name) in EPITOME_FILES.iter().enumerate() {
        let text = fs::read_to_string(fixture("epitome").join(name)).unwrap();
        let text = if i == file { edit(&text) } else { text };
        fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

#[test]
fn malformed_epitome_folders_are_reported() {
    let missing = edited_epitome(1, str::to_string);
    fs::remove_file(missing.path().join(EPITOME_FILES[1])).unwrap();
    let err = scan_err(missing.path());
    assert!(matches!(err, DatasetError::Io { .. }), "{err}");

    let bad_level = edited_epitome(2, |t| t.replace(",2,I lost", ",high,I lost"));
    let err = scan_err(bad_level.path());
    assert!(
        matches!(err, DatasetError::BadLevel { row: 12, .. }),
        "{err}"
    );

    let no_column = edited_epitome(0, |t| t.replacen("level", "lvl", 1));
    let err = scan_err(no_column.path());
    assert!(
        matches!(
            err,
            DatasetError::MissingColumn {
                column: "level",
                ..
            }
        ),
        "{err}"
    );

    let extra = edited_epitome(1, |t| format!("{t}zz,zz,a,b,0,\n"));
    let err = scan_err(extra.path());
    assert!(err.to_string().contains("zz:zz"), "{err}");

    let dropped = edited_epitome(1, |t| {
        t.lines()
            .filter(|l| !l.starts_with("fx10s"))
            .map(|l| format!("{l}\n"))
            .collect()
    });
    let err = scan_err(dropped.path());
    assert!(
        matches!(
            err,
            DatasetError::KeyMismatch {
                missing: "explorations-reddit.csv",
                ..
            }
        ),
        "{err}"
    );
    // Pass 1 keeps only hashes; the message reads the key back.
    assert!(err.to_string().contains("pair fx10s:fx10r"), "{err}");
}

/// The real data set is not part of the project (licence); point
/// `COE_EPITOME_DIR` at EPITOME's `dataset/` folder to check the counts
/// quoted in `notes/epitome.md`.
#[test]
#[ignore = "needs EPITOME: set COE_EPITOME_DIR to its dataset/ folder"]
fn real_epitome_counts() {
    let dir = PathBuf::from(std::env::var("COE_EPITOME_DIR").unwrap());
    let (items, stats) = load(&dir, &TieRule::Exclude);
    let count = |s| items.iter().filter(|i| i.gold == s).count();
    assert_eq!((count(Ip), count(Er), count(Ex)), (1270, 536, 324));
    assert_eq!((stats.ties_excluded, stats.all_zero_excluded), (202, 691));
    assert_eq!(
        (
            stats.rows_read,
            stats.duplicate_keys,
            stats.duplicate_conflicts
        ),
        (3 * 3084, 60, 19)
    );
}
