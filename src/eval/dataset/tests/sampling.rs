//! The selection: the subsets today's runs and resumed runs rely on.

use super::synthetic;
use super::*;

/// A simple CSV of `rows` labelled rows, so its item ids are 1..=rows.
fn numbered(dir: &Path, rows: usize) -> PathBuf {
    let path = dir.join(format!("{rows}.csv"));
    synthetic::write_simple_csv(&path, rows);
    path
}

fn chosen(path: &Path, limit: Option<usize>, seed: Option<u64>) -> Vec<usize> {
    let index = scan(path, &TieRule::Exclude, limit, seed).unwrap();
    let ids: Vec<usize> = index
        .selected()
        .unwrap()
        .map(|item| item.unwrap().item_id.parse().unwrap())
        .collect();
    assert_eq!(ids.len(), index.selected_len());
    ids
}

#[test]
fn sampling_is_deterministic_nested_and_ordered() {
    let dir = tempfile::tempdir().unwrap();
    let (five, fifty) = (numbered(dir.path(), 5), numbered(dir.path(), 50));
    assert_eq!(chosen(&five, None, Some(7)), [1, 2, 3, 4, 5]);
    assert_eq!(chosen(&five, Some(9), Some(7)).len(), 5);
    assert_eq!(chosen(&fifty, Some(3), None), [1, 2, 3]);
    assert!(chosen(&fifty, Some(0), Some(1)).is_empty());

    let many = numbered(dir.path(), 200);
    let ten = chosen(&many, Some(10), Some(42));
    assert_eq!(ten, chosen(&many, Some(10), Some(42)));
    assert_eq!(ten.len(), 10);
    assert!(ten.windows(2).all(|w| w[0] < w[1]), "file order kept");
    assert_ne!(ten, (1..=10).collect::<Vec<_>>());
    let twenty = chosen(&many, Some(20), Some(42));
    assert!(ten.iter().all(|id| twenty.contains(id)), "samples nest");
    assert_ne!(ten, chosen(&many, Some(10), Some(43)));
}

/// The index keeps 64-bit rank prefixes; the choice is still the one the
/// full digests give.
#[test]
fn seeded_selection_is_the_smallest_full_digests() {
    let dir = tempfile::tempdir().unwrap();
    let many = numbered(dir.path(), 200);
    let mut ranked: Vec<([u8; 32], usize)> = (1..=200)
        .map(|id: usize| {
            let mut hasher = Sha256::new();
            hasher.update(42u64.to_le_bytes());
            hasher.update(id.to_string().as_bytes());
            (hasher.finalize().into(), id)
        })
        .collect();
    ranked.sort_unstable();
    let mut expected: Vec<usize> = ranked[..25].iter().map(|&(_, id)| id).collect();
    expected.sort_unstable();
    assert_eq!(chosen(&many, Some(25), Some(42)), expected);
}

#[test]
fn the_choice_depends_on_ids_not_positions() {
    let dir = tempfile::tempdir().unwrap();
    synthetic::write_epitome(dir.path(), 200);
    let reversed = tempfile::tempdir().unwrap();
    for name in EPITOME_FILES {
        let mut reader = csv::Reader::from_path(dir.path().join(name)).unwrap();
        let mut rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        rows.reverse();
        let mut writer = csv::Writer::from_path(reversed.path().join(name)).unwrap();
        writer.write_record(reader.headers().unwrap()).unwrap();
        for row in rows {
            writer.write_record(&row).unwrap();
        }
        writer.flush().unwrap();
    }
    let ids = |path: &Path| -> Vec<String> {
        let index = scan(path, &TieRule::Exclude, Some(10), Some(42)).unwrap();
        let items = index.selected().unwrap();
        items.map(|item| item.unwrap().item_id).collect()
    };
    let mut again = ids(reversed.path());
    again.reverse();
    assert_eq!(again, ids(dir.path()));
}
