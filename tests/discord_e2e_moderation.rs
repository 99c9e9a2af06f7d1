//! End to end: `/coe-mod review|flag|stats|export|clear` through the fake Discord. Members are
//! refused without seeing anything; moderators see their own guild's redacted reasoning only;
//! review pages turn for the moderator who opened them, and close when the review stops
//! listening.

mod support;

use std::time::Duration;

use coe_bot::store::GuildSetting;
use serde_json::{json, Value};
use sqlx::Row;
use support::bot::common::llm_answering;
use support::bot::*;
use support::moderation::*;
use support::{component_click, Caller, RecordedRequest};

const NOT_A_MODERATOR: &str = "This command is for this server's moderators.";
const NOT_YOUR_REVIEW: &str = "Only the moderator who opened this review can page it.";

/// The check acknowledges privately first; the refusal follows, private and revealing nothing.
async fn assert_refused(bot: &TestBot, interaction: u64) {
    let deferred = bot.callback(interaction).await;
    assert_eq!(
        (deferred.body["type"].as_u64(), flags(&deferred)),
        (Some(5), 64)
    );
    let refusal = bot.answer(interaction).await;
    assert_eq!(content(&refusal), NOT_A_MODERATOR);
    assert_eq!(flags(&refusal), 64, "the refusal is private");
    assert!(embed_titles(&refusal.body).is_empty(), "{:#}", refusal.body);
    assert!(!refusal.body.to_string().contains("reasoning"));
}

/// The review message as the fake stores it (with later edits), found by a button it carries.
fn review_message(bot: &TestBot, custom_id_prefix: &str) -> Value {
    let messages = bot.fake.messages_in(GENERAL);
    let carries = |m: &Value| {
        let ids = buttons(m);
        ids.iter()
            .any(|(_, id, _)| id.starts_with(custom_id_prefix))
    };
    messages
        .into_iter()
        .find(carries)
        .expect("the review message carries buttons")
}

fn button_id(message: &Value, label: &str) -> String {
    let found = buttons(message).into_iter().find(|(l, _, _)| l == label);
    found.map(|(_, id, _)| id).expect("the button")
}

/// Clicks once; returns the click's interaction id.
async fn click(bot: &TestBot, caller: &Caller, custom_id: &str, message: &Value) -> u64 {
    let id = bot.id();
    let event = component_click(id, GUILD, GENERAL, caller, custom_id, message.clone());
    bot.fake.dispatch("INTERACTION_CREATE", event).await;
    id
}

/// The edit a click made to its message (`PATCH …/tok-{click}/messages/@original`).
async fn click_edit(bot: &TestBot, click: u64) -> RecordedRequest {
    let path = format!("{}/messages/@original", followup_path(click));
    bot.fake.wait_for_call("PATCH", &path, WAIT).await
}

#[tokio::test(flavor = "multi_thread")]
async fn review_is_for_moderators_and_shows_only_their_guild() {
    bounded("/coe-mod review", review()).await;
}

