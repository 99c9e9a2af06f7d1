use super::*;
use crate::chain::{MarkedEdit, Therapy};

fn draft(text: &str, steps: usize) -> Draft {
    Draft {
        therapy: Therapy::Cbt,
        asked: Some(Strategy::Exploration),
        strategy: Some(Strategy::Interpretation),
        emotion: Emotion::from_model("sadness"),
        reasoning: (0..steps)
            .map(|i| format!("step {i} {}", "x".repeat(300)))
            .collect(),
        aim: Some("Validate first.".into()),
        text: text.into(),
        prompt_version: "abcd1234",
    }
}

#[test]
fn a_draft_card_shows_the_draft_the_strategy_and_why() {
    let card = draft_card(&draft("It sounds heavy.\nWhat happened?", 2));
    assert!(card.starts_with("**Draft reply** · interpretation · Cognitive behavioural"));
    assert!(
        card.contains("> It sounds heavy.\n> What happened?"),
        "{card}"
    );
    assert!(card.contains("You asked for exploration; the model wrote interpretation."));
    assert!(card.contains("Feeling: sadness") && card.contains("Aim: Validate first."));
    assert!(card.contains("- step 1"));
    assert!(card.ends_with(DRAFT_FOOTER));
}

#[test]
fn every_card_fits_discord_and_keeps_its_footer() {
    let long = draft(&"word ".repeat(600), 8);
    let card = draft_card(&long);
    assert!(
        card.chars().count() <= CARD_LIMIT,
        "{}",
        card.chars().count()
    );
    assert!(card.ends_with(DRAFT_FOOTER));
    let feedback = Feedback {
        therapy: Therapy::Pct,
        strategies_used: vec![],
        suggestions: vec!["s".repeat(1_500), "second".into()],
        adds: None,
        edit: Edit::Rewrite,
        prompt_version: "abcd1234",
    };
    let card = feedback_card(&feedback);
    assert!(card.chars().count() <= CARD_LIMIT);
    assert!(card.contains("rewrote too much") && card.contains("couldn't spot"));
    let guidance = guidance_card(&"g".repeat(3_000), "note");
    assert!(guidance.chars().count() <= CARD_LIMIT && guidance.ends_with(GUIDANCE_FOOTER));
}

#[test]
fn a_feedback_card_shows_strategies_suggestions_and_the_marked_edit() {
    let feedback = Feedback {
        therapy: Therapy::Dbt,
        strategies_used: vec![Strategy::EmotionalReaction],
        suggestions: vec!["Ask what the day was like.".into()],
        adds: Some(Strategy::Exploration),
        edit: Edit::Marked(MarkedEdit {
            marked: "I'm sorry. **What happened?**".into(),
            kept_ratio: 1.0,
            added_words: 2,
            draft_words: 2,
            changed: true,
        }),
        prompt_version: "abcd1234",
    };
    let card = feedback_card(&feedback);
    assert!(card.contains("Your reply already uses: emotional reaction."));
    assert!(card.contains("adding exploration"));
    assert!(card.contains("> I'm sorry. **What happened?**"));
    assert!(card.contains("**Suggestions**\n- Ask what the day was like."));
    assert!(card.ends_with(FEEDBACK_FOOTER));
}
