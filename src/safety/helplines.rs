//! Helplines per region and the fixed, reviewed crisis replies. Both live in
//! `data/helplines.toml` so they can be reviewed without reading Rust; a crisis
//! reply never contains model-generated text.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Deserialize;

use crate::safety::risk::RiskKind;

/// One crisis line as shown to a user.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Helpline {
    pub name: String,
    pub contact: String,
    pub url: Option<String>,
}

/// Helplines for region `region` ("us", "UK", "en-GB", ...). Unknown or empty
/// regions get the international fallback (findahelpline.com).
pub fn helplines_for(region: &str) -> &'static [Helpline] {
    &DIRECTORY.region(region).helplines
}

/// Region codes with their own helplines, sorted.
pub fn known_regions() -> Vec<&'static str> {
    DIRECTORY.regions.keys().map(String::as_str).collect()
}

/// The fixed safe-messaging reply for a crisis of `kind`, with the
/// region's helplines and emergency number filled in.
pub fn crisis_reply(kind: RiskKind, region: &str) -> String {
    let replies = &DIRECTORY.replies;
    let template = match kind {
        RiskKind::SelfRisk => &replies.self_risk,
        RiskKind::OtherPerson => &replies.other_person,
        RiskKind::DangerToOthers => &replies.danger_to_others,
    };
    fill(template, region)
}

/// The fixed check-in that follows the model's reply at tier `concern`:
/// a direct question to the writer, or, when the worry is about someone
/// else, how to ask them.
pub fn concern_check_in(kind: RiskKind, region: &str) -> String {
    let replies = &DIRECTORY.replies;
    match kind {
        RiskKind::OtherPerson => fill(&replies.concern_check_in_other, region),
        RiskKind::SelfRisk | RiskKind::DangerToOthers => fill(&replies.concern_check_in, region),
    }
}

/// Whether a bot message carries the check-in (its question paragraph,
/// which has no placeholders, so it reads the same in every region).
pub fn is_check_in(text: &str) -> bool {
    text.contains(opening(&DIRECTORY.replies.concern_check_in))
}

/// Whether a bot message is, or ends with, one of the fixed texts the gate
/// sends for risk (crisis replies, check-ins, the paused-thread pointer):
/// the member turn it answered carried risk, whatever layer saw it.
pub fn answers_risk(text: &str) -> bool {
    let r = &DIRECTORY.replies;
    [
        &r.self_risk,
        &r.other_person,
        &r.danger_to_others,
        &r.concern_check_in,
        &r.concern_check_in_other,
        &r.thread_paused,
    ]
    .into_iter()
    .any(|template| text.contains(opening(template)))
}

/// A template's first line: placeholder-free in every fixed text (a test
/// checks), so it is found in the text whatever the region.
fn opening(template: &str) -> &str {
    template.trim().lines().next().unwrap_or_default()
}

/// The one support line that follows the model's reply at tier `mention`.
pub fn mention_line(region: &str) -> String {
    fill(&DIRECTORY.replies.mention_line, region)
}

/// What a supporter who asked for a draft gets instead when the member's
/// message is at tier concern or crisis: how to answer someone at risk,
/// and the helplines to share. Never model text.
pub fn supporter_guidance(region: &str) -> String {
    fill(&DIRECTORY.replies.supporter_guidance, region)
}

/// What a support thread gets while replies there are paused after a crisis.
pub fn thread_paused(region: &str) -> String {
    fill(&DIRECTORY.replies.thread_paused, region)
}

fn fill(template: &str, region: &str) -> String {
    let region = DIRECTORY.region(region);
    let list: Vec<String> = region.helplines.iter().map(Helpline::line).collect();
    let first = &region.helplines[0];
    template
        .replace("{helplines}", &list.join("\n"))
        .replace(
            "{first_helpline}",
            &format!("**{}**, {}", first.name, first.contact),
        )
        .replace("{emergency}", &region.emergency)
        .trim()
        .to_string()
}

impl Helpline {
    fn line(&self) -> String {
        match &self.url {
            // Angle brackets stop Discord from adding a link preview.
            Some(url) => format!("- **{}**: {} <{url}>", self.name, self.contact),
            None => format!("- **{}**: {}", self.name, self.contact),
        }
    }
}

const HELPLINES_TOML: &str = include_str!("../../data/helplines.toml");

// The file is checked by unit tests, so a failure here is a build-time mistake.
static DIRECTORY: LazyLock<Directory> = LazyLock::new(|| {
    Directory::parse(HELPLINES_TOML).unwrap_or_else(|e| panic!("data/helplines.toml: {e}"))
});

