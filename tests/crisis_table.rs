//! Measures the crisis gate on a hand-written, labelled sentence table
//! (tests/data/crisis_sentences.tsv) and checks its behaviour on hostile input.

use coe_bot::safety::crisis::{assess, Concern};

const TABLE: &str = include_str!("data/crisis_sentences.tsv");

fn expected(label: &str) -> Option<Concern> {
    match label {
        "self" => Some(Concern::SelfRisk),
        "other" => Some(Concern::OtherPerson),
        "danger" => Some(Concern::DangerToOthers),
        "none" => None,
        _ => panic!("unknown label {label:?}"),
    }
}

struct Row {
    section: &'static str,
    label: &'static str,
    sentence: &'static str,
}

fn rows() -> Vec<Row> {
    let mut section = "table";
    let mut rows = Vec::new();
    for line in TABLE.lines() {
        if let Some(name) = line.strip_prefix("#@ ") {
            section = name.trim();
        } else if !line.trim().is_empty() && !line.starts_with('#') {
            let (label, sentence) = line
                .split_once('\t')
                .unwrap_or_else(|| panic!("no tab: {line:?}"));
            rows.push(Row {
                section,
                label,
                sentence,
            });
        }
    }
    rows
}

/// Counts for one group of rows: concerns flagged / exact, and none flagged.
#[derive(Default)]
struct Score {
    concerns: usize,
    flagged: usize,
    exact: usize,
    nones: usize,
    false_alarms: usize,
}

impl Score {
    fn add(&mut self, want: Option<Concern>, got: Option<Concern>) {
        if want.is_some() {
            self.concerns += 1;
            self.flagged += usize::from(got.is_some());
            self.exact += usize::from(got == want);
        } else {
            self.nones += 1;
            self.false_alarms += usize::from(got.is_some());
        }
    }

    fn recall(&self) -> f64 {
        self.flagged as f64 / self.concerns.max(1) as f64
    }

    fn fpr(&self) -> f64 {
        self.false_alarms as f64 / self.nones.max(1) as f64
    }

    fn print(&self, name: &str) {
        println!(
            "{name:>10}: recall {}/{} = {:.3}, exact category {}/{} = {:.3}, false positives {}/{} = {:.3}",
            self.flagged,
            self.concerns,
            self.recall(),
            self.exact,
            self.concerns,
            self.exact as f64 / self.concerns.max(1) as f64,
            self.false_alarms,
            self.nones,
            self.fpr()
        );
    }
}

#[test]
fn table_recall_and_false_positive_rate() {
    let rows = rows();
    let count = |label: &str| rows.iter().filter(|r| r.label == label).count();
    assert!(rows.len() >= 170, "need at least 170 sentences");
    assert!(
        count("self") >= 60 && count("other") >= 15,
        "too few self/other rows"
    );
    assert!(
        count("danger") >= 10 && count("none") >= 70,
        "too few danger/none rows"
    );

    let mut total = Score::default();
    let mut sections: Vec<(&str, Score)> = Vec::new();
    let mut report = Vec::new();
    for row in &rows {
        let want = expected(row.label);
        let got = assess(row.sentence);
        if sections.last().is_none_or(|(name, _)| *name != row.section) {
            sections.push((row.section, Score::default()));
        }
        if let Some((_, score)) = sections.last_mut() {
            score.add(want, got.concern);
        }
        total.add(want, got.concern);
        let shown = got.concern.map_or("none", Concern::as_str);
        let rule = got.rule_id.unwrap_or("-");
        let kind = match (want, got.concern) {
            (Some(_), None) => "MISS       ",
            (None, Some(_)) => "FALSE ALARM",
            (w, g) if w != g => "WRONG KIND ",
            _ => continue,
        };
        report.push(format!(
            "{kind} [{} -> {shown} via {rule}] {}",
            row.label, row.sentence
        ));
    }
    println!("crisis table: {} sentences", rows.len());
    for (name, score) in &sections {
        score.print(name);
    }
    total.print("all");
    for line in &report {
        println!("  {line}");
    }
    assert!(
        total.recall() >= 0.95,
        "recall {:.3} < 0.95",
        total.recall()
    );
    assert!(
        total.fpr() <= 0.10,
        "false-positive rate {:.3} > 0.10",
        total.fpr()
    );
}

#[test]
fn decisions_on_borderline_cases() {
    let concern = |s: &str| assess(s).concern;
    // Negation is part of these phrases.
    assert_eq!(concern("I don't want to wake up"), Some(Concern::SelfRisk));
    assert_eq!(concern("I can't go on."), Some(Concern::SelfRisk));
    // Negation that scopes the phrase suppresses it.
    assert_eq!(concern("I would never kill myself"), None);
    assert_eq!(concern("not going to hurt myself, promise"), None);
    // ...but not when the negation belongs to something else.
    assert_eq!(
        concern("I'm not ok and I want to kill myself"),
        Some(Concern::SelfRisk)
    );
    // Harassment aimed at the writer is treated as self-risk.
    assert_eq!(concern("they said I should kms"), Some(Concern::SelfRisk));
    // Reported speech about someone else.
    assert_eq!(
        concern("he told me he's going to kill himself"),
        Some(Concern::OtherPerson)
    );
    // Self-risk wins over other categories in one message.
    assert_eq!(
        concern("I want to hurt him. Honestly I want to die too."),
        Some(Concern::SelfRisk)
    );
}

#[test]
fn rule_id_is_reported_and_never_text() {
    let a = assess("i want to kill myself");
    let id = a.rule_id.expect("rule id");
    assert!(!id.contains(' '), "rule id looks like text: {id}");
    assert_eq!(assess("lovely weather today").rule_id, None);
}

#[test]
fn huge_and_odd_input_is_fast_and_safe() {
    let huge = "this homework is killing me 💀 ".repeat(40_000);
    let start = std::time::Instant::now();
    assert_eq!(assess(&huge).concern, None);
    let negated = "i'd never kill myself. ".repeat(40_000);
    assert_eq!(assess(&negated).concern, None);
    let stretched = format!("{}i wanna diiiiiiiie", "a".repeat(100));
    assert_eq!(assess(&stretched).concern, Some(Concern::SelfRisk));
    assert!(
        start.elapsed().as_secs() < 10,
        "too slow: {:?}",
        start.elapsed()
    );
    for odd in [
        "",
        " ",
        "\u{200B}",
        "🙂🙂🙂",
        "İİİ",
        "\u{0301}\u{0301}",
        "\"\"\"",
        "1 3 0 4 $ @",
    ] {
        let _ = assess(odd);
    }
}

proptest::proptest! {
    // Integration tests have no lib.rs next to them to store regressions in.
    // Fixed cases in CI; PROPTEST_RNG_SEED=<u64> explores others.
    #![proptest_config(proptest::test_runner::Config {
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5eed_0007),
        ..proptest::test_runner::Config::default()
    })]

    #[test]
    fn never_panics_on_arbitrary_unicode(s in "\\PC{0,300}") {
        let _ = assess(&s);
    }

    #[test]
    fn noise_around_a_crisis_phrase_keeps_it_flagged(pre in "[a-z ]{0,40}", post in "[a-z ]{0,40}") {
        let text = format!("{pre}. i want to kill myself. {post}");
        proptest::prop_assert_eq!(assess(&text).concern, Some(Concern::SelfRisk));
    }
}
