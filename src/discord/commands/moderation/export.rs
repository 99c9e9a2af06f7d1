//! `/coe-mod export`: this server's anonymized rows as CSV, read page by
//! page, encoded off the async runtime, and sent as one file per message,
//! each within Discord's upload limit for the server's boost tier.

use super::csv_files::CsvFiles;
use super::guild;
use crate::discord::{Context, Error};
use poise::serenity_prelude as serenity;
use poise::CreateReply;
use serenity::{CreateAttachment, PremiumTier};

/// Rows per export at most, newest first.
const EXPORT_ROW_LIMIT: usize = 50_000;
/// Rows read from the database at a time.
const PAGE_ROWS: usize = 1_000;
const MIB: usize = 1 << 20;
/// Discord's upload limit without server boosts (and for tiers it adds later).
const BASE_UPLOAD_LIMIT: usize = 10 * MIB;

/// Download this server's anonymized rows as CSV.
#[poise::command(slash_command, ephemeral)]
pub(super) async fn export(ctx: Context<'_>) -> Result<(), Error> {
    let store = ctx.data().pipeline.store();
    let mut files = CsvFiles::new(guild_upload_limit(ctx).await)?;
    let (mut total, mut sent, mut before) = (0, 0, None);
    loop {
        let wanted = PAGE_ROWS.min(EXPORT_ROW_LIMIT - total);
        let rows = store
            .recent_interactions(guild(ctx), wanted as u32, before)
            .await?;
        total += rows.len();
        before = rows.last().map(|r| r.id);
        let last_page = rows.len() < wanted || total == EXPORT_ROW_LIMIT;
        files = tokio::task::spawn_blocking(move || files.push(&rows).map(|()| files)).await??;
        for file in files.take_full() {
            sent += 1;
            let part = CreateAttachment::bytes(file, format!("coe-interactions-{sent}.csv"));
            let text = format!("Part {sent} of this server's export; more follows.");
            ctx.send(CreateReply::default().content(text).attachment(part))
                .await?;
        }
        if last_page {
            break;
        }
    }
    let (name, text) = match sent {
        0 => (
            "coe-interactions.csv".to_string(),
            format!("{total} anonymized rows (no user keys)."),
        ),
        _ => (
            format!("coe-interactions-{}.csv", sent + 1),
            format!(
                "{total} anonymized rows (no user keys), in {} files.",
                sent + 1
            ),
        ),
    };
    let last = CreateAttachment::bytes(files.finish(), name);
    ctx.send(CreateReply::default().content(text).attachment(last))
        .await?;
    Ok(())
}

/// The server's upload limit: its boost tier from the cache, else from
/// Discord, else the base limit.
async fn guild_upload_limit(ctx: Context<'_>) -> usize {
    let Some(guild_id) = ctx.guild_id() else {
        return BASE_UPLOAD_LIMIT;
    };
    let cached = ctx.guild().map(|g| g.premium_tier);
    let tier = match cached {
        Some(tier) => tier,
        None => match guild_id.to_partial_guild(ctx).await {
            Ok(guild) => guild.premium_tier,
            Err(error) => {
                tracing::warn!(%error, "could not read the server's boost tier; using the base upload limit");
                return BASE_UPLOAD_LIMIT;
            }
        },
    };
    upload_limit(tier)
}

fn upload_limit(tier: PremiumTier) -> usize {
    match tier {
        PremiumTier::Tier2 => 50 * MIB,
        PremiumTier::Tier3 => 100 * MIB,
        _ => BASE_UPLOAD_LIMIT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_limits_follow_the_boost_tier() {
        assert_eq!(upload_limit(PremiumTier::Tier0), 10 * MIB);
        assert_eq!(upload_limit(PremiumTier::Tier1), 10 * MIB);
        assert_eq!(upload_limit(PremiumTier::Tier2), 50 * MIB);
        assert_eq!(upload_limit(PremiumTier::Tier3), 100 * MIB);
        assert_eq!(upload_limit(PremiumTier::Unknown(9)), 10 * MIB);
    }
}