#[derive(Debug, thiserror::Error)]
enum DirectoryError {
    #[error("not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("`{0}`: {1}")]
    Invalid(String, &'static str),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Region {
    emergency: String,
    #[serde(default)]
    aliases: Vec<String>,
    helplines: Vec<Helpline>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Replies {
    self_risk: String,
    other_person: String,
    danger_to_others: String,
    concern_check_in: String,
    concern_check_in_other: String,
    mention_line: String,
    thread_paused: String,
    supporter_guidance: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Directory {
    fallback: Region,
    regions: BTreeMap<String, Region>,
    replies: Replies,
}

impl Directory {
    fn parse(src: &str) -> Result<Directory, DirectoryError> {
        let dir: Directory = toml::from_str(src)?;
        let invalid = |at: &str, why| Err(DirectoryError::Invalid(at.to_string(), why));
        let regions = dir.regions.iter().map(|(k, r)| (k.as_str(), r));
        for (code, region) in regions.chain([("fallback", &dir.fallback)]) {
            if code != code.to_lowercase() || region.aliases.iter().any(|a| *a != a.to_lowercase())
            {
                return invalid(code, "region codes and aliases must be lower-case");
            }
            if region.helplines.is_empty() {
                return invalid(code, "needs at least one helpline");
            }
            let texts = region.helplines.iter().flat_map(|h| [&h.name, &h.contact]);
            if texts.chain([&region.emergency]).any(|t| t.contains('@')) {
                return invalid(code, "must not contain @ (Discord mentions)");
            }
        }
        let r = &dir.replies;
        for (name, text) in [
            ("self_risk", &r.self_risk),
            ("other_person", &r.other_person),
            ("danger_to_others", &r.danger_to_others),
            ("concern_check_in", &r.concern_check_in),
            ("concern_check_in_other", &r.concern_check_in_other),
            ("thread_paused", &r.thread_paused),
            ("supporter_guidance", &r.supporter_guidance),
        ] {
            if !text.contains("{helplines}") || !text.contains("{emergency}") || text.contains('@')
            {
                return invalid(name, "needs {helplines} and {emergency}, and no @");
            }
        }
        if !r.mention_line.contains("{first_helpline}") || r.mention_line.contains('@') {
            return invalid("mention_line", "needs {first_helpline}, and no @");
        }
        Ok(dir)
    }

    /// Exact code, then alias, then the last part of a locale ("en-GB" -> "gb").
    fn region(&self, region: &str) -> &Region {
        let code = region.trim().to_lowercase();
        let tail = code.rsplit(['-', '_']).next().unwrap_or_default();
        let found = [code.as_str(), tail]
            .into_iter()
            .filter(|c| !c.is_empty())
            .find_map(|c| {
                self.regions.get(c).or_else(|| {
                    self.regions
                        .values()
                        .find(|r| r.aliases.iter().any(|a| a == c))
                })
            })
            .unwrap_or(&self.fallback);
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONCERNS: [RiskKind; 3] = [
        RiskKind::SelfRisk,
        RiskKind::OtherPerson,
        RiskKind::DangerToOthers,
    ];

    #[test]
    fn data_file_parses_and_every_region_has_helplines() {
        let dir = Directory::parse(HELPLINES_TOML).expect("data/helplines.toml");
        assert!(!dir.fallback.helplines.is_empty());
        for code in ["us", "uk", "ie", "ca", "au"] {
            assert!(known_regions().contains(&code), "missing region {code}");
        }
        for code in known_regions() {
            assert!(!helplines_for(code).is_empty(), "{code} has no helplines");
        }
    }

    #[test]
    fn lookup_is_case_insensitive_and_falls_back() {
        assert!(helplines_for(" US ")[0].contact.contains("988"));
        assert!(helplines_for("en-GB")[0].contact.contains("116 123"));
        for unknown in ["", "zz", "fr-FR", "not a region"] {
            let lines = helplines_for(unknown);
            assert!(lines
                .iter()
                .any(|h| h.url.as_deref() == Some("https://findahelpline.com")));
        }
    }

    #[test]
    fn every_reply_is_short_complete_and_mention_free() {
        let regions = known_regions().into_iter().chain(["", "unknown"]);
        for region in regions {
            for concern in CONCERNS {
                let reply = crisis_reply(concern, region);
                assert!(
                    reply.chars().count() <= 1500,
                    "{region}/{concern:?} too long"
                );
                assert!(
                    !reply.contains('@') && !reply.contains('{'),
                    "{region}/{concern:?}"
                );
                for h in helplines_for(region) {
                    assert!(
                        reply.contains(&h.contact),
                        "{region}/{concern:?}: {}",
                        h.name
                    );
                }
                assert!(reply.contains(&DIRECTORY.region(region).emergency));
            }
        }
        assert!(crisis_reply(RiskKind::SelfRisk, "us").contains("988"));
        assert!(crisis_reply(RiskKind::SelfRisk, "uk").contains("116 123"));
        assert!(crisis_reply(RiskKind::OtherPerson, "ie").contains("116 123"));
        assert!(crisis_reply(RiskKind::SelfRisk, "").contains("findahelpline.com"));
    }

    #[test]
    fn replies_follow_safe_messaging() {
        for concern in CONCERNS {
            let reply = crisis_reply(concern, "us").to_lowercase();
            // Method words must never appear in a crisis reply.
            for word in [
                "pill", "rope", "jump", "overdose", "gun", "knife", "bridge", "cut",
            ] {
                assert!(!reply.contains(word), "{concern:?} mentions {word:?}");
            }
            assert!(
                !reply.contains("confidential"),
                "no confidentiality promises"
            );
            assert!(reply.contains("crisis line"));
        }
        assert!(crisis_reply(RiskKind::SelfRisk, "us").contains("not alone"));
    }

    #[test]
    fn supporter_guidance_lists_helplines_and_no_method_words() {
        for region in known_regions().into_iter().chain([""]) {
            let text = supporter_guidance(region);
            assert!(text.chars().count() <= 1500, "{region}: too long");
            assert!(!text.contains('{') && !text.contains('@'), "{region}");
            assert!(helplines_for(region)
                .iter()
                .all(|h| text.contains(&h.contact)));
            assert!(text.contains(&DIRECTORY.region(region).emergency));
            let lower = text.to_lowercase();
            for word in ["pill", "rope", "overdose", "gun", "knife", "bridge"] {
                assert!(!lower.contains(word), "{region} mentions {word:?}");
            }
            assert!(lower.contains("ask directly") && lower.contains("secret"));
        }
    }

    #[test]
    fn tier_texts_ask_directly_list_helplines_and_stay_short() {
        for region in known_regions().into_iter().chain([""]) {
            let helplines = helplines_for(region);
            for text in [
                concern_check_in(RiskKind::SelfRisk, region),
                concern_check_in(RiskKind::OtherPerson, region),
                thread_paused(region),
            ] {
                assert!(text.chars().count() <= 1200, "{region}: too long");
                assert!(!text.contains('{') && !text.contains('@'), "{region}");
                assert!(
                    helplines.iter().all(|h| text.contains(&h.contact)),
                    "{region}"
                );
            }
            let line = mention_line(region);
            assert!(line.lines().count() == 1 && line.contains(&helplines[0].contact));
        }
        let check_in = concern_check_in(RiskKind::SelfRisk, "us").to_lowercase();
        assert!(check_in.contains("thoughts of ending your life"));
        for word in ["pill", "rope", "jump", "overdose", "gun", "bridge", "cut"] {
            assert!(!check_in.contains(word), "check-in mentions {word:?}");
        }
    }

    #[test]
    fn every_fixed_text_is_recognised_by_its_opening_line() {
        for region in known_regions().into_iter().chain([""]) {
            let texts = [
                crisis_reply(RiskKind::SelfRisk, region),
                crisis_reply(RiskKind::OtherPerson, region),
                crisis_reply(RiskKind::DangerToOthers, region),
                concern_check_in(RiskKind::SelfRisk, region),
                concern_check_in(RiskKind::OtherPerson, region),
                thread_paused(region),
            ];
            for text in texts {
                assert!(
                    answers_risk(&format!("A reply.\n\n{text}")),
                    "{region}: {text}"
                );
            }
        }
        assert!(is_check_in(&concern_check_in(RiskKind::SelfRisk, "uk")));
        assert!(!answers_risk("What has today been like for you?"));
    }

    #[test]
    fn bad_data_is_rejected() {
        let mention = HELPLINES_TOML.replacen("call or text 988", "ping @here", 1);
        assert!(Directory::parse(&mention).is_err());
        let no_slot = HELPLINES_TOML.replacen("listen:\n{helplines}", "listen:", 1);
        assert!(Directory::parse(&no_slot).is_err());
        let no_line = HELPLINES_TOML.replacen("{first_helpline}", "a helpline", 1);
        assert!(Directory::parse(&no_line).is_err());
    }
}
