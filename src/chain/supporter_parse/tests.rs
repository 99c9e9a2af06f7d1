use super::*;
use Strategy::*;

#[test]
fn reads_a_table_of_draft_answers() {
    let ok = |raw: &str, strategy: Option<Strategy>, draft: &str| {
        let out = parse_draft(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
        assert_eq!(
            (out.strategy, out.draft.as_str()),
            (strategy, draft),
            "{raw}"
        );
        out
    };
    let full = ok(
        r#"{"emotion":"Shame","reasoning":["a","b"],"aim":"Validate.","strategy":"interpretation","draft":"Hi."}"#,
        Some(Interpretation),
        "Hi.",
    );
    assert_eq!(full.emotion.as_ref().map(Emotion::as_str), Some("shame"));
    assert_eq!(
        (full.reasoning.len(), full.aim.as_deref()),
        (2, Some("Validate."))
    );
    ok(
        "```json\n{\"Strategy\": \"Exploration\", \"Draft\": \"What happened?\"}\n```",
        Some(Exploration),
        "What happened?",
    );
    ok("Here you go:\n{\"strategy\": [\"emotional reactions\"], \"reply\": \"I'm sorry.\",}\nThanks", Some(EmotionalReaction), "I'm sorry.");
    ok(
        r#"{"strategy": "advice", "response": "Try yoga."}"#,
        None,
        "Try yoga.",
    );
    ok(
        r#"{"note": {"x": 1}} {"draft": "Second object."}"#,
        None,
        "Second object.",
    );
    let long_aim = format!(r#"{{"aim": "{}", "draft": "ok"}}"#, "a".repeat(1_000));
    assert_eq!(
        parse_draft(&long_aim).unwrap().aim.unwrap().len(),
        MAX_AIM_CHARS
    );
}

#[test]
fn a_draft_answer_without_a_draft_is_an_error_that_quotes_nothing() {
    for raw in [
        "",
        "MARKER sorry, no JSON",
        r#"{"draft": "   ", "aim": "MARKER"}"#,
        r#"{"reply_text": "MARKER"}"#,
        "[1, 2]",
    ] {
        let error = parse_draft(raw).unwrap_err();
        assert!(!error.to_string().contains("MARKER"), "{error}");
        assert!(!format!("{error:?}").contains("MARKER"));
    }
}

#[test]
fn reads_a_table_of_feedback_answers() {
    let full = parse_feedback(
        r#"{"strategies_used": ["emotional_reaction", "Emotional Reaction", "ip"],
            "suggestions": ["Ask more.", "Name the feeling.", "A third."],
            "adds": "exploration", "edited": "I'm sorry. What happened?"}"#,
    )
    .unwrap();
    assert_eq!(
        full.strategies_used,
        vec![EmotionalReaction, Interpretation]
    );
    assert_eq!(full.suggestions, vec!["Ask more.", "Name the feeling."]);
    assert_eq!(full.adds, Some(Exploration));
    assert_eq!(full.edited.as_deref(), Some("I'm sorry. What happened?"));

    let loose = parse_feedback(
        "Sure!\n```\n{\"Strategies\": \"exploration, interpretation\", \"Suggestions\": \"Ask one question.\",}\n```",
    )
    .unwrap();
    assert_eq!(loose.strategies_used, vec![Exploration, Interpretation]);
    assert_eq!(loose.suggestions, vec!["Ask one question."]);
    assert_eq!((loose.adds, loose.edited), (None, None));

    let edit_only = parse_feedback(r#"{"edited": "Better.", "strategies_used": "none"}"#).unwrap();
    assert!(edit_only.strategies_used.is_empty() && edit_only.suggestions.is_empty());
    assert_eq!(edit_only.edited.as_deref(), Some("Better."));
}

#[test]
fn feedback_without_suggestions_or_an_edit_is_an_error() {
    for raw in [
        r#"{"strategies_used": ["exploration"], "edited": "  "}"#,
        r#"{"suggestions": [], "edited": null}"#,
        "no json here",
    ] {
        assert!(parse_feedback(raw).is_err(), "{raw}");
    }
}

#[test]
fn hostile_answers_are_bounded() {
    let nested = "{".repeat(100_000);
    assert!(parse_draft(&nested).is_err());
    assert!(parse_feedback(&nested).is_err());
    let many = r#"{"suggestions": ["#.to_string() + &"\"x\",".repeat(10_000) + "\"y\"]}";
    assert_eq!(
        parse_feedback(&many).unwrap().suggestions.len(),
        MAX_SUGGESTIONS
    );
}
