//! Pass 2: every labelled item with its mark, a file edited between the
//! passes, and a data set of EPITOME's format at scale.

use super::synthetic;
use super::*;

#[test]
fn stream_marks_the_selection_among_all_labelled_items() {
    let path = fixture("epitome");
    let (all, _) = load(&path, &TieRule::Exclude);
    let index = scan(&path, &TieRule::Exclude, Some(3), Some(5)).unwrap();
    let streamed: Vec<Scanned> = index.stream().unwrap().map(Result::unwrap).collect();
    let items: Vec<EvalItem> = streamed.iter().map(|s| s.item.clone()).collect();
    assert_eq!(items, all);
    let marked: Vec<EvalItem> = streamed
        .into_iter()
        .filter_map(|s| s.selected.then_some(s.item))
        .collect();
    let selected: Vec<EvalItem> = index.selected().unwrap().map(Result::unwrap).collect();
    assert_eq!(marked, selected);
    let counts = (marked.len(), index.selected_len(), index.stats().items);
    assert_eq!(counts, (3, 3, 8));
    // The index can be streamed again.
    assert_eq!(index.stream().unwrap().count(), 8);
}

/// Scans `path`, rewrites `file` with `edit`, then streams.
fn stream_after_edit(
    path: &Path,
    file: &Path,
    edit: impl Fn(&str) -> String,
) -> Vec<Result<Scanned, DatasetError>> {
    let index = scan(path, &TieRule::Exclude, None, None).unwrap();
    let text = fs::read_to_string(file).unwrap();
    fs::write(file, edit(&text)).unwrap();
    let mut stream = index.stream().unwrap();
    let results: Vec<_> = stream.by_ref().collect();
    assert!(stream.next().is_none(), "a stream ends at its error");
    results
}

fn assert_changed(results: &[Result<Scanned, DatasetError>], what: &str) {
    let (last, before) = results.split_last().expect("an error at least");
    assert!(before.iter().all(Result::is_ok), "{what}");
    match last {
        Err(e @ DatasetError::Changed { .. }) => {
            assert!(e
                .to_string()
                .contains("changed while this run was reading it"))
        }
        other => panic!("{what}: {other:?}"),
    }
}

type Edit = fn(&str) -> String;

#[test]
fn a_file_edited_between_the_passes_is_reported() {
    let edits: [(&str, Edit); 4] = [
        // fx06 is all zero: excluded pairs are checked too.
        ("a key changed", |t| t.replace("fx06s,fx06r", "fx06s,fx66r")),
        ("a repeated key changed", |t| {
            let at = t.rfind("fx03s,fx03r").unwrap();
            format!("{}fx13s{}", &t[..at], &t[at + 5..])
        }),
        ("rows removed", |t| {
            t[..t.find("fx12s").unwrap()].to_string()
        }),
        ("a row added", |t| format!("{t}zz,zz,a,b,0,\n")),
    ];
    for (what, edit) in edits {
        let dir = edited_epitome(0, str::to_string);
        let first = dir.path().join(EPITOME_FILES[0]);
        assert_changed(&stream_after_edit(dir.path(), &first, edit), what);
    }

    let dir = tempfile::tempdir().unwrap();
    let simple = dir.path().join("simple.csv");
    fs::copy(fixture("simple.csv"), &simple).unwrap();
    let results = stream_after_edit(&simple, &simple, |t| t.replace("Nobody", "No one"));
    assert_changed(&results, "a simple row's text changed");
    let results = stream_after_edit(&simple, &simple, |t| t.replace(",advice", ",ER"));
    assert_changed(&results, "an unknown label fixed");
}

#[test]
fn synthetic_epitome_scans_to_its_known_counts() {
    // What the index keeps per pair, whatever the texts' length.
    assert_eq!(std::mem::size_of::<Pair>(), 24);
    let dir = tempfile::tempdir().unwrap();
    synthetic::write_epitome(dir.path(), 20_000);
    let started = std::time::Instant::now();
    let index = scan(dir.path(), &TieRule::Exclude, Some(100), Some(3)).unwrap();
    eprintln!("scan of 20,000 synthetic pairs: {:?}", started.elapsed());
    // 1,250 cycles of the generator's 16 level patterns.
    let expected = LoadStats {
        rows_read: 60_000,
        ties_excluded: 1_250,
        all_zero_excluded: 5_000,
        items: 13_750,
        ..LoadStats::default()
    };
    assert_eq!(index.stats(), &expected);
    assert_eq!(index.selected_len(), 100);

    let mut counts = [0; 3];
    let mut selected = 0;
    for scanned in index.stream().unwrap() {
        let Scanned { item, selected: s } = scanned.unwrap();
        counts[item.gold.index()] += 1;
        selected += usize::from(s);
        let pair: usize = item.item_id[9..].parse().unwrap();
        let seeker = synthetic::seeker_of(pair);
        assert_eq!(item.seeker_id, format!("s{seeker:06}"));
        assert_eq!(seeker_id_of(&item.item_id), item.seeker_id);
        assert_eq!(item.seeker_post, synthetic::seeker_post(seeker));
        assert_eq!(item.response_post, synthetic::response_post(pair));
    }
    assert_eq!((counts, selected), ([3_750, 2_500, 7_500], 100));
}

#[test]
fn responses_to_one_post_share_its_seeker_id() {
    let dir = tempfile::tempdir().unwrap();
    synthetic::write_epitome(dir.path(), 8);
    let (items, _) = load(dir.path(), &TieRule::Exclude);
    let ids: Vec<(&str, &str)> = items
        .iter()
        .map(|i| (i.item_id.as_str(), i.seeker_id.as_str()))
        .collect();
    // Pairs 2 and 6 are all zero; 3 and 4 answer the same post.
    assert_eq!(
        ids,
        [
            ("s000000:r000000", "s000000"),
            ("s000001:r000001", "s000001"),
            ("s000003:r000003", "s000003"),
            ("s000003:r000004", "s000003"),
            ("s000004:r000005", "s000004"),
            ("s000006:r000007", "s000006"),
        ]
    );
}
