//! Proves the fake Discord in `tests/support` works with the real serenity client and poise:
//! gateway handshake, dispatched events reaching handlers, REST answers serenity can parse.
//! Uses no coe-bot code, so a failure here points at the fake, not at the bot.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use serenity::builder::{
    CreateAttachment, CreateCommand, CreateCommandOption, CreateInteractionResponse,
    CreateInteractionResponseFollowup, CreateInteractionResponseMessage, CreateMessage,
    CreateThread, GetMessages,
};
use serenity::client::{ClientBuilder, Context, EventHandler};
use serenity::model::application::{Command, CommandOptionType, Interaction};
use serenity::model::channel::{Channel, ChannelType, Message};
use serenity::model::gateway::GatewayIntents;
use serenity::model::id::{ApplicationId, ChannelId, GuildId, InteractionId, UserId};
use serenity::model::Permissions;
use support::fake_discord::{discord_error_code as code, serenity_accepts};
use support::payloads::MANAGE_MESSAGES;
use support::{slash_command, user_message, Caller, ChannelSpec, FakeDiscord, RecordedRequest};

const GUILD: u64 = 4_000;
const CHANNEL: u64 = 5_000;
const USER: u64 = 6_000;
const WAIT: Duration = Duration::from_secs(5);

fn intents() -> GatewayIntents {
    GatewayIntents::GUILDS | GatewayIntents::GUILD_MESSAGES | GatewayIntents::MESSAGE_CONTENT
}

/// A fake with one guild and one text channel. NO_PROXY is set first because reqwest honours
/// HTTP(S)_PROXY even for 127.0.0.1.
async fn fake_with_channel() -> FakeDiscord {
    std::env::set_var("NO_PROXY", "127.0.0.1,localhost");
    let fake = FakeDiscord::start().await;
    fake.add_guild(GUILD);
    fake.add_channel(ChannelSpec::text(CHANNEL, GUILD, "support"));
    fake
}

fn is_loopback(r: &RecordedRequest) -> bool {
    r.peer.ip().is_loopback()
}

/// Followup path for the interaction with token `tok-{id}`.
fn webhook(id: u64) -> String {
    format!("/webhooks/{}/tok-{id}", FakeDiscord::APPLICATION_ID)
}

fn callback(id: u64) -> String {
    format!("/interactions/{id}/tok-{id}/callback")
}

/// What a minimal bot does; errors are collected so the test can show them.
struct Handler {
    errors: Arc<Mutex<Vec<String>>>,
}

impl Handler {
    fn note<T>(&self, what: &str, result: serenity::Result<T>) {
        if let Err(err) = result {
            self.errors.lock().unwrap().push(format!("{what}: {err}"));
        }
    }
}

