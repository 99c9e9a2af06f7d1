//! Discord's limits, end to end: the fake refuses what Discord refuses (embeds over 6,000
//! characters or over their own caps, files over the server's upload limit), review pages fit
//! at every page size, exports are split to the server's upload limit, and every command that
//! uses the database is acknowledged within Discord's 3 seconds even while the database is
//! locked, then answered in words.

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use serenity::all::{ChannelId, CreateAttachment};
use serenity::http::HttpError;
use support::bot::common::llm_answering;
use support::bot::*;
use support::fake_discord::FakeDiscord;
use support::limits::{upload_limit, MIB};
use support::moderation::*;
use support::{subcommand_options, ChannelSpec, RecordedRequest};

/// A guild the bot hears of only after connecting, so its tier is not in the cache.
const LATE_GUILD: u64 = 4_002;
const LATE_GENERAL: u64 = 5_201;
const APOLOGY: &str = "Sorry, something went wrong on my side";

/// Posts `body` (and `files`) in `channel` as raw JSON, past serenity's own builder checks.
async fn post(
    fake: &FakeDiscord,
    channel: u64,
    body: Value,
    files: Vec<CreateAttachment>,
) -> serenity::Result<serenity::all::Message> {
    let http = fake.http_builder().build();
    http.send_message(ChannelId::new(channel), files, &body)
        .await
}

