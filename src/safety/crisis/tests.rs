use super::*;

#[test]
fn data_file_parses_every_regex_compiles_and_matches_its_examples() {
    let lex = Lexicon::parse(PATTERNS_TOML).expect("data/crisis_patterns.toml");
    for c in [
        RiskKind::SelfRisk,
        RiskKind::OtherPerson,
        RiskKind::DangerToOthers,
    ] {
        assert!(
            lex.rules.iter().any(|r| r.raw.category == c),
            "no {c:?} rule"
        );
    }
}

#[test]
fn broken_data_is_rejected_with_the_rule_id() {
    let bad_regex = PATTERNS_TOML.replacen("pattern = '''", "pattern = '''(", 1);
    let err = Lexicon::parse(&bad_regex)
        .err()
        .expect("unbalanced ( must fail");
    assert!(err.to_string().contains("self.kill_myself"), "{err}");
    let dup = format!(
        "{PATTERNS_TOML}\n[[rule]]\nid = \"self.kms\"\ncategory = \"self_risk\"\n\
         pattern = 'x'\nnote = 'n'\nexamples = ['x']\n"
    );
    assert!(Lexicon::parse(&dup).is_err_and(|e| e.to_string().contains("duplicate")));
    let typo = PATTERNS_TOML.replacen("negatable = false", "negateable = false", 1);
    assert!(
        Lexicon::parse(&typo).is_err(),
        "unknown keys must be rejected"
    );
}

#[test]
fn normalization_folds_disguises_but_keeps_numbers() {
    assert_eq!(normalize("I’M Su1c1d@l", 100), "i'm suicidal");
    assert_eq!(normalize("k*ll  my\u{200B}self!", 100), "kill myself!");
    assert_eq!(normalize("K M S", 100), "kms");
    assert_eq!(normalize("“ran 10 kms”", 100), "\"ran 10 kms\"");
    assert_eq!(normalize("abcdef", 3), "abc");
    assert_eq!(squeeze("diiiie killlll", 1), "die kil");
    assert_eq!(squeeze("diiiie killlll", 2), "diie kill");
}
