//! Measures the whole crisis gate (patterns + the real embedding
//! classifier) on a hand-written, labelled sentence table
//! (tests/data/crisis_sentences.tsv), and the pattern layer's behaviour on
//! borderline and hostile input.

mod common;

use coe_bot::safety::crisis::assess;
use coe_bot::safety::risk::{RiskKind, Tier};

const TABLE: &str = include_str!("data/crisis_sentences.tsv");

/// `crisis:self` → (crisis, self); `concern` → (concern, none).
fn expected(label: &str) -> (Tier, Option<RiskKind>) {
    match label {
        "crisis:self" => (Tier::Crisis, Some(RiskKind::SelfRisk)),
        "crisis:other" => (Tier::Crisis, Some(RiskKind::OtherPerson)),
        "crisis:danger" => (Tier::Crisis, Some(RiskKind::DangerToOthers)),
        other => (
            Tier::parse(other).unwrap_or_else(|| panic!("unknown label {other:?}")),
            None,
        ),
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

/// The rates the gate is held to, over one group of rows.
#[derive(Default)]
struct Score {
    crises: usize,
    crisis_fixed: usize,
    kind_exact: usize,
    concerns: usize,
    concern_helplines: usize,
    calm: usize,
    calm_fixed: usize,
    nones: usize,
    none_helplines: usize,
}

fn ratio(n: usize, of: usize) -> f64 {
    n as f64 / of.max(1) as f64
}

impl Score {
    fn add(&mut self, want: (Tier, Option<RiskKind>), got: (Tier, RiskKind)) {
        match want.0 {
            Tier::Crisis => {
                self.crises += 1;
                self.crisis_fixed += usize::from(got.0 == Tier::Crisis);
                self.kind_exact += usize::from(got.0 == Tier::Crisis && want.1 == Some(got.1));
            }
            Tier::Concern => {
                self.concerns += 1;
                self.concern_helplines += usize::from(got.0.shows_helplines());
            }
            Tier::Mention | Tier::None => {
                self.calm += 1;
                self.calm_fixed += usize::from(got.0 == Tier::Crisis);
                if want.0 == Tier::None {
                    self.nones += 1;
                    self.none_helplines += usize::from(got.0.shows_helplines());
                }
            }
        }
    }

    fn print(&self, name: &str) {
        println!(
            "{name:>12}: crisis→fixed {}/{} = {:.3} (kind right {}), concern→helplines {}/{} = {:.3}, \
             calm→fixed {}/{} = {:.3}, none→helplines {}/{} = {:.3}",
            self.crisis_fixed,
            self.crises,
            ratio(self.crisis_fixed, self.crises),
            self.kind_exact,
            self.concern_helplines,
            self.concerns,
            ratio(self.concern_helplines, self.concerns),
            self.calm_fixed,
            self.calm,
            ratio(self.calm_fixed, self.calm),
            self.none_helplines,
            self.nones,
            ratio(self.none_helplines, self.nones),
        );
    }
}

#[tokio::test]
async fn table_tiers_through_the_whole_gate() {
    let rows = rows();
    let count = |label: &str| rows.iter().filter(|r| r.label == label).count();
    assert!(rows.len() >= 500, "need at least 500 sentences");
    for (label, at_least) in [
        ("crisis:self", 100),
        ("crisis:other", 20),
        ("crisis:danger", 20),
        ("concern", 50),
        ("mention", 10),
        ("none", 150),
    ] {
        assert!(count(label) >= at_least, "too few {label} rows");
    }
    let texts: Vec<&str> = rows.iter().map(|r| r.sentence).collect();
    let risks = common::gate().assess_many(&texts).await;

    let mut total = Score::default();
    let mut sections: Vec<(&str, Score)> = Vec::new();
    let mut report = Vec::new();
    for (row, risk) in rows.iter().zip(&risks) {
        let want = expected(row.label);
        let got = (risk.tier, risk.kind);
        if sections.last().is_none_or(|(name, _)| *name != row.section) {
            sections.push((row.section, Score::default()));
        }
        if let Some((_, score)) = sections.last_mut() {
            score.add(want, got);
        }
        total.add(want, got);
        let verdict = match (want.0, got.0) {
            (Tier::Crisis, t) if t != Tier::Crisis => "MISS       ",
            (Tier::Concern, t) if !t.shows_helplines() => "MISS       ",
            (Tier::Mention | Tier::None, Tier::Crisis) => "FALSE ALARM",
            (Tier::None, Tier::Concern) => "CHECK-IN   ",
            _ => continue,
        };
        let layer = risk.layer.map_or("-", |l| l.as_str());
        report.push(format!(
            "{verdict} [{} -> {} via {layer} {:.2}] {}",
            row.label,
            got.0,
            risk.score.unwrap_or(0.0),
            row.sentence
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
    let floors = [
        (
            "crisis→fixed reply",
            ratio(total.crisis_fixed, total.crises),
            FLOOR_CRISIS,
            true,
        ),
        (
            "concern→helplines",
            ratio(total.concern_helplines, total.concerns),
            FLOOR_CONCERN,
            true,
        ),
        (
            "calm→fixed reply",
            ratio(total.calm_fixed, total.calm),
            CEILING_CALM_FIXED,
            false,
        ),
        (
            "none→helplines",
            ratio(total.none_helplines, total.nones),
            CEILING_NONE_HELPLINES,
            false,
        ),
    ];
    for (name, value, limit, at_least) in floors {
        let ok = if at_least {
            value >= limit
        } else {
            value <= limit
        };
        assert!(ok, "{name} {value:.3} beyond its limit {limit}");
    }
}

// Limits on the table, set just beyond what the whole gate measured when
// they were last moved (2026-12-01: 0.981, 0.987, 0.060, 0.069; the test
// prints the figures per section). The table was written before the
// classifier's training text and none of it is in data/gate/train/.
const FLOOR_CRISIS: f64 = 0.97;
const FLOOR_CONCERN: f64 = 0.95;
const CEILING_CALM_FIXED: f64 = 0.08;
const CEILING_NONE_HELPLINES: f64 = 0.10;

#[test]
fn pattern_decisions_on_borderline_cases() {
    let concern = |s: &str| {
        let risk = assess(s);
        (risk.tier == Tier::Crisis).then_some(risk.kind)
    };
    let tier = |s: &str| assess(s).tier;
    // Negation is part of these phrases.
    assert_eq!(concern("I don't want to wake up"), Some(RiskKind::SelfRisk));
    assert_eq!(tier("I can't go on."), Tier::Concern);
    assert_eq!(
        tier("everyone would be better off without me"),
        Tier::Concern
    );
    // Negation, hedges and recovery soften strong words by one step (two
    // for past-and-recovered), never to `none`.
    assert_eq!(tier("I would never kill myself"), Tier::Concern);
    assert_eq!(tier("not going to hurt myself, promise"), Tier::Concern);
    assert_eq!(
        tier("I used to cut myself, I've been clean for a year now"),
        Tier::Mention
    );
    // Recovery elsewhere does not soften a recent attempt.
    assert_eq!(
        tier("I've been in recovery for years, but I attempted suicide again last night"),
        Tier::Crisis
    );
    // ...but not when the negation belongs to something else.
    assert_eq!(
        concern("I'm not ok and I want to kill myself"),
        Some(RiskKind::SelfRisk)
    );
    // Harassment aimed at the writer is treated as self-risk.
    assert_eq!(concern("they said I should kms"), Some(RiskKind::SelfRisk));
    // Reported speech about someone else.
    assert_eq!(
        concern("he told me he's going to kill himself"),
        Some(RiskKind::OtherPerson)
    );
    // Self-risk wins over other categories in one message.
    assert_eq!(
        concern("I want to hurt him. Honestly I want to die too."),
        Some(RiskKind::SelfRisk)
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
    assert_eq!(assess(&huge).tier, Tier::None);
    let negated = "i'd never kill myself. ".repeat(40_000);
    assert_eq!(assess(&negated).tier, Tier::Concern);
    let stretched = format!("{}i wanna diiiiiiiie", "a".repeat(100));
    assert_eq!(assess(&stretched).tier, Tier::Crisis);
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
        let risk = assess(&text);
        proptest::prop_assert_eq!((risk.tier, risk.kind), (Tier::Crisis, RiskKind::SelfRisk));
    }
}
