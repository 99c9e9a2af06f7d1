//! Every reply's shape: split to Discord's limit, the AI-disclosure footer,
//! and mentions that can never ping.

use super::split::{split_message, DISCORD_MESSAGE_LIMIT};
use poise::serenity_prelude as serenity;
use poise::CreateReply;
use serenity::{ChannelId, CreateAllowedMentions, CreateMessage, Http, Message, MessageId};

/// Shown under every reply (Discord's small "-#" subtext line).
pub const FOOTER: &str =
    "-# AI peer-support companion, not a therapist or crisis service. /coe-privacy about";

/// Told once to a member whose message waits in a long queue for the model.
pub const BUSY: &str = "Many people are talking to me right now. I have your message, and I'll answer as soon as I can.";

/// Told (once a minute) to a member who sends faster than the rate limit.
pub const SLOW_DOWN: &str = "You're sending messages faster than I can give each one real attention. Please take a breath and try again in a minute; I'll still be here.";

/// Told when a request arrives while the bot is shutting down.
pub const RESTARTING: &str = "I'm restarting right now. Please try again in a minute.";

/// A private reply that pings nobody.
pub fn ephemeral_text(text: &str) -> CreateReply {
    CreateReply::default()
        .content(text)
        .ephemeral(true)
        .allowed_mentions(no_mentions())
}

/// Allowed mentions with nothing in them: no text the model writes can
/// ping a person, a role, @everyone or @here.
pub fn no_mentions() -> CreateAllowedMentions {
    CreateAllowedMentions::new().replied_user(false)
}

/// The reply as Discord messages of at most 2000 characters, the footer at
/// the end of the last one.
pub fn reply_chunks(text: &str) -> Vec<String> {
    let budget = DISCORD_MESSAGE_LIMIT - FOOTER.chars().count() - 2;
    let mut chunks = split_message(text, budget);
    match chunks.last_mut() {
        Some(last) => {
            last.push_str("\n\n");
            last.push_str(FOOTER);
        }
        None => chunks.push(FOOTER.to_string()),
    }
    chunks
}

/// A bot message's text without its footer, for conversation history.
pub fn without_footer(text: &str) -> &str {
    text.strip_suffix(FOOTER).unwrap_or(text).trim_end()
}

/// Sends the chunks in a channel; the first one as a reply to `reply_to`.
pub async fn send_in_channel(
    http: &Http,
    channel: ChannelId,
    chunks: &[String],
    reply_to: Option<MessageId>,
) -> serenity::Result<Vec<Message>> {
    let mut sent = Vec::with_capacity(chunks.len());
    for (i, chunk) in chunks.iter().enumerate() {
        let mut message = CreateMessage::new()
            .content(chunk)
            .allowed_mentions(no_mentions());
        if let (0, Some(original)) = (i, reply_to) {
            message = message.reference_message((channel, original));
        }
        sent.push(channel.send_message(http, message).await?);
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn footer_ends_the_last_chunk_within_the_limit() {
        let long = "A sentence that goes on. ".repeat(200);
        let chunks = reply_chunks(&long);
        assert!(chunks.len() >= 3);
        assert!(chunks
            .iter()
            .all(|c| c.chars().count() <= DISCORD_MESSAGE_LIMIT));
        assert!(chunks.last().unwrap().ends_with(FOOTER));
        assert_eq!(chunks.iter().filter(|c| c.contains(FOOTER)).count(), 1);
        assert_eq!(reply_chunks(""), vec![FOOTER.to_string()]);
    }

    #[test]
    fn footer_is_removed_from_history() {
        let chunk = &reply_chunks("Hello there.")[0];
        assert_eq!(without_footer(chunk), "Hello there.");
        assert_eq!(without_footer("no footer"), "no footer");
    }

    #[test]
    fn allowed_mentions_parse_nothing() {
        let json = serde_json::to_value(no_mentions()).unwrap();
        assert_eq!(json["parse"], serde_json::json!([]));
        assert_eq!(json["users"], serde_json::json!([]));
        assert_eq!(json["roles"], serde_json::json!([]));
    }
}
