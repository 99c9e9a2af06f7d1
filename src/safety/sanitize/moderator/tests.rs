use super::super::is_invisible;
use super::*;
use proptest::prelude::*;

/// What a moderator's view may never carry.
fn check_inert(out: &str) -> Result<(), String> {
    let lower = out.to_lowercase();
    for banned in [
        "<@",
        "@everyone",
        "@here",
        "://",
        "discord.gg",
        "discord.com/invite",
    ] {
        if lower.contains(banned) {
            return Err(format!("{banned:?} in {out:?}"));
        }
    }
    // A web address starts `www.` at a word's start ("awww." is a feeling).
    let at_word_start = |i: usize| !lower[..i].ends_with(|c: char| c.is_alphanumeric());
    if let Some((i, _)) = lower.match_indices("www.").find(|&(i, _)| at_word_start(i)) {
        return Err(format!("a www. address at byte {i} of {out:?}"));
    }
    if let Some(c) = out.chars().find(|&c| is_invisible(c)) {
        return Err(format!("invisible {c:?} in {out:?}"));
    }
    // Every markdown character is escaped by the backslash before it.
    let mut chars = out.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(next) if MARKDOWN.contains(&next) => {}
                other => return Err(format!("stray backslash before {other:?} in {out:?}")),
            },
            c if MARKDOWN.contains(&c) => return Err(format!("unescaped {c:?} in {out:?}")),
            _ => {}
        }
    }
    Ok(())
}

#[test]
fn payloads_become_inert_text() {
    let cases = [
        (
            "<@123456789012345678> and <@&42> @everyone",
            "someone and a role everyone",
        ),
        ("[click here](https://evil.example/x)", "click here"),
        (
            "see https://988lifeline.org now",
            r"see \[link removed\] now",
        ),
        ("join discord.gg/abc", r"join \[link removed\]"),
        (
            "```\ncode\n``` **bold** ||spoiler||",
            "\\`\\`\\`\ncode\n\\`\\`\\` \\*\\*bold\\*\\* \\|\\|spoiler\\|\\|",
        ),
        (
            "# heading\n> quote\n- item",
            "\\# heading\n\\> quote\n\\- item",
        ),
        ("<t:1700000000:R> <#123>", r"\<t:1700000000:R\> \<\#123\>"),
        ("hid\u{200B}den \u{202E}txet", "hidden txet"),
        ("javascript:alert(1)", "javascript:alert(1)"),
        ("awww. that hurts", "awww. that hurts"),
    ];
    for (text, expected) in cases {
        let out = moderator_text(text);
        assert_eq!(out, expected, "{text:?}");
        check_inert(&out).unwrap();
    }
}

#[test]
fn a_huge_hostile_text_is_handled() {
    let text = "=HYPERLINK(\"http://evil.example\") <@1> ```".repeat(300);
    check_inert(&moderator_text(&text)).unwrap();
}

fn pieces() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("<@".to_owned()),
        Just("<@&".to_owned()),
        Just("123>".to_owned()),
        Just("@".to_owned()),
        Just("everyone".to_owned()),
        Just("here".to_owned()),
        Just("[".to_owned()),
        Just("](".to_owned()),
        Just(")".to_owned()),
        Just("https".to_owned()),
        Just("://".to_owned()),
        Just("www".to_owned()),
        Just(".".to_owned()),
        Just("discord".to_owned()),
        Just("gg/".to_owned()),
        Just("\u{200B}".to_owned()),
        Just("\u{202E}".to_owned()),
        Just("`".to_owned()),
        Just("\\".to_owned()),
        Just("*".to_owned()),
        Just("|".to_owned()),
        Just(" ".to_owned()),
        Just("\n".to_owned()),
        "[a-z]{1,6}",
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn prop_pieces_become_inert(text in pieces()) {
        let out = moderator_text(&text);
        prop_assert!(check_inert(&out).is_ok(), "{:?}", check_inert(&out));
    }

    #[test]
    fn prop_any_text_becomes_inert(text in any::<String>()) {
        let out = moderator_text(&text);
        prop_assert!(check_inert(&out).is_ok(), "{:?}", check_inert(&out));
    }
}