/// Discord's error for a refused call: HTTP status, code, and the paths of `errors`.
fn refusal(result: serenity::Result<serenity::all::Message>) -> (u16, isize, String) {
    match result {
        Err(serenity::Error::Http(HttpError::UnsuccessfulRequest(response))) => {
            let paths: Vec<String> = response
                .error
                .errors
                .iter()
                .map(|e| format!("{} {}", e.path, e.code))
                .collect();
            let status = response.status_code.as_u16();
            (status, response.error.code, paths.join("; "))
        }
        Err(other) => panic!("expected Discord's refusal, got {other}"),
        Ok(_) => panic!("the fake accepted what Discord refuses"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_fake_refuses_what_discord_refuses() {
    bounded("fake refusals", fake_refusals()).await;
}

async fn fake_refusals() {
    let fake = FakeDiscord::start().await;
    for (guild, channel, tier) in [(GUILD, GENERAL, 0), (OTHER_GUILD, OTHER_GENERAL, 2)] {
        fake.add_guild(guild);
        fake.set_premium_tier(guild, tier);
        fake.add_channel(ChannelSpec::text(channel, guild, "general"));
    }
    let text = |chars: usize| "d".repeat(chars);
    let described = |chars: usize| json!({"description": text(chars)});
    let fields: Vec<Value> = (0..26)
        .map(|i| json!({"name": format!("f{i}"), "value": "v"}))
        .collect();
    let cases = [
        (
            json!([described(3_000), described(3_001)]),
            "embeds MAX_EMBED_SIZE_EXCEEDED",
        ),
        (
            json!([{"title": text(257)}]),
            "embeds.0.title BASE_TYPE_MAX_LENGTH",
        ),
        (
            json!(vec![described(10); 11]),
            "embeds BASE_TYPE_MAX_LENGTH",
        ),
        (
            json!([{"fields": fields}]),
            "embeds.0.fields BASE_TYPE_MAX_LENGTH",
        ),
        (
            json!([{"fields": [{"name": "n", "value": text(1_025)}]}]),
            "embeds.0.fields.0.value BASE_TYPE_MAX_LENGTH",
        ),
        (
            json!([{"footer": {"text": text(2_049)}}]),
            "embeds.0.footer.text BASE_TYPE_MAX_LENGTH",
        ),
        (
            json!([{"author": {"name": text(257)}}]),
            "embeds.0.author.name BASE_TYPE_MAX_LENGTH",
        ),
    ];
    for (embeds, expected) in cases {
        let result = post(&fake, GENERAL, json!({"embeds": embeds}), vec![]).await;
        let (status, code, paths) = refusal(result);
        assert_eq!((status, code, paths.as_str()), (400, 50035, expected));
    }
    let full = json!({"embeds": [described(3_000), described(3_000)]});
    let accepted = post(&fake, GENERAL, full, vec![]).await;
    assert!(
        accepted.is_ok(),
        "6,000 characters are allowed: {accepted:?}"
    );

    let file = || vec![CreateAttachment::bytes(vec![b'x'; 10 * MIB + 1], "big.csv")];
    let too_big = post(&fake, GENERAL, json!({}), file()).await;
    assert_eq!(refusal(too_big).0, 413);
    let boosted = post(&fake, OTHER_GENERAL, json!({}), file()).await;
    assert!(boosted.is_ok(), "tier 2 allows 50 MiB: {boosted:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn review_pages_fit_in_one_message_at_every_page_size() {
    bounded("review page sizes", review_page_sizes()).await;
}

/// Ten rows as long as the model and the store allow: an emotion of 1,000 characters and three
/// reasoning steps of 1,500 each.
async fn review_page_sizes() {
    let bot = TestBot::start(llm_answering("exploration", "unused").await, &[]).await;
    let emotion = "weighed down ".repeat(77);
    for i in 0..10 {
        let reasoning = vec!["a heavy and long day ".repeat(72); 3];
        let row = seeded_row(GUILD, i, &emotion, reasoning);
        bot.store.record_interaction(&row).await.unwrap();
    }
    for size in 1..=10 {
        let shown = mod_command(&bot, &moderator(), "review", review_limit(size)).await;
        let page = bot.answer(shown).await;
        assert!(
            page.status < 300,
            "page size {size} refused: {:#}",
            page.body
        );
        let shown = message(&page);
        assert_eq!(shown_ids(shown).len(), size as usize);
        let total = embed_chars(shown);
        assert!(total <= 6_000, "{total} characters at page size {size}");
        if size == 1 {
            let reasoning = shown["embeds"][0]["fields"][3]["value"].as_str();
            let kept = reasoning.map_or(0, |r| r.chars().count());
            assert_eq!(kept, 1_024, "one row is cut only at the field's own cap");
        }
    }
    bot.finish().await;
}

/// What Discord counts towards the 6,000 characters of a message's embeds.
fn embed_chars(body: &Value) -> usize {
    let chars = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
    let embeds = body["embeds"].as_array().cloned().unwrap_or_default();
    embeds
        .iter()
        .map(|e| {
            let fields = e["fields"].as_array().cloned().unwrap_or_default();
            let fields: usize = fields
                .iter()
                .map(|f| chars(&f["name"]) + chars(&f["value"]))
                .sum();
            chars(&e["title"])
                + chars(&e["description"])
                + chars(&e["footer"]["text"])
                + chars(&e["author"]["name"])
                + fields
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn exports_are_split_to_the_servers_upload_limit() {
    bounded("export sizes", export_sizes()).await;
}

/// 11,500 rows of about 1.1 kB: over 10 MiB of CSV. A server without boosts gets two files; a
/// tier 2 server (from the cache) and a tier 3 server (from `GET /guilds`) get one.
async fn export_sizes() {
    let llm = llm_answering("exploration", "unused").await;
    let bot = TestBot::start_with(llm, &[], |fake| fake.set_premium_tier(OTHER_GUILD, 2)).await;
    bot.fake.add_guild(LATE_GUILD);
    bot.fake.set_premium_tier(LATE_GUILD, 3);
    bot.fake
        .add_channel(ChannelSpec::text(LATE_GENERAL, LATE_GUILD, "general"));
    let rows = 11_500;
    for guild in [GUILD, OTHER_GUILD, LATE_GUILD] {
        seed_bulk(&bot, guild, rows, 1_000).await;
    }
    let places = [
        ((GUILD, GENERAL), upload_limit(0), 2),
        ((OTHER_GUILD, OTHER_GENERAL), upload_limit(2), 1),
        ((LATE_GUILD, LATE_GENERAL), upload_limit(3), 1),
    ];
    for (place, limit, files) in places {
        let options = subcommand_options("export", Value::Null);
        let export = bot.slash(&moderator(), place, "coe-mod", options).await;
        let last = bot.followup(export, files - 1).await;
        let expected = match files {
            1 => format!("{rows} anonymized rows (no user keys)."),
            n => format!("{rows} anonymized rows (no user keys), in {n} files."),
        };
        assert_eq!(content(&last), expected, "{place:?}");
        let sent = bot.followups(export);
        assert_eq!(sent.len(), files, "{place:?}");
        let sizes = file_sizes(&sent);
        assert!(sizes.iter().all(|&s| s <= limit), "{place:?}: {sizes:?}");
        assert!(sizes.iter().sum::<usize>() > upload_limit(0), "{sizes:?}");
        assert_eq!(csv_rows(&sent), rows as usize, "{place:?}");
    }
    bot.finish().await;
}

fn file_sizes(sent: &[RecordedRequest]) -> Vec<usize> {
    let size = |m: &RecordedRequest| m.body["files"][0]["size"].as_u64().unwrap_or(0) as usize;
    sent.iter().map(size).collect()
}

/// The data rows of an export's files, checking each was accepted and starts with the header.
fn csv_rows(sent: &[RecordedRequest]) -> usize {
    let mut rows = 0;
    for message in sent {
        assert_eq!(message.status, 200, "a file was refused");
        let csv = message.body["files"][0]["content"]
            .as_str()
            .unwrap_or_default();
        assert!(csv.starts_with("id,created_at,source,therapy,"));
        rows += csv.lines().count() - 1;
    }
    rows
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_are_acknowledged_in_time_while_the_database_is_locked() {
    bounded("locked database", locked_database()).await;
}

/// One invocation: the command, its options, `data.resolved`, and whether it writes (and so
/// fails once the busy timeout passes).
struct Invocation {
    command: &'static str,
    options: Value,
    resolved: Value,
    writes: bool,
}

fn invocations(bot: &TestBot) -> Vec<Invocation> {
    let sub = |command, name: &str, options: Value, writes| Invocation {
        command,
        options: subcommand_options(name, options),
        resolved: Value::Null,
        writes,
    };
    let channel = |name: &str, option: Value, writes| Invocation {
        command: "coe-admin",
        resolved: match option {
            Value::Null => Value::Null,
            _ => resolved_channel(SPARE, "spare"),
        },
        options: json!([{"type": 2, "name": "channel", "options": subcommand_options(name, option)}]),
        writes,
    };
    let spare = || json!([{"type": 7, "name": "channel", "value": SPARE.to_string()}]);
    let therapy = json!([{"type": 4, "name": "therapy",
        "value": bot.choice("coe", "therapy", "cbt")}]);
    let region = json!([{"type": 3, "name": "code", "value": "uk"}]);
    vec![
        sub("coe-privacy", "about", Value::Null, false),
        sub("coe-privacy", "optout", Value::Null, true),
        sub("coe-privacy", "optin", Value::Null, true),
        sub("coe-privacy", "forget", Value::Null, true),
        channel("add", spare(), true),
        channel("remove", spare(), true),
        channel("list", Value::Null, false),
        sub("coe-admin", "therapy", therapy, true),
        sub("coe-admin", "alerts", Value::Null, true),
        sub("coe-admin", "role", Value::Null, true),
        sub("coe-admin", "region", region, true),
        sub("coe-mod", "review", Value::Null, false),
        sub("coe-mod", "flag", flag_options(bot, 2, "ok", None), true),
        sub("coe-mod", "stats", Value::Null, false),
        sub("coe-mod", "export", Value::Null, false),
        sub("coe-mod", "clear", Value::Null, true),
    ]
}

/// Readers go on in WAL mode; writers wait out the 5-second busy timeout and fail. Every
/// command must still be acknowledged within 3 seconds (the fake refuses a later callback),
/// and end with a private answer: its own, or the apology once its write failed.
async fn locked_database() {
    let bot = TestBot::start(llm_answering("exploration", "unused").await, &[]).await;
    seed(&bot).await;
    let lock = bot.lock_database().await;
    let mut sent = Vec::new();
    for invocation in invocations(&bot) {
        let caller = match invocation.command {
            "coe-mod" => moderator(),
            "coe-admin" => admin(),
            _ => alice(),
        };
        let (options, resolved) = (invocation.options.clone(), invocation.resolved.clone());
        let command = invocation.command;
        let dispatched = Instant::now();
        let id = bot
            .slash_resolved(&caller, (GUILD, GENERAL), command, options, resolved)
            .await;
        sent.push((id, invocation, dispatched));
    }
    // Printed for BENCHMARKS.md (`--nocapture`): the time to Discord's acknowledgement.
    let mut slowest = Duration::ZERO;
    for (id, invocation, dispatched) in &sent {
        let callback = bot.callback(*id).await;
        let acknowledged = callback.at.duration_since(*dispatched);
        slowest = slowest.max(acknowledged);
        println!(
            "locked database: {} {} acknowledged in {acknowledged:?}",
            invocation.command, invocation.options
        );
        let what = format!("{} {}", invocation.command, invocation.options);
        assert_eq!(
            callback.status, 204,
            "{what} was not acknowledged within 3 s"
        );
        let answer = final_answer(&bot, *id, &callback).await;
        assert_eq!(flags(&answer), 64, "{what}: {:#}", answer.body);
        let apologized = content(&answer).starts_with(APOLOGY);
        assert_eq!(apologized, invocation.writes, "{what}: {:#}", answer.body);
    }
    println!(
        "locked database: slowest acknowledgement {slowest:?} of {}",
        sent.len()
    );
    drop(lock);
    bot.finish().await;
}

/// The callback itself when it answered; else the first followup, waiting out the busy timeout.
async fn final_answer(bot: &TestBot, id: u64, callback: &RecordedRequest) -> RecordedRequest {
    if callback.body["type"] == 4 {
        return callback.clone();
    }
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        if let Some(first) = bot.followups(id).into_iter().next() {
            return first;
        }
        assert!(
            Instant::now() < deadline,
            "interaction {id} was never answered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
