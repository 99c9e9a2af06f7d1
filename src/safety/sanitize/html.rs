//! Text made safe for HTML (the eval's report page and its inline SVG).
//!
//! Everything dataset- or model-derived that reaches a page goes through
//! [`escape_html`]: no tag, attribute or entity can be formed from it. The
//! page has no links, scripts or URLs taken from data, so a `javascript:`
//! URL in a field is only ever text.

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn payloads_become_text() {
        assert_eq!(
            escape_html(r#""><img src=x onerror=alert(1)>"#),
            "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"
        );
        assert_eq!(escape_html("<script>"), "&lt;script&gt;");
        assert_eq!(escape_html("a & 'b'"), "a &amp; &#39;b&#39;");
    }

    proptest! {
        /// Nothing escaped can open a tag, close an attribute or start an
        /// entity the text did not mean, and unescaping gives the text back.
        #[test]
        fn prop_escaped_text_holds_no_markup(text in any::<String>()) {
            let out = escape_html(&text);
            prop_assert!(!out.contains(['<', '>', '"', '\'']));
            for (at, _) in out.match_indices('&') {
                let entity = &out[at..];
                prop_assert!(["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"]
                    .iter()
                    .any(|e| entity.starts_with(e)));
            }
            let back = out
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&amp;", "&");
            prop_assert_eq!(back, text);
        }
    }
}
