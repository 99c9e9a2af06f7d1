//! End to end, supporter feedback and the channels' set-up through the fake Discord: feedback
//! on a supporter's own reply (context menu and `/coe-assist feedback`) with a marked light edit;
//! `/coe-admin supporter-role` and `/coe-admin channel mode`; a drafts-only channel, where the
//! bot answers only a crisis and tells moderators of a concern.

mod support;

use coe_bot::store::{ChannelMode, GuildSetting};
use serde_json::{json, Value};
use support::assist::*;
use support::bot::common::databases::TestDb;
use support::bot::*;
use support::{subcommand_options, user_message};

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
    set_up_by_admin(&bot).await;
    drafts_only_channel(&bot).await;
    bot.finish().await;
}

/// `/coe-admin supporter-role` and `/coe-admin channel mode` make `SPARE` a drafts-only channel.
async fn set_up_by_admin(bot: &TestBot) {
    let admin_says = |options: Value, resolved: Value| async move {
        let id = bot
            .slash_resolved(&admin(), (GUILD, GENERAL), "coe-admin", options, resolved)
            .await;
        content(&bot.answer(id).await).to_string()
    };
    let role = json!([{"type": 8, "name": "role", "value": SUPPORTER_ROLE.to_string()}]);
    let options = subcommand_options("supporter-role", role);
    let said = admin_says(options, resolved_role(SUPPORTER_ROLE, "supporters")).await;
    assert!(said.contains("can now ask for drafts"), "{said}");
    let mode = json!([
        {"type": 7, "name": "channel", "value": SPARE.to_string()},
        {"type": 4, "name": "mode", "value": 1},
    ]);
    let options =
        json!([{"type": 2, "name": "channel", "options": subcommand_options("mode", mode)}]);
    let said = admin_says(options, resolved_channel(SPARE, "spare")).await;
    assert!(said.contains("supporter drafts only"), "{said}");
    let settings = bot.store.guild_settings(GUILD).await.unwrap();
    assert_eq!(settings.supporter_role_id, Some(SUPPORTER_ROLE));
    let mode = bot.store.support_channel_mode(GUILD, SPARE).await.unwrap();
    assert_eq!(mode, Some(ChannelMode::Drafts));
    let alerts = GuildSetting::AlertChannel(Some(ALERTS));
    bot.store
        .update_guild_setting(GUILD, &alerts)
        .await
        .unwrap();
}

/// In a drafts-only channel a plain message gets nothing from the bot and drafts work; a
/// concern reaches the moderators alone; a crisis still gets the fixed reply, with no model.
async fn drafts_only_channel(bot: &TestBot) {
    let posted = bot.say(&alice(), SPARE, MEMBER_TEXT).await;
    let target = user_message(posted, GUILD, SPARE, &alice(), MEMBER_TEXT);
    let id = context_menu(bot, &supporter(), "Draft a supportive reply", &target).await;
    assert!(content(&private_card(bot, id).await).starts_with("**Draft reply**"));

    bot.say(&alice(), SPARE, CONCERN_TEXT).await;
    let notice = bot.message_in(ALERTS, "Lower urgency").await;
    assert!(
        content(&notice).contains("People answer in this channel"),
        "{}",
        content(&notice)
    );
    assert!(
        bot.calls_in(SPARE).is_empty(),
        "nothing for the member: {:#?}",
        bot.calls_in(SPARE)
    );

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
}
