//! End to end: the supporter assist through the fake Discord. A message context menu (type 2,
//! command type 3 with the target in `data.resolved.messages`) gives a deferred ephemeral draft
//! card; its buttons draft again and record verdicts; feedback on a supporter's own reply; who
//! may ask, for which messages; a member at risk gets guidance and an alert, never a model call;
//! drafts-only channels; the admin commands that set it all up.

mod support;

use coe_bot::store::{AssistSummary, ChannelMode, GuildSetting, SummaryScope};
use serde_json::{json, Value};
use support::bot::common::databases::TestDb;
use support::bot::common::{all_stored_text, completion};
use support::bot::*;
use support::moderation::{buttons, embed_titles, mod_command};
use support::{
    component_click, message_command, subcommand_options, user_message, Caller, RecordedRequest,
};
use wiremock::matchers::{body_string_contains, method};
use wiremock::{Mock, MockServer};

const SUPPORTER_ROLE: u64 = 4_300;
const MEMBER_TEXT: &str = "I failed my exam and I feel like such a disappointment to my parents.";
const DRAFT: &str = "It sounds like this result hit hard, and you're carrying your parents' hopes too. What has been the hardest part?";
const OWN_DRAFT: &str = "I'm so sorry you're going through this.";
const EDITED: &str = "I'm so sorry you're going through this. How are you feeling right now?";
const CRISIS_TEXT: &str = "i have been saving up my pills and tonight i am going to take them all";

fn supporter() -> Caller {
    Caller {
        roles: vec![SUPPORTER_ROLE],
        ..Caller::member(6_010, "sam")
    }
}