async fn review() {
    let bot = TestBot::start(llm_answering("exploration", "unused").await, &[]).await;
    seed(&bot).await;

    let refused = mod_command(&bot, &alice(), "review", Value::Null).await;
    assert_refused(&bot, refused).await;

    let moderator = moderator();
    let shown = mod_command(&bot, &moderator, "review", Value::Null).await;
    let page = bot.answer(shown).await;
    assert_eq!(flags(&page), 64, "review pages are private");
    assert!(
        content(&page).starts_with("Replies #4 to #8 (n"),
        "{:#}",
        page.body
    );
    assert_eq!(shown_ids(&page.body), ["#8", "#7", "#6", "#5", "#4"]);
    let text = page.body.to_string();
    assert!(text.contains("alpha guild reasoning step 7"), "{text}");
    assert!(!text.contains("bravo"), "another guild's reasoning leaked");
    assert!(
        !text.contains("seeded-user-key"),
        "user keys are never shown"
    );

    // "Older" pages back: the click is acknowledged at once, then its message is edited.
    let message = review_message(&bot, &format!("{shown}:"));
    let older = click(&bot, &moderator, &button_id(&message, "Older"), &message).await;
    assert_eq!(bot.callback(older).await.body["type"], 6);
    let edit = click_edit(&bot, older).await;
    assert_eq!(shown_ids(&edit.body), ["#3", "#2"], "{:#}", edit.body);
    assert!(!edit.body.to_string().contains("bravo"));
    let newer = &buttons(&edit.body)[0];
    assert_eq!((newer.0.as_str(), newer.2), ("Newer", false));
    let edited = review_message(&bot, &format!("{shown}:"));
    assert!(edited["content"]
        .as_str()
        .unwrap()
        .starts_with("Replies #2 to #3"));

    // The configured moderator role is enough, without Manage Messages.
    let role = 4_300;
    let setting = GuildSetting::ModeratorRole(Some(role));
    bot.store
        .update_guild_setting(GUILD, &setting)
        .await
        .unwrap();
    let by_role = Caller {
        roles: vec![role],
        ..Caller::member(6_010, "helper")
    };
    let allowed = mod_command(&bot, &by_role, "review", Value::Null).await;
    assert_eq!(embed_titles(&bot.answer(allowed).await.body).len(), 5);
    bot.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_click_right_after_the_page_is_posted_is_answered() {
    bounded("click on arrival", click_on_arrival()).await;
}

/// The fake clicks "Older" before the bot hears back from posting the page: a listener set up
/// after the page was sent never sees that click.
async fn click_on_arrival() {
    let bot = TestBot::start(llm_answering("exploration", "unused").await, &[]).await;
    seed(&bot).await;
    let moderator = moderator();
    bot.fake.click_when_posted(&moderator, "Older");
    let shown = mod_command(&bot, &moderator, "review", Value::Null).await;
    bot.answer(shown).await;
    let made = bot.wait_until("the fake's click", || bot.fake.made_clicks().pop());
    let made = made.await;
    assert_eq!(bot.callback(made).await.body["type"], 6);
    assert_eq!(shown_ids(&click_edit(&bot, made).await.body), ["#3", "#2"]);
    bot.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_moderator_who_opened_a_review_pages_it() {
    bounded("someone else's review", someone_elses_review()).await;
}

async fn someone_elses_review() {
    let bot = TestBot::start(llm_answering("exploration", "unused").await, &[]).await;
    seed(&bot).await;
    let shown = mod_command(&bot, &moderator(), "review", Value::Null).await;
    bot.answer(shown).await;
    let message = review_message(&bot, &format!("{shown}:"));
    let older = button_id(&message, "Older");
    let other = Caller::moderator(6_011, "another-mod", MODERATOR_ROLE);
    for caller in [other, bob()] {
        let clicked = click(&bot, &caller, &older, &message).await;
        let refusal = bot.callback(clicked).await;
        assert_eq!(refusal.body["type"], 4, "{:#}", refusal.body);
        assert_eq!((content(&refusal), flags(&refusal)), (NOT_YOUR_REVIEW, 64));
    }
    let unchanged = review_message(&bot, &format!("{shown}:"));
    assert_eq!(unchanged["content"], message["content"]);
    bot.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_review_that_stops_listening_disables_its_buttons() {
    bounded("review timeout", review_timeout()).await;
}

/// A review created 14 min 28 s ago has 2 s left before it must close (its token lasts 15
/// minutes and the last edit keeps 30 s in hand).
async fn review_timeout() {
    let bot = TestBot::start(llm_answering("exploration", "unused").await, &[]).await;
    seed(&bot).await;
    let age = Duration::from_secs(14 * 60 + 28);
    let options = support::subcommand_options("review", Value::Null);
    let place = (GUILD, GENERAL);
    let shown = bot
        .slash_aged(age, &moderator(), place, "coe-mod", options)
        .await;
    let page = bot.answer(shown).await;
    let open = buttons(&page.body);
    assert_eq!(open.iter().map(|b| b.2).collect::<Vec<_>>(), [true, false]);
    let edits = format!("{}/messages/", followup_path(shown));
    let closed = bot
        .fake
        .wait_for_request(|r| r.method == "PATCH" && r.path.starts_with(&edits), WAIT)
        .await;
    let closed_buttons = buttons(&closed.body);
    assert_eq!(closed_buttons.len(), 2, "{:#}", closed.body);
    assert!(closed_buttons.iter().all(|b| b.2), "{:#}", closed.body);
    assert_eq!(
        shown_ids(&closed.body),
        shown_ids(&page.body),
        "the page stays"
    );
    let stored = review_message(&bot, &format!("{shown}:"));
    assert!(buttons(&stored).iter().all(|b| b.2));
    bot.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_the_database_cannot_give_is_answered_in_words() {
    bounded("page error", page_error()).await;
}

async fn page_error() {
    let bot = TestBot::start(llm_answering("exploration", "unused").await, &[]).await;
    seed(&bot).await;
    let moderator = moderator();
    let shown = mod_command(&bot, &moderator, "review", Value::Null).await;
    bot.answer(shown).await;
    let message = review_message(&bot, &format!("{shown}:"));
    sqlx::query("ALTER TABLE interactions RENAME TO interactions_elsewhere")
        .execute(bot.store.pool())
        .await
        .unwrap();
    let older = click(&bot, &moderator, &button_id(&message, "Older"), &message).await;
    assert_eq!(bot.callback(older).await.body["type"], 6);
    let apology = bot.followup(older, 0).await;
    assert!(
        content(&apology).starts_with("I couldn't load that page just now."),
        "{:#}",
        apology.body
    );
    assert_eq!(flags(&apology), 64);
    bot.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn flag_stats_and_export() {
    bounded("/coe-mod flag|stats|export", flag_stats_export()).await;
}

async fn flag_stats_export() {
    let bot = TestBot::start(llm_answering("exploration", "unused").await, &[]).await;
    seed(&bot).await;
    let moderator = moderator();
    for sub in ["flag", "stats", "export", "clear"] {
        let options = match sub {
            "flag" => flag_options(&bot, 2, "ok", None),
            _ => Value::Null,
        };
        let refused = mod_command(&bot, &bob(), sub, options).await;
        assert_refused(&bot, refused).await;
    }
    assert_eq!(bot.count("SELECT COUNT(*) FROM reviews").await, 0);

    let note = Some("Too directive; reach me at 555-123-4567");
    let options = flag_options(&bot, 5, "concern", note);
    let flagged = mod_command(&bot, &moderator, "flag", options).await;
    let answer = bot.answer(flagged).await;
    assert_eq!(content(&answer), "Saved: reply #5 marked **concern**.");
    assert_eq!(flags(&answer), 64);
    let reviews = bot
        .rows("SELECT interaction_id, verdict, note, reviewer_key FROM reviews")
        .await;
    assert_eq!(reviews.len(), 1);
    let review = &reviews[0];
    assert_eq!(review.get::<i64, _>("interaction_id"), 5);
    assert_eq!(review.get::<String, _>("verdict"), "concern");
    assert_eq!(
        review.get::<String, _>("note"),
        "Too directive; reach me at [phone]"
    );
    assert_eq!(
        review.get::<String, _>("reviewer_key"),
        bot.user_key(&moderator)
    );
    // Row 1 belongs to the other guild: it cannot be flagged from here.
    let elsewhere = mod_command(&bot, &moderator, "flag", flag_options(&bot, 1, "ok", None)).await;
    assert_eq!(
        content(&bot.answer(elsewhere).await),
        "There is no reply #1 in this server."
    );
    assert_eq!(bot.count("SELECT COUNT(*) FROM reviews").await, 1);

    let stats = mod_command(&bot, &moderator, "stats", Value::Null).await;
    let stats = bot.answer(stats).await;
    assert_eq!(flags(&stats), 64);
    let embed = &stats.body["embeds"][0];
    assert_eq!(embed["title"], "Companion replies by therapy");
    let field = &embed["fields"][0];
    assert_eq!(field["name"], "cbt (7 messages)", "{embed:#}");
    let value = field["value"].as_str().unwrap_or_default();
    assert!(
        value.contains("replied 7") && value.contains("concern 1"),
        "{value}"
    );

    let export = mod_command(&bot, &moderator, "export", Value::Null).await;
    let deferred = bot.callback(export).await;
    assert_eq!(
        (deferred.body["type"].clone(), flags(&deferred)),
        (json!(5), 64)
    );
    let sent = bot.answer(export).await;
    assert_eq!(content(&sent), "7 anonymized rows (no user keys).");
    let file = &sent.body["files"][0];
    assert_eq!(file["name"], "coe-interactions.csv");
    let csv = file["content"].as_str().unwrap_or_default();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 8, "a header and seven rows:\n{csv}");
    assert!(
        lines[0].starts_with("id,created_at,source,therapy"),
        "{}",
        lines[0]
    );
    assert!(!lines[0].contains("user_key"));
    assert!(
        !csv.contains("seeded-user-key"),
        "no user keys in the export"
    );
    assert!(!csv.contains("bravo"), "only this guild's rows");
    assert!(csv.contains("alpha guild reasoning step 3"));
    bot.finish().await;
}
