//! The five therapies as data: a description, their prompt text (from
//! `prompts/`, compiled in) and a version that changes whenever it does.

use super::Therapy;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

const SHARED: &str = include_str!("../../prompts/system.md");
const OUTPUT: &str = include_str!("../../prompts/output.md");

struct Spec {
    therapy: Therapy,
    title: &'static str,
    description: &'static str,
    focus: &'static str,
}

const SPECS: [Spec; 5] = [
    Spec {
        therapy: Therapy::Base,
        title: "No reasoning",
        description: "replies empathetically without reasoning first (the paper's baseline)",
        focus: include_str!("../../prompts/base.md"),
    },
    Spec {
        therapy: Therapy::Cbt,
        title: "Cognitive behavioural",
        description: "looks at the thought behind the feeling and gently opens another view",
        focus: include_str!("../../prompts/cbt.md"),
    },
    Spec {
        therapy: Therapy::Dbt,
        title: "Dialectical behavioural",
        description:
            "validates first, holds acceptance and change together, may offer a small skill",
        focus: include_str!("../../prompts/dbt.md"),
    },
    Spec {
        therapy: Therapy::Pct,
        title: "Person-centred",
        description: "reflects the person's own frame of reference with unconditional regard",
        focus: include_str!("../../prompts/pct.md"),
    },
    Spec {
        therapy: Therapy::Rt,
        title: "Reality therapy",
        description: "looks at wants, unmet needs and what is within the person's control",
        focus: include_str!("../../prompts/rt.md"),
    },
];

/// The system prompt of each therapy and its short version hash, built once.
static PROMPTS: LazyLock<Vec<(String, String)>> = LazyLock::new(|| {
    SPECS
        .iter()
        .map(|spec| {
            let text = format!(
                "{}\n{}\n{}",
                SHARED.trim(),
                spec.focus.trim(),
                OUTPUT.trim()
            );
            let version = short_hash(&text);
            (text, version)
        })
        .collect()
});

/// First 8 hex digits of a prompt's sha256: its version.
pub(super) fn short_hash(text: &str) -> String {
    hex::encode(&Sha256::digest(text.as_bytes())[..4])
}

/// Position of a therapy's spec; also indexes `PROMPTS`.
fn position(therapy: Therapy) -> usize {
    SPECS
        .iter()
        .position(|spec| spec.therapy == therapy)
        .expect("every therapy has a spec")
}

fn spec(therapy: Therapy) -> &'static Spec {
    &SPECS[position(therapy)]
}

impl Therapy {
    /// A readable name for menus ("Cognitive behavioural").
    pub fn title(self) -> &'static str {
        spec(self).title
    }

    /// One line on how this therapy shapes the reply.
    pub fn description(self) -> &'static str {
        spec(self).description
    }

    /// The complete system prompt: shared rules, this therapy's reasoning
    /// steps, and the output format.
    pub fn system_prompt(self) -> &'static str {
        &PROMPTS[position(self)].0
    }

    /// First 8 hex digits of the prompt's sha256: recorded with every reply
    /// so a change of wording shows in the data.
    pub fn prompt_version(self) -> &'static str {
        &PROMPTS[position(self)].1
    }

    /// This therapy's reasoning steps alone, for the supporter's tasks.
    pub(super) fn focus(self) -> &'static str {
        spec(self).focus.trim()
    }

    /// Whether the therapy asks the model to reason before replying.
    pub fn reasons(self) -> bool {
        self != Therapy::Base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_therapy_has_its_own_prompt_and_version() {
        let versions: std::collections::HashSet<_> =
            Therapy::ALL.iter().map(|t| t.prompt_version()).collect();
        assert_eq!(versions.len(), 5);
        assert!(Therapy::Cbt.system_prompt().contains("Distortion"));
        assert!(Therapy::Dbt.system_prompt().contains("acceptance"));
        assert!(Therapy::Pct.system_prompt().contains("Frame of reference"));
        assert!(Therapy::Rt.system_prompt().contains("basic needs"));
        assert!(Therapy::Base.system_prompt().contains("empty list"));
        for therapy in Therapy::ALL {
            let prompt = therapy.system_prompt();
            assert!(prompt.contains("<member_message>"), "{therapy}");
            assert!(prompt.contains("\"strategy\""), "{therapy}");
            assert_eq!(therapy.prompt_version().len(), 8);
        }
    }
}