/// A model server that drafts, and gives feedback when asked for it (the feedback prompt's fields).
async fn assist_model() -> MockServer {
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
async fn assist_bot(db: &TestDb, mode: ChannelMode) -> TestBot {
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
async fn context_menu(bot: &TestBot, caller: &Caller, name: &str, target: &Value) -> u64 {
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
async fn private_card(bot: &TestBot, interaction: u64) -> RecordedRequest {
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
async fn click(bot: &TestBot, caller: &Caller, channel: u64, label: &str) -> u64 {
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

async fn summary(bot: &TestBot) -> Vec<AssistSummary> {
    let scope = SummaryScope {
        guild_id: Some(GUILD),
        since: None,
    };
    bot.store.assist_summary(&scope).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_supporter_drafts_redrafts_and_rates_privately() {
    bounded("draft card", draft_round_trip(TestDb::sqlite())).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn on_postgres_a_supporter_drafts_and_rates() {
    if let Some(db) = TestDb::postgres() {
        bounded("draft card on PostgreSQL", draft_round_trip(db)).await;
    }
}

async fn draft_round_trip(db: TestDb) {
    let bot = assist_bot(&db, ChannelMode::Drafts).await;
    // In a drafts-only channel the member's message gets no bot reply and no model call.
    let posted = bot.say(&alice(), SUPPORT, MEMBER_TEXT).await;
    let target = user_message(posted, GUILD, SUPPORT, &alice(), MEMBER_TEXT);
    let id = context_menu(&bot, &supporter(), "Draft a supportive reply", &target).await;
    let card = private_card(&bot, id).await;
    let text = content(&card);
    assert!(
        text.starts_with("**Draft reply** · interpretation"),
        "{text}"
    );
    assert!(text.contains(&format!("> {DRAFT}")) && text.contains("Feeling: shame"));
    assert!(
        text.contains("Thought: one exam decides her worth."),
        "{text}"
    );
    assert_eq!(buttons(&card.body).len(), 3 + 4 + 3, "{:#}", card.body);
    let bodies = bot.llm_bodies().await;
    assert_eq!(bodies.len(), 1, "one model call, for the draft alone");
    assert!(bodies[0].to_string().contains(MEMBER_TEXT));

    let again = click(&bot, &supporter(), SUPPORT, "Ask to hear more").await;
    let second = private_card(&bot, again).await;
    assert!(content(&second).starts_with("**Draft reply**"));
    assert!(content(&second).contains("You asked for exploration"));
    let bodies = bot.llm_bodies().await;
    assert_eq!(bodies.len(), 2);
    let system = |body: &Value| body["messages"][0]["content"].as_str().unwrap().to_string();
    assert_ne!(
        system(&bodies[0]),
        system(&bodies[1]),
        "the strategy is asked for"
    );
    assert!(system(&bodies[1]).contains("exploration"));

    let used = click(&bot, &supporter(), SUPPORT, "Used it").await;
    let thanks = bot.followup(used, 0).await;
    assert!(
        content(&thanks).contains("noted as “used it”"),
        "{}",
        content(&thanks)
    );
    let rows = summary(&bot).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0].kind.as_str(), rows[0].used), ("draft", 1));
    assert_eq!(rows[0].strategy, "interpretation");
    // A change of mind on the same card replaces the verdict.
    let changed = click(&bot, &supporter(), SUPPORT, "Not helpful").await;
    bot.followup(changed, 0).await;
    let rows = summary(&bot).await;
    assert_eq!((rows[0].used, rows[0].not_helpful), (0, 1), "{rows:?}");
    // Moderators see the acceptance in /coe-mod stats.
    let id = mod_command(&bot, &moderator(), "stats", Value::Null).await;
    let stats = bot.answer(id).await;
    let titles = embed_titles(message(&stats));
    assert_eq!(
        titles,
        ["Supporters' verdicts on suggestions"],
        "{:#}",
        stats.body
    );
    let field = &message(&stats)["embeds"][0]["fields"][0];
    assert_eq!(field["name"], "Drafts");
    let line = field["value"].as_str().unwrap();
    assert!(
        line.starts_with("cbt · interpretation: 0% used (0 used, 0 edited, 1 not helpful)"),
        "{line}"
    );

    let stored = all_stored_text(&bot.store).await.join("\n");
    for text in [MEMBER_TEXT, DRAFT, "one exam decides"] {
        assert!(!stored.contains(text), "stored text: {text}");
    }
    let path = format!("/channels/{SUPPORT}/messages");
    assert!(
        bot.calls_in(SUPPORT).iter().all(|r| r.path != path),
        "no post"
    );
    bot.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn at_risk_opted_out_and_unauthorised_asks_get_no_model_call() {
    bounded("refusals", refusals()).await;
}

async fn refusals() {
    let db = TestDb::sqlite();
    let bot = assist_bot(&db, ChannelMode::Both).await;
    let ask = |caller: Caller, target: Value| {
        let bot = &bot;
        async move {
            let id = context_menu(bot, &caller, "Draft a supportive reply", &target).await;
            content(&private_card(bot, id).await).to_string()
        }
    };
    let crisis = user_message(bot.id(), GUILD, SUPPORT, &alice(), CRISIS_TEXT);
    let guidance = ask(supporter(), crisis).await;
    assert!(
        guidance.starts_with("**Answering someone who may be at risk**"),
        "{guidance}"
    );
    assert!(guidance.contains("988") && guidance.contains("moderators have been told"));
    let alert = bot
        .wait_until("the moderators' alert", || {
            let path = format!("/channels/{ALERTS}/messages");
            bot.fake
                .requests()
                .into_iter()
                .find(|r| r.is("POST", &path))
        })
        .await;
    assert!(
        content(&alert).contains("Possible crisis"),
        "{}",
        content(&alert)
    );
    assert!(content(&alert).contains("via a supporter's request for a draft"));
    assert!(
        !content(&alert).contains("pills"),
        "the alert quotes nothing"
    );

    bot.store.opt_out(&bot.user_key(&bob())).await.unwrap();
    let from_bob = user_message(bot.id(), GUILD, SUPPORT, &bob(), MEMBER_TEXT);
    assert!(ask(supporter(), from_bob)
        .await
        .contains("asked the companion to stay out"));
    let from_alice = user_message(bot.id(), GUILD, SUPPORT, &alice(), MEMBER_TEXT);
    let refused = ask(Caller::member(6_011, "carol"), from_alice.clone()).await;
    assert!(
        refused.contains("for this server's supporters"),
        "{refused}"
    );
    let own = user_message(bot.id(), GUILD, SUPPORT, &supporter(), MEMBER_TEXT);
    assert!(ask(supporter(), own).await.contains("your own message"));
    let elsewhere = user_message(bot.id(), GUILD, GENERAL, &alice(), MEMBER_TEXT);
    assert!(ask(supporter(), elsewhere)
        .await
        .contains("Drafts are off in this channel"));
    // Moderators may always ask.
    assert!(ask(moderator(), from_alice)
        .await
        .starts_with("**Draft reply**"));
    assert_eq!(
        bot.llm_request_count().await,
        1,
        "only the moderator's draft"
    );
    bot.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn feedback_on_a_supporters_own_reply_marks_a_light_edit() {
    bounded("feedback card", feedback()).await;
}

async fn feedback() {
    let db = TestDb::sqlite();
    let bot = assist_bot(&db, ChannelMode::Both).await;
    let member = user_message(bot.id(), GUILD, SUPPORT, &alice(), MEMBER_TEXT);
    let mut own = user_message(bot.id(), GUILD, SUPPORT, &supporter(), OWN_DRAFT);
    own["type"] = json!(19);
    own["message_reference"] = json!({"message_id": member["id"], "channel_id": member["channel_id"], "guild_id": GUILD.to_string()});
    own["referenced_message"] = member.clone();
    let id = context_menu(&bot, &supporter(), "Feedback on my reply", &own).await;
    let card = private_card(&bot, id).await;
    let text = content(&card);
    assert!(text.starts_with("**Feedback on your reply**"), "{text}");
    assert!(text.contains("Your reply already uses: emotional reaction."));
    assert!(text.contains("**A light edit**") && text.contains("adding exploration"));
    assert!(
        text.contains("**How") && text.contains("now?**"),
        "insertions bold: {text}"
    );
    assert!(text.contains("- Ask one open question"));
    let body = bot.llm_bodies().await[0].to_string();
    assert!(body.contains(MEMBER_TEXT) && body.contains(OWN_DRAFT));

    let rated = click(&bot, &supporter(), SUPPORT, "Used it with edits").await;
    bot.followup(rated, 0).await;
    let rows = summary(&bot).await;
    assert_eq!(
        (rows[0].kind.as_str(), rows[0].used_with_edits),
        ("feedback", 1)
    );
    assert_eq!(
        rows[0].strategy, "exploration",
        "the strategy the edit adds"
    );

    // Someone else's message is not "my reply".
    let id = context_menu(&bot, &supporter(), "Feedback on my reply", &member).await;
    assert!(content(&private_card(&bot, id).await).contains("works on your own messages"));

    // Pasted into /coe-assist feedback: pings never reach the model.
    let pasted = format!("{OWN_DRAFT} @everyone <@6001>");
    let options = json!([
        {"type": 3, "name": "message", "value": MEMBER_TEXT},
        {"type": 3, "name": "draft", "value": pasted},
    ]);
    let options = subcommand_options("feedback", options);
    let id = bot
        .slash(&supporter(), (GUILD, GENERAL), "coe-assist", options)
        .await;
    assert!(content(&private_card(&bot, id).await).starts_with("**Feedback on your reply**"));
    let bodies = bot.llm_bodies().await;
    let last = bodies.last().unwrap().to_string();
    assert!(last.contains(OWN_DRAFT) && !last.contains("@everyone") && !last.contains("<@6001>"));
    bot.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn admins_set_the_supporter_role_and_a_drafts_only_channel() {
    bounded("admin commands", admin_commands()).await;
}

async fn admin_commands() {
    let db = TestDb::sqlite();
    let bot = TestBot::start(assist_model().await, &[("DATABASE_URL", &db.url)]).await;
    let admin_says = |sub: &'static str, options: Value, resolved: Value| {
        let bot = &bot;
        async move {
            let options = subcommand_options(sub, options);
            let id = bot
                .slash_resolved(&admin(), (GUILD, GENERAL), "coe-admin", options, resolved)
                .await;
            content(&bot.answer(id).await).to_string()
        }
    };
    let role = json!([{"type": 8, "name": "role", "value": SUPPORTER_ROLE.to_string()}]);
    let said = admin_says(
        "supporter-role",
        role,
        resolved_role(SUPPORTER_ROLE, "supporters"),
    )
    .await;
    assert!(said.contains("can now ask for drafts"), "{said}");
    let mode = json!([
        {"type": 7, "name": "channel", "value": SPARE.to_string()},
        {"type": 4, "name": "mode", "value": 1},
    ]);
    let options =
        json!([{"type": 2, "name": "channel", "options": subcommand_options("mode", mode)}]);
    let id = bot
        .slash_resolved(
            &admin(),
            (GUILD, GENERAL),
            "coe-admin",
            options,
            resolved_channel(SPARE, "spare"),
        )
        .await;
    let said = content(&bot.answer(id).await).to_string();
    assert!(said.contains("supporter drafts only"), "{said}");
    let settings = bot.store.guild_settings(GUILD).await.unwrap();
    assert_eq!(settings.supporter_role_id, Some(SUPPORTER_ROLE));
    let mode = bot.store.support_channel_mode(GUILD, SPARE).await.unwrap();
    assert_eq!(mode, Some(ChannelMode::Drafts));

    // There, a plain message gets nothing from the bot, and drafts work.
    let posted = bot.say(&alice(), SPARE, MEMBER_TEXT).await;
    let target = user_message(posted, GUILD, SPARE, &alice(), MEMBER_TEXT);
    let id = context_menu(&bot, &supporter(), "Draft a supportive reply", &target).await;
    assert!(content(&private_card(&bot, id).await).starts_with("**Draft reply**"));
    // A crisis still gets the bot's fixed reply with helplines, and no model call.
    bot.say(&alice(), SPARE, CRISIS_TEXT).await;
    let crisis = bot
        .wait_until("the crisis reply", || {
            let requests = bot.fake.requests();
            requests.into_iter().find(|r| {
                r.method == "POST" && r.path.ends_with("/messages") && content(r).contains("988")
            })
        })
        .await;
    assert_pings_nobody(&crisis.body);
    assert_eq!(
        bot.llm_request_count().await,
        1,
        "the draft alone used the model"
    );
    bot.finish().await;
}
