//! Bad-input fuzzing of the chain's output parser: whatever a model (or an attacker steering it)
//! writes, `parse_output` returns without panicking, in bounded time, and anything it accepts
//! respects the documented caps.

use std::time::{Duration, Instant};

use coe_bot::chain::{parse_output, ChainOutput, MAX_LABEL_CHARS};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use serde_json::json;

/// The parser's caps (src/chain/parse.rs): what a caller may rely on.
const MAX_REASONING_STEPS: usize = 8;
const MAX_STEP_CHARS: usize = 400;
/// Generous for a debug build on a slow machine; a quadratic blow-up on a 1 MB input takes far
/// longer than this.
const HUGE_INPUT_BUDGET: Duration = Duration::from_secs(10);

/// `cases` per property; failures are saved next to the crate's other proptest regressions
/// (the default looks for a lib.rs beside the test file, which tests/ has not).
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/reliability_parse_fuzz.txt",
        ))),
        ..ProptestConfig::with_cases(cases)
    }
}

fn check_invariants(output: &ChainOutput) {
    assert!(!output.reply.is_empty(), "accepted an empty reply");
    assert_eq!(output.reply, output.reply.trim(), "reply not trimmed");
    if let Some(emotion) = &output.emotion {
        // A label: lower-case ASCII letters and spaces, short.
        let label = emotion.as_str();
        assert!(
            !label.is_empty() && label.len() <= MAX_LABEL_CHARS,
            "{label:?}"
        );
        assert!(
            label.chars().all(|c| c.is_ascii_lowercase() || c == ' '),
            "{label:?}"
        );
    }
    assert!(output.reasoning.len() <= MAX_REASONING_STEPS);
    for step in &output.reasoning {
        assert!(!step.is_empty() && step.chars().count() <= MAX_STEP_CHARS);
    }
}

fn parse_checked(raw: &str) {
    if let Ok(output) = parse_output(raw) {
        check_invariants(&output);
    }
}

/// Pieces a model's answer is made of, plus the characters that hide or reorder text.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("```".to_string()),
        Just("```json\n".to_string()),
        Just("\n```\n".to_string()),
        Just("{".to_string()),
        Just("}".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("\"".to_string()),
        Just("\\".to_string()),
        Just(",".to_string()),
        Just(":".to_string()),
        Just("\"reply\":".to_string()),
        Just("\"Reply\": \"ok\"".to_string()),
        Just("\"reasoning\": [".to_string()),
        Just("\"strategy\": \"exploration\"".to_string()),
        Just("\"emotion\": [\"sad\", ".to_string()),
        Just("\u{200B}".to_string()),
        Just("\u{202E}".to_string()),
        Just("\u{2066}".to_string()),
        Just("\u{FEFF}".to_string()),
        Just("\u{E0041}".to_string()),
        Just("\0".to_string()),
        "\\PC{0,12}",
        any::<String>(),
    ]
}

/// An answer nested `depth` code fences deep, the object inside JSON-escaped at every level:
/// fences inside strings inside fences, as a confused model writes.
fn nested_fences(depth: usize, reply: &str) -> String {
    let mut text = json!({"strategy": "exploration", "reply": reply}).to_string();
    for level in 0..depth {
        text = if level % 2 == 0 {
            format!("```json\n{text}\n```")
        } else {
            json!({"reply": text, "note": "```"}).to_string()
        };
    }
    text
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn arbitrary_unicode_never_panics(raw in any::<String>()) {
        parse_checked(&raw);
    }

    #[test]
    fn soups_of_json_fences_and_invisible_characters_never_panic(
        parts in prop::collection::vec(fragment(), 0..60)
    ) {
        parse_checked(&parts.concat());
    }

    #[test]
    fn nested_code_fences_never_panic_and_yield_a_reply(
        depth in 0usize..12,
        reply in "[^\\s]\\PC{0,40}",
        prose in "[^{]{0,40}",
        tail in "\\PC{0,40}",
    ) {
        let raw = format!("{prose}{}{tail}", nested_fences(depth, &reply));
        let output = parse_output(&raw);
        // With no `{` before it, the outermost object is the first candidate and has a reply.
        prop_assert!(output.is_ok(), "{raw:?}: {output:?}");
        check_invariants(&output.unwrap());
    }

    #[test]
    fn a_valid_answer_inside_any_prose_is_found(
        prose in "[^{]{0,200}",
        fence in prop_oneof![Just(""), Just("```"), Just("```json\n")],
        reply in "\\PC{1,300}",
        tail in "\\PC{0,200}",
    ) {
        prop_assume!(!reply.trim().is_empty());
        let object = json!({"emotion": "sad", "reasoning": ["a"], "reply": reply});
        let raw = format!("{prose}{fence}{object}{fence}{tail}");
        let output = parse_output(&raw).expect("the object is the first candidate");
        prop_assert_eq!(output.reply.as_str(), reply.trim());
    }
}

