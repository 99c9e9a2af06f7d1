//! The text of the supporter's cards, as Discord markdown (the terminal
//! prints it as it is). Discord adds its buttons; the words are the same
//! in both front doors.

use super::{Draft, Edit, Feedback};
use crate::chain::{Emotion, Strategy};
use crate::text::truncate_chars;

/// Discord's limit on a message's content, which every card fits.
pub const CARD_LIMIT: usize = 2_000;

const DRAFT_FOOTER: &str =
    "-# Only you can see this. Make it your own before you post it: nothing is sent for you.";
const FEEDBACK_FOOTER: &str =
    "-# Only you can see this. Take what helps and leave the rest: the reply is yours.";
const GUIDANCE_FOOTER: &str = "-# Only you can see this.";

/// A strategy as people read it ("emotional reaction").
pub fn strategy_name(strategy: Strategy) -> &'static str {
    match strategy {
        Strategy::EmotionalReaction => "emotional reaction",
        Strategy::Exploration => "exploration",
        Strategy::Interpretation => "interpretation",
    }
}

pub fn draft_card(draft: &Draft) -> String {
    let strategy = draft.strategy.map_or("no named strategy", strategy_name);
    let mut head = format!(
        "**Draft reply** · {strategy} · {} reasoning\n{}",
        draft.therapy.title(),
        quoted(&draft.text)
    );
    if let (Some(asked), Some(used)) = (draft.asked, draft.strategy) {
        if asked != used {
            head.push_str(&format!(
                "\n(You asked for {}; the model wrote {}.)",
                strategy_name(asked),
                strategy_name(used)
            ));
        }
    }
    let mut why = vec!["**Why this draft**".to_string()];
    if let Some(emotion) = &draft.emotion {
        why.push(format!("Feeling: {}", Emotion::as_str(emotion)));
    }
    if let Some(aim) = &draft.aim {
        why.push(format!("Aim: {aim}"));
    }
    let steps = draft.reasoning.iter().map(|step| format!("- {step}"));
    fit(head, why.into_iter().chain(steps).collect(), DRAFT_FOOTER)
}

pub fn feedback_card(feedback: &Feedback) -> String {
    let used = if feedback.strategies_used.is_empty() {
        "I couldn't spot one of the three empathy strategies (emotional reaction, exploration, \
         interpretation) in it yet."
            .to_string()
    } else {
        let names: Vec<&str> = feedback
            .strategies_used
            .iter()
            .map(|s| strategy_name(*s))
            .collect();
        format!("Your reply already uses: {}.", names.join(", "))
    };
    let mut head = format!(
        "**Feedback on your reply** · {} lens\n{used}",
        feedback.therapy.title()
    );
    head.push_str(&format!("\n{}", edit_section(feedback)));
    let mut more = Vec::new();
    if !feedback.suggestions.is_empty() {
        more.push("**Suggestions**".to_string());
        more.extend(feedback.suggestions.iter().map(|s| format!("- {s}")));
    }
    fit(head, more, FEEDBACK_FOOTER)
}

fn edit_section(feedback: &Feedback) -> String {
    match &feedback.edit {
        Edit::Marked(edit) => {
            let adds = feedback
                .adds
                .map(|s| format!(", adding {}", strategy_name(s)))
                .unwrap_or_default();
            format!(
                "**A light edit** (your words; **added**, ~~removed~~{adds}):\n{}",
                quoted(&edit.marked)
            )
        }
        Edit::Unchanged => "No edit to suggest: your wording can stand.".into(),
        Edit::Rewrite => {
            "The model's edit rewrote too much of your words, so I left it out: your voice \
             matters more than its wording."
                .into()
        }
        Edit::DraftAtRisk => {
            "Your draft talks about suicide or self-harm in a way I won't edit. Keep any details \
             of methods out of what you post, and if the member may be at risk, involve a \
             moderator."
                .into()
        }
        Edit::Withheld => "I left out the model's edit: it did not pass the safety check.".into(),
    }
}

/// The guidance for answering someone at risk, with the front door's note
/// (whether moderators were alerted).
pub fn guidance_card(guidance: &str, note: &str) -> String {
    let head = format!("**Answering someone who may be at risk**\n{guidance}");
    let notes = if note.is_empty() {
        Vec::new()
    } else {
        vec![note.to_string()]
    };
    fit(head, notes, GUIDANCE_FOOTER)
}

/// `text` as a Discord block quote, line by line.
fn quoted(text: &str) -> String {
    text.lines()
        .map(|line| format!("> {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The head, as many of the optional lines as fit (in order), and the
/// footer, within [`CARD_LIMIT`]; an oversized head is cut.
fn fit(head: String, lines: Vec<String>, footer: &str) -> String {
    let footer_chars = footer.chars().count() + 1;
    let (head, _) = truncate_chars(&head, CARD_LIMIT - footer_chars - 1);
    let mut card = head.to_string();
    let mut used = card.chars().count() + footer_chars;
    for line in lines {
        let cost = line.chars().count() + 1;
        if used + cost > CARD_LIMIT {
            break;
        }
        card.push('\n');
        card.push_str(&line);
        used += cost;
    }
    card.push('\n');
    card.push_str(footer);
    card
}

#[cfg(test)]
mod tests;
