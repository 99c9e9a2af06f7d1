//! The supporter assist's end-to-end fixtures: a model server that drafts and gives feedback,
//! a bot with a supporter role and a drafts channel, and the interactions a supporter makes.

use coe_bot::store::{AssistSummary, ChannelMode, GuildSetting, SummaryScope};
use serde_json::{json, Value};
use wiremock::matchers::{body_string_contains, method};
use wiremock::{Mock, MockServer};

use super::bot::common::completion;
use super::bot::common::databases::TestDb;
use super::bot::*;
use super::fake_discord::RecordedRequest;
use super::moderation::buttons;
use super::payloads::{component_click, message_command, Caller};

pub const SUPPORTER_ROLE: u64 = 4_300;
pub const MEMBER_TEXT: &str =
    "I failed my exam and I feel like such a disappointment to my parents.";
pub const DRAFT: &str = "It sounds like this result hit hard, and you're carrying your parents' hopes too. What has been the hardest part?";
pub const OWN_DRAFT: &str = "I'm so sorry you're going through this.";
pub const EDITED: &str = "I'm so sorry you're going through this. How are you feeling right now?";
pub const CONCERN_TEXT: &str =
    "honestly everyone would be better off without me, i just make things harder for them";
pub const CRISIS_TEXT: &str =
    "i have been saving up my pills and tonight i am going to take them all";

pub fn supporter() -> Caller {
    Caller {
        roles: vec![SUPPORTER_ROLE],
        ..Caller::member(6_010, "sam")
    }
}

/// A model server that drafts, and gives feedback when asked for it (the feedback prompt's fields).
pub async fn assist_model() -> MockServer {
    let server = MockServer::start().await;
    let feedback = json!({
        "strategies_used": ["emotional_reaction"],
        "suggestions": ["Ask one open question about how they are feeling now."],
        "adds": "exploration",
        "edited": EDITED,
    });
    Mock::given(method("POST"))
        .and(body_string_contains("strategies_used"))
        .respond_with(completion(&feedback.to_string()))
        .with_priority(1)
        .mount(&server)
        .await;
    let draft = json!({
        "emotion": "shame",
        "reasoning": ["Feeling: shame and disappointment.", "Thought: one exam decides her worth."],
        "aim": "Name the weight she carries, then invite her to say more.",
        "strategy": "interpretation",
        "draft": DRAFT,
    });
    Mock::given(method("POST"))
        .respond_with(completion(&draft.to_string()))
        .with_priority(2)
        .mount(&server)
        .await;
    server
}

/// A bot whose supporter role is set and whose support channel takes drafts (`mode`).
pub async fn assist_bot(db: &TestDb, mode: ChannelMode) -> TestBot {
    let bot = TestBot::start(assist_model().await, &[("DATABASE_URL", &db.url)]).await;
    let store = &bot.store;
    let role = GuildSetting::SupporterRole(Some(SUPPORTER_ROLE));
    store.update_guild_setting(GUILD, &role).await.unwrap();
    let alerts = GuildSetting::AlertChannel(Some(ALERTS));
    store.update_guild_setting(GUILD, &alerts).await.unwrap();
    store.set_channel_mode(GUILD, SUPPORT, mode).await.unwrap();
    bot
}

/// `caller` runs the message context menu `name` on `target`; returns the interaction id.
pub async fn context_menu(bot: &TestBot, caller: &Caller, name: &str, target: &Value) -> u64 {
    let id = bot.interaction_id(std::time::Duration::ZERO);
    let channel: u64 = target["channel_id"].as_str().unwrap().parse().unwrap();
    let command = bot
        .fake
        .command_id(name)
        .expect("the context menu is registered");
    let event = message_command(
        id,
        (GUILD, channel),
        caller,
        (name, command),
        target.clone(),
    );
    bot.fake.dispatch("INTERACTION_CREATE", event).await;
    id
}

/// The card an interaction was answered with, checked to be deferred and private.
pub async fn private_card(bot: &TestBot, interaction: u64) -> RecordedRequest {
    let deferred = bot.callback(interaction).await;
    assert_eq!(
        deferred.body["type"], 5,
        "deferred first: {:#}",
        deferred.body
    );
    assert_eq!(
        deferred.body["data"]["flags"], 64,
        "privately: {:#}",
        deferred.body
    );
    let card = bot.followup(interaction, 0).await;
    assert_eq!(flags(&card), 64, "the card is ephemeral: {:#}", card.body);
    assert_pings_nobody(&card.body);
    card
}

/// Clicks the button labelled `label` on the bot's message in `channel` that carries it.
pub async fn click(bot: &TestBot, caller: &Caller, channel: u64, label: &str) -> u64 {
    let messages = bot.fake.messages_in(channel);
    let (card, custom_id) = messages
        .iter()
        .rev()
        .find_map(|m| {
            let found = buttons(m).into_iter().find(|(l, _, _)| l == label);
            found.map(|(_, id, _)| (m.clone(), id))
        })
        .unwrap_or_else(|| panic!("no card with a '{label}' button in {channel}"));
    let id = bot.id();
    let event = component_click(id, GUILD, channel, caller, &custom_id, card);
    bot.fake.dispatch("INTERACTION_CREATE", event).await;
    id
}

pub async fn summary(bot: &TestBot) -> Vec<AssistSummary> {
    let scope = SummaryScope {
        guild_id: Some(GUILD),
        since: None,
    };
    bot.store.assist_summary(&scope).await.unwrap()
}
