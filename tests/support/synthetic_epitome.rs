//! Synthetic evaluation data written for the project (never EPITOME's text),
//! sized like EPITOME: ~300-character seeker posts, ~150-character responses.
//! Shared by tests and benches by path, e.g. from `benches/support/mod.rs`:
//! `#[path = "../../tests/support/synthetic_epitome.rs"] pub mod synthetic_epitome;`
//! It depends on no crate item, so a unit test inside the crate can include
//! it too.
//!
//! Pair `i` (0-based) has `rp_id` `r{i:06}`; its seeker post is number
//! [`seeker_of`]`(i)`, with `sp_id` `s{seeker:06}`, so every fourth post has
//! two responses, as some EPITOME posts do. Levels cycle through
//! [`PATTERNS`]; no key is repeated.

// Each includer uses a different part.
#![allow(dead_code)]

use std::path::Path;

/// EPITOME's file names, spelled out here rather than taken from the crate
/// so the generator stays an independent copy of the format.
pub const FILES: [&str; 3] = [
    "emotional-reactions-reddit.csv",
    "explorations-reddit.csv",
    "interpretations-reddit.csv",
];

pub const HEADER: [&str; 6] = [
    "sp_id",
    "rp_id",
    "seeker_post",
    "response_post",
    "level",
    "rationales",
];

/// Levels (emotional reaction, exploration, interpretation) of pair `i` are
/// `PATTERNS[i % 16]`. Per cycle: 6 interpretation, 3 emotional reaction,
/// 2 exploration, 1 tie (er = ip) and 4 all-zero, roughly EPITOME's mix.
pub const PATTERNS: [[u8; 3]; 16] = [
    [0, 0, 1],
    [2, 0, 0],
    [0, 0, 0],
    [0, 0, 2],
    [0, 2, 1],
    [1, 0, 2],
    [0, 0, 0],
    [1, 0, 0],
    [0, 1, 2],
    [2, 0, 2],
    [0, 0, 0],
    [0, 0, 2],
    [2, 1, 0],
    [0, 1, 0],
    [1, 1, 2],
    [0, 0, 0],
];

const OPENINGS: [&str; 8] = [
    "I moved to a new city for work last spring, and I still don't really know anyone here",
    "My sister and I argued about money at dinner, and we haven't spoken in nearly two weeks",
    "I keep putting off my thesis; every morning I open the file, read one page and close it",
    "Since my knee operation I can't play football with my team, so weekends feel long and empty",
    "My manager called my report \"fine\" in front of everyone, which felt worse than criticism",
    "I've been sleeping badly for a month, waking at four and replaying old conversations",
    "My best friend is moving abroad in August, and I'm happy for her, but I feel left behind",
    "I failed my driving test for the third time today, after weeks of practising with my dad",
];

const DETAILS: [&str; 6] = [
    "Everyone tells me to \"just get out more\", but the clubs I tried felt awkward, loud and far away",
    "I tell myself it's normal, yet by the evening I'm tired, irritable and short with the people I love",
    "I made a list of things to try, lost it, found it again, and then felt too embarrassed to start",
    "My parents say it will pass, and maybe they're right, but right now it takes up most of my day",
    "I wrote a long message about it twice, and both times I deleted it before pressing send",
    "Work is busy too, so there's never a quiet moment to think it through, not even on Sundays",
];

const CLOSINGS: [&str; 5] = [
    "Has anyone else felt like this, and what helped you?",
    "I don't even know what I'm asking for, honestly; maybe just to say it out loud.",
    "How do you stop comparing yourself with everyone else?",
    "Is it silly to feel this upset about something so ordinary?",
    "Any advice would be welcome, even small things.",
];

const REACTIONS: [&str; 5] = [
    "That sounds really hard, and I'm sorry you're carrying it on your own.",
    "Oh, that's so frustrating; anyone would feel worn out by that.",
    "I can hear how much this has been weighing on you lately.",
    "Ugh, I'm sorry. That would sting for me too, honestly.",
    "Thank you for writing this, it can't have been easy to put into words.",
];

const FOLLOW_UPS: [&str; 6] = [
    "What do you think would make the next week feel a little lighter?",
    "When did you first notice it starting to bother you this much?",
    "I went through something similar after university; it eased once I talked to someone.",
    "It sounds like part of you feels you should have it \"all figured out\" by now.",
    "Is there one person you'd feel comfortable telling, even just a little?",
    "I had a stretch like that last year, and small routines helped more than I expected.",
];

/// The seeker post number of pair `i`: pairs 3 and 4, 7 and 8, … share one.
pub fn seeker_of(pair: usize) -> usize {
    pair - pair / 4
}

pub fn seeker_post(seeker: usize) -> String {
    let opening = OPENINGS[seeker % OPENINGS.len()];
    let detail = DETAILS[seeker / OPENINGS.len() % DETAILS.len()];
    let closing = CLOSINGS[seeker / 48 % CLOSINGS.len()];
    format!("{opening}. {detail}. {closing} (post {seeker})")
}

pub fn response_post(pair: usize) -> String {
    let reaction = REACTIONS[pair % REACTIONS.len()];
    let follow_up = FOLLOW_UPS[pair / REACTIONS.len() % FOLLOW_UPS.len()];
    format!("{reaction} {follow_up} (reply {pair})")
}

pub fn levels(pair: usize) -> [u8; 3] {
    PATTERNS[pair % PATTERNS.len()]
}

/// Writes EPITOME's three files for `pairs` pairs into `dir`: the same pairs
/// in the same order in each, levels from [`levels`].
pub fn write_epitome(dir: &Path, pairs: usize) {
    for (mechanism, name) in FILES.iter().enumerate() {
        let mut writer = csv::Writer::from_path(dir.join(name)).expect("create CSV");
        writer.write_record(HEADER).expect("write header");
        for i in 0..pairs {
            let seeker = seeker_of(i);
            let response = response_post(i);
            let level = levels(i)[mechanism];
            // EPITOME's rationales are `|`-separated spans of the response.
            let rationale = match level {
                0 => String::new(),
                _ => response.split(' ').take(3).collect::<Vec<_>>().join(" "),
            };
            writer
                .write_record([
                    format!("s{seeker:06}"),
                    format!("r{i:06}"),
                    seeker_post(seeker),
                    response,
                    level.to_string(),
                    rationale,
                ])
                .expect("write row");
        }
        writer.flush().expect("flush CSV");
    }
}

/// Writes a `seeker_post,response_post,strategy` CSV of `rows` rows, each
/// with a known label, so every row is an item.
pub fn write_simple_csv(path: &Path, rows: usize) {
    let mut writer = csv::Writer::from_path(path).expect("create CSV");
    writer
        .write_record(["seeker_post", "response_post", "strategy"])
        .expect("write header");
    let strategies = ["emotional_reaction", "exploration", "interpretation"];
    for i in 0..rows {
        let strategy = strategies[(i / 7 + i) % 3];
        writer
            .write_record([seeker_post(i).as_str(), response_post(i).as_str(), strategy])
            .expect("write row");
    }
    writer.flush().expect("flush CSV");
}