#[serenity::async_trait]
impl EventHandler for Handler {
    async fn message(&self, ctx: Context, msg: Message) {
        if msg.author.bot {
            return;
        }
        self.note("typing", msg.channel_id.broadcast_typing(&ctx).await);
        let reply = format!("pong: {}", msg.content);
        self.note("say", msg.channel_id.say(&ctx, reply).await);
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        let Interaction::Command(command) = interaction else {
            return;
        };
        let defer = CreateInteractionResponse::Defer(CreateInteractionResponseMessage::new());
        self.note("defer", command.create_response(&ctx, defer).await);
        let followup = CreateInteractionResponseFollowup::new().content("done");
        self.note("followup", command.create_followup(&ctx, followup).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_serenity_client_runs_against_the_fake() {
    let run = tokio::time::timeout(Duration::from_secs(20), client_round_trip());
    run.await.expect("smoke test took over 20 s");
}

async fn client_round_trip() {
    let fake = fake_with_channel().await;
    let errors = Arc::new(Mutex::new(Vec::new()));
    let handler = Handler {
        errors: errors.clone(),
    };
    let mut client = ClientBuilder::new_with_http(fake.http_builder().build(), intents())
        .event_handler(handler)
        .await
        .expect("build serenity client");
    let (shards, http) = (client.shard_manager.clone(), client.http.clone());
    let cache = client.cache.clone();
    let running = tokio::spawn(async move { client.start().await });

    fake.wait_ready(WAIT).await;
    assert!(
        fake.saw_gateway_lookup(),
        "gateway URL must come from the fake"
    );
    assert_eq!(fake.identify_intents(), Some(intents().bits()));
    // GUILD_CREATE parsed: the guild and its channel reach serenity's cache.
    for _ in 0..100 {
        if cache.guild(GuildId::new(GUILD)).is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cached = cache.guild(GuildId::new(GUILD)).map(|g| g.channels.len());
    assert_eq!(cached, Some(1), "GUILD_CREATE should cache the guild");

    let alice = Caller::member(USER, "alice");
    let hello = user_message(7_001, GUILD, CHANNEL, &alice, "hello");
    fake.dispatch("MESSAGE_CREATE", hello).await;
    let sent = format!("/channels/{CHANNEL}/messages");
    let sent = fake.wait_for_call("POST", &sent, WAIT).await;
    assert_eq!(sent.body["content"], "pong: hello");
    let typing = format!("/channels/{CHANNEL}/typing");
    let typing = fake.wait_for_call("POST", &typing, WAIT).await;
    assert!(typing.at < sent.at, "typing must come before the message");
    assert_eq!(typing.status, 204);

    let ask = slash_command(9_001, GUILD, CHANNEL, &alice, "ask", 8_001, json!([]));
    fake.dispatch("INTERACTION_CREATE", ask).await;
    let followup = fake.wait_for_call("POST", &webhook(9_001), WAIT).await;
    assert_eq!(followup.body["content"], "done");
    assert_eq!(followup.status, 200);
    let deferred = fake.wait_for_call("POST", &callback(9_001), WAIT).await;
    assert_eq!(deferred.body["type"], 5, "deferred response");
    assert_eq!(deferred.status, 204);
    assert!(deferred.at < followup.at);

    // Discord refuses a second acknowledgement of the same interaction.
    let again = json!({"type": 5});
    let id = InteractionId::new(9_001);
    let again = http.create_interaction_response(id, "tok-9001", &again, vec![]);
    assert_eq!(code(again.await), 40060);

    // The followup replaced the "thinking" placeholder: two bot messages in the channel.
    let messages = fake.messages_in(CHANNEL);
    let contents: Vec<_> = messages.iter().map(|m| m["content"].as_str()).collect();
    assert_eq!(contents, [Some("pong: hello"), Some("done")]);
    let loopback = fake.requests().iter().all(is_loopback);
    assert!(loopback, "calls must stay on 127.0.0.1");
    let errors = errors.lock().unwrap().clone();
    assert!(errors.is_empty(), "handler errors: {errors:?}");

    // Past the deadline Discord forgets the interaction, so the followup has no webhook either.
    fake.set_interaction_deadline(Duration::ZERO);
    let late = slash_command(9_002, GUILD, CHANNEL, &alice, "ask", 8_001, json!([]));
    fake.dispatch("INTERACTION_CREATE", late).await;
    let late = fake.wait_for_call("POST", &callback(9_002), WAIT).await;
    assert_eq!(late.status, 404, "10062 Unknown interaction");
    let orphan = fake.wait_for_call("POST", &webhook(9_002), WAIT).await;
    assert_eq!(orphan.status, 404, "10015 Unknown Webhook");

    shards.shutdown_all().await;
    let stopped = tokio::time::timeout(WAIT, running).await;
    assert!(stopped.is_ok(), "client did not stop after shutdown_all");
}

type PoiseError = Box<dyn std::error::Error + Send + Sync>;
type PoiseContext<'a> = poise::Context<'a, (), PoiseError>;

/// Echoes the text after deferring.
#[poise::command(slash_command)]
async fn echo(
    ctx: PoiseContext<'_>,
    #[description = "text to echo"] text: String,
) -> Result<(), PoiseError> {
    ctx.defer().await?;
    ctx.say(format!("echo: {text}")).await?;
    Ok(())
}

/// Only for members who may manage messages.
#[poise::command(slash_command, required_permissions = "MANAGE_MESSAGES", ephemeral)]
async fn purge(ctx: PoiseContext<'_>) -> Result<(), PoiseError> {
    ctx.say("purged").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poise_commands_run_against_the_fake() {
    let run = tokio::time::timeout(Duration::from_secs(20), poise_round_trip());
    run.await.expect("poise test took over 20 s");
}

async fn poise_round_trip() {
    let fake = fake_with_channel().await;
    let commands = vec![echo(), purge()];
    let options = poise::FrameworkOptions {
        commands,
        ..Default::default()
    };
    let framework = poise::Framework::builder()
        .options(options)
        .setup(|ctx, _ready, framework| {
            Box::pin(async move {
                poise::builtins::register_globally(ctx, &framework.options().commands).await?;
                Ok(())
            })
        })
        .build();
    let mut client = ClientBuilder::new_with_http(fake.http_builder().build(), intents())
        .framework(framework)
        .await
        .expect("build poise client");
    let shards = client.shard_manager.clone();
    let running = tokio::spawn(async move { client.start().await });
    fake.wait_ready(WAIT).await;

    let commands = format!("/applications/{}/commands", FakeDiscord::APPLICATION_ID);
    fake.wait_for_call("PUT", &commands, WAIT).await;
    let registered = fake.registered_commands();
    assert_eq!(
        registered[0]["options"][0]["type"], 3,
        "String registers as STRING"
    );
    let echo_id = fake.command_id("echo").unwrap();
    let purge_id = fake.command_id("purge").unwrap();

    let alice = Caller::member(USER, "alice");
    let text = json!([{"type": 3, "name": "text", "value": "hi"}]);
    let echo = slash_command(9_101, GUILD, CHANNEL, &alice, "echo", echo_id, text);
    fake.dispatch("INTERACTION_CREATE", echo).await;
    let followup = fake.wait_for_call("POST", &webhook(9_101), WAIT).await;
    assert_eq!(followup.body["content"], "echo: hi");

    // A member without MANAGE_MESSAGES gets poise's ephemeral refusal, a moderator the command.
    let moderator = Caller::moderator(USER + 1, "mod", 4_100);
    for (id, caller) in [(9_102, &alice), (9_103, &moderator)] {
        let purge = slash_command(id, GUILD, CHANNEL, caller, "purge", purge_id, json!([]));
        fake.dispatch("INTERACTION_CREATE", purge).await;
    }
    let refusal = fake.wait_for_call("POST", &callback(9_102), WAIT).await;
    let refusal = &refusal.body["data"];
    let refusal_text = refusal["content"].as_str().unwrap_or_default();
    assert!(
        refusal_text.contains("lacking permissions"),
        "got {refusal_text:?}"
    );
    assert_eq!(refusal["flags"], 64, "the refusal is ephemeral");
    let allowed = fake.wait_for_call("POST", &callback(9_103), WAIT).await;
    assert_eq!(allowed.body["data"]["content"], "purged");

    shards.shutdown_all().await;
    let stopped = tokio::time::timeout(WAIT, running).await;
    assert!(stopped.is_ok(), "client did not stop after shutdown_all");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_answers_parse_in_serenity() {
    let run = tokio::time::timeout(Duration::from_secs(20), rest_round_trip());
    run.await.expect("REST test took over 20 s");
}

async fn rest_round_trip() {
    let fake = fake_with_channel().await;
    let moderator = Caller::moderator(USER, "mod", 4_100);
    fake.add_member(GUILD, &moderator);
    // Without a READY, nothing has told this Http the application id.
    let app_id = ApplicationId::new(FakeDiscord::APPLICATION_ID);
    let http = fake.http_builder().application_id(app_id).build();
    let (guild, channel) = (GuildId::new(GUILD), ChannelId::new(CHANNEL));

    let app = http.get_current_application_info().await.expect("app info");
    assert_eq!(
        app.owner.map(|o| o.id.get()),
        Some(FakeDiscord::OWNER_USER_ID)
    );
    let me = http.get_current_user().await.expect("current user");
    assert_eq!(me.id.get(), FakeDiscord::BOT_USER_ID);

    let text = CreateCommandOption::new(CommandOptionType::String, "text", "what");
    let sub = CreateCommandOption::new(CommandOptionType::SubCommand, "ask", "ask");
    let ask = sub.add_sub_option(text.required(true));
    let coe = CreateCommand::new("coe")
        .description("companion")
        .add_option(ask);
    let registered = Command::set_global_commands(&http, vec![coe]).await;
    let registered = registered.expect("register commands");
    assert_eq!(registered[0].options[0].options[0].name, "text");
    assert_eq!(Some(registered[0].id.get()), fake.command_id("coe"));

    match http.get_channel(channel).await.expect("get channel") {
        Channel::Guild(c) => assert_eq!((c.kind, c.guild_id), (ChannelType::Text, guild)),
        other => panic!("expected a guild channel, got {other:?}"),
    }
    assert_eq!(code(http.get_channel(ChannelId::new(1)).await), 10003);

    let first = channel.say(&http, "hi").await.expect("say");
    let talk = CreateThread::new("talk");
    let thread = channel
        .create_thread_from_message(&http, first.id, talk)
        .await;
    let thread = thread.expect("thread");
    assert_eq!(
        thread.id.get(),
        first.id.get(),
        "a thread takes its message's id"
    );
    assert_eq!(thread.kind, ChannelType::PublicThread);
    assert_eq!(thread.parent_id, Some(channel));
    let again = CreateThread::new("again");
    let twice = channel
        .create_thread_from_message(&http, first.id, again)
        .await;
    assert_eq!(code(twice), 160004);
    let in_thread = thread.id.say(&http, "in thread").await;
    in_thread.expect("say in thread");

    let file = CreateAttachment::bytes(b"hello".to_vec(), "a.txt");
    let with_file = CreateMessage::new().content("file").add_file(file);
    let sent = channel
        .send_message(&http, with_file)
        .await
        .expect("send file");
    assert_eq!(sent.attachments[0].filename, "a.txt");
    let requests = fake.requests();
    let recorded = requests.iter().rev().find(|r| r.method == "POST").unwrap();
    assert_eq!(recorded.body["content"], "file");
    assert_eq!(recorded.body["files"][0]["content"], "hello");

    let history = channel.messages(&http, GetMessages::new().limit(10)).await;
    let history = history.expect("history");
    let history: Vec<_> = history.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(
        history,
        ["file", "hi"],
        "newest first, without the thread's message"
    );
    let too_long = json!({"content": "x".repeat(2001)});
    let too_long = http.send_message(channel, vec![], &too_long).await;
    assert_eq!(code(too_long), 50035);

    let member = http.get_member(guild, UserId::new(USER)).await;
    assert_eq!(member.expect("member").user.name, "mod");
    assert_eq!(code(http.get_member(guild, UserId::new(1)).await), 10007);
    let roles = http.get_guild_roles(guild).await.expect("roles");
    let manage = Permissions::from_bits_truncate(MANAGE_MESSAGES);
    let moderators = roles.iter().find(|r| r.id.get() == 4_100);
    assert!(moderators.is_some_and(|r| r.permissions.contains(manage)));
    assert_eq!(http.get_guild(guild).await.expect("guild").id, guild);

    let defer = json!({"type": 5});
    let id = InteractionId::new(1);
    let unknown = http.create_interaction_response(id, "tok-1", &defer, vec![]);
    assert_eq!(code(unknown.await), 10062);
    assert_eq!(code(http.get_user(UserId::new(5)).await), 0);
    let requests = fake.requests();
    assert!(requests
        .iter()
        .any(|r| r.is("GET", "/users/5") && r.status == 404));
    assert!(requests.iter().all(is_loopback));
}

#[test]
fn payload_builders_parse_in_serenity() {
    let alice = Caller::member(USER, "alice");
    let options = json!([{"type": 3, "name": "text", "value": "hi"}]);
    let options = support::subcommand_options("ask", options);
    let clicked = user_message(7, GUILD, CHANNEL, &alice, "x");
    let command = slash_command(1, GUILD, CHANNEL, &alice, "coe", 2, options);
    let message = user_message(3, GUILD, CHANNEL, &alice, "hello");
    let hooked = support::webhook_message(4, GUILD, CHANNEL, 5, "hook", "posted");
    let click = support::component_click(6, GUILD, CHANNEL, &alice, "ok", clicked);
    let checks = [
        ("INTERACTION_CREATE", command),
        ("MESSAGE_CREATE", message),
        ("MESSAGE_CREATE", hooked),
        ("INTERACTION_CREATE", click),
    ];
    for (event, payload) in checks {
        if let Err(why) = serenity_accepts(event, &payload) {
            panic!("{event} rejected by serenity: {why}\n{payload:#}");
        }
    }
}
