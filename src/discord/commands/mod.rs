//! Slash commands, one file per family.

mod admin;
mod assist;
mod coe;
mod moderation;
mod privacy;

use super::{Context, Data, Error};

/// The guild a guild-only command came from.
fn guild(ctx: Context<'_>) -> u64 {
    ctx.guild_id().map_or(0, |g| g.get())
}

pub fn all() -> Vec<poise::Command<Data, Error>> {
    vec![
        coe::coe(),
        moderation::coe_mod(),
        admin::coe_admin(),
        privacy::coe_privacy(),
        assist::coe_assist(),
        assist::draft_reply(),
        assist::feedback_on_reply(),
    ]
}
