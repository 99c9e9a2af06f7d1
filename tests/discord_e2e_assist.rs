//! End to end, supporter drafts through the fake Discord: a message context menu (type 2,
//! command type 3 with the target in `data.resolved.messages`) gives a deferred ephemeral draft
//! card; its buttons draft again and record verdicts, which `/coe-mod stats` shows; who may ask,
//! for which messages; a member at risk gets guidance and an alert, never a model call.
//! Feedback and the admin commands are in `discord_e2e_assist_feedback.rs`.

mod support;

use coe_bot::store::ChannelMode;
use serde_json::Value;
use support::assist::*;
use support::bot::common::all_stored_text;
use support::bot::common::databases::TestDb;
use support::bot::*;
use support::moderation::{buttons, embed_titles, mod_command};
use support::{user_message, Caller, ChannelSpec};

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
    assert_stats_show(
        &bot,
        "cbt · interpretation: 0% used (0 used, 0 edited, 1 not helpful)",
    )
    .await;

    let stored = all_stored_text(&bot.store).await.join("\n");
    for text in [MEMBER_TEXT, DRAFT, "one exam decides"] {
        assert!(!stored.contains(text), "stored text: {text}");
    }
    // Nothing in the channel: no reply, no thread, not even typing.
    assert!(
        bot.calls_in(SUPPORT).is_empty(),
        "{:#?}",
        bot.calls_in(SUPPORT)
    );
    bot.finish().await;
}

/// Moderators see the acceptance in `/coe-mod stats`, its first line `line`.
async fn assert_stats_show(bot: &TestBot, line: &str) {
    let id = mod_command(bot, &moderator(), "stats", Value::Null).await;
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
    let shown = field["value"].as_str().unwrap();
    assert!(shown.starts_with(line), "{shown}");
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
    assert!(content(&alert).contains("via a supporter's request for help answering it"));
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
    // In a thread of the support channel drafts work, until a crisis pauses it.
    const THREAD: u64 = 5_900;
    bot.fake
        .add_channel(ChannelSpec::thread(THREAD, GUILD, SUPPORT, "peer support"));
    let in_thread = user_message(bot.id(), GUILD, THREAD, &alice(), MEMBER_TEXT);
    assert!(ask(supporter(), in_thread.clone())
        .await
        .starts_with("**Draft reply**"));
    let until = chrono::Utc::now() + chrono::TimeDelta::hours(1);
    bot.store.pause_thread(GUILD, THREAD, until).await.unwrap();
    let paused = ask(supporter(), in_thread).await;
    assert!(paused.contains("stays out of this thread"), "{paused}");
    // Moderators may always ask.
    assert!(ask(moderator(), from_alice)
        .await
        .starts_with("**Draft reply**"));
    assert_eq!(
        bot.llm_request_count().await,
        2,
        "only the thread's first draft and the moderator's"
    );
    bot.finish().await;
}