proptest! {
    // Each case is up to a megabyte: few cases, still every shape.
    #![proptest_config(config(12))]

    #[test]
    fn huge_inputs_never_panic_and_stay_bounded(
        unit in fragment(),
        repeat in 1usize..200_000,
        suffix in "\\PC{0,64}",
    ) {
        let mut raw = unit.repeat(repeat.min(1_000_000 / unit.len().max(1)));
        raw.push_str(&suffix);
        let started = Instant::now();
        parse_checked(&raw);
        let took = started.elapsed();
        prop_assert!(took < HUGE_INPUT_BUDGET, "{} bytes took {took:?}", raw.len());
    }
}

/// Fixed worst cases: the shapes that make naive parsers recurse, backtrack or rescan.
fn pathological(size: usize) -> Vec<(&'static str, String)> {
    vec![
        ("deep braces", "{".repeat(size)),
        (
            "deep arrays in an object",
            format!("{{\"reply\": {}", "[".repeat(size)),
        ),
        ("nested objects", "{\"reply\":".repeat(size / 9)),
        (
            "unterminated string",
            format!("{{\"reply\": \"{}", "a".repeat(size)),
        ),
        (
            "trailing commas",
            format!("{{\"reasoning\": [{}", "\"x\",".repeat(size / 4)),
        ),
        ("repairable candidates", "{\"a\":1,} ".repeat(size / 9)),
        ("fences", "```json\n".repeat(size / 8)),
        (
            "escapes",
            format!("{{\"reply\": \"{}\"}}", "\\u00".repeat(size / 4)),
        ),
        ("zero-width", "\u{200B}{".repeat(size / 4)),
        (
            "rtl overrides",
            format!("{{\"reply\": \"{}\"}}", "\u{202E}x".repeat(size / 4)),
        ),
    ]
}

fn parse_all_within(size: usize, budget: Duration, skip: &[&str]) {
    for (name, raw) in pathological(size) {
        if skip.contains(&name) {
            continue;
        }
        let started = Instant::now();
        parse_checked(&raw);
        let took = started.elapsed();
        eprintln!("{name}: {} bytes in {took:?}", raw.len());
        assert!(took < budget, "{name}: {} bytes took {took:?}", raw.len());
    }
}

/// 64 KiB is past the longest answer a server can send under LLM_MAX_TOKENS (at most 8192
/// tokens); such an answer must be read or refused at once.
#[test]
fn pathological_answers_of_realistic_size_are_refused_quickly() {
    // 5 s although most shapes take milliseconds: "repairable candidates" takes ~1 s in a
    // debug build (see the slow test below), 2 s when the suite runs beside it on 2 cores.
    parse_all_within(64 << 10, Duration::from_secs(5), &[]);
}

/// A megabyte of each shape: no panic, no stack overflow. "repairable candidates" is left to
/// the slow test below: in a debug build it takes 8-16 s (32 candidates, each one a regex
/// rewrite of the whole remaining text).
#[test]
fn megabyte_answers_never_panic() {
    parse_all_within(1 << 20, HUGE_INPUT_BUDGET, &["repairable candidates"]);
}

/// Run by scripts/reliability.sh: the slowest known shape at a megabyte, bounded generously.
#[test]
#[ignore = "slow (8-16 s in a debug build); run by scripts/reliability.sh"]
fn megabyte_of_repairable_candidates_is_bounded() {
    let (name, raw) = pathological(1 << 20)
        .into_iter()
        .find(|(name, _)| *name == "repairable candidates")
        .expect("shape exists");
    let started = Instant::now();
    parse_checked(&raw);
    let took = started.elapsed();
    eprintln!("{name}: {} bytes in {took:?}", raw.len());
    assert!(took < Duration::from_secs(120), "{name} took {took:?}");
}
