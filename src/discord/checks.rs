//! Who may use the moderator and admin commands. Discord hides them with
//! default member permissions; these run-time checks hold even where a
//! server changed those defaults. They are poise `check`s on the parent
//! commands: poise 0.7 runs the checks of every command in the invoked
//! tree, parent first (`dispatch/common.rs`, `check_permissions_and_cooldown`),
//! so each subcommand is covered without repeating them.

use super::reply::ephemeral_text;
use super::{Context, Data, Error};
use crate::store::{GuildSettings, StoreError};
use poise::serenity_prelude::{GuildId, Member, Permissions, RoleId};

pub const NOT_A_MODERATOR: &str = "This command is for this server's moderators.";
pub const NOT_AN_ADMIN: &str = "This command is for this server's admins (Manage Server).";
const ROLE_UNREADABLE: &str = "I couldn't check this server's moderator role just now. \
     Please try again in a moment.";

/// `/coe-mod`'s check. It acknowledges the command first: the moderator
/// role and every subcommand read the database, which may stay busy for
/// longer than the 3 seconds Discord waits for an answer.
pub async fn moderators_only(ctx: Context<'_>) -> Result<bool, Error> {
    ctx.defer_ephemeral().await?;
    let refusal = match is_moderator(ctx).await {
        Ok(true) => return Ok(true),
        Ok(false) => NOT_A_MODERATOR,
        Err(error) => {
            tracing::error!(%error, "could not read guild settings for a moderator check");
            ROLE_UNREADABLE
        }
    };
    ctx.send(ephemeral_text(refusal)).await?;
    Ok(false)
}

/// `/coe-admin`'s check; it acknowledges first because every admin
/// subcommand reads or writes the guild's settings.
pub async fn admins_only(ctx: Context<'_>) -> Result<bool, Error> {
    ctx.defer_ephemeral().await?;
    if is_admin(ctx).await {
        return Ok(true);
    }
    ctx.send(ephemeral_text(NOT_AN_ADMIN)).await?;
    Ok(false)
}

/// Manage Messages (or Administrator), or the guild's moderator role.
async fn is_moderator(ctx: Context<'_>) -> Result<bool, StoreError> {
    let Some(guild_id) = ctx.guild_id() else {
        return Ok(false);
    };
    let Some(member) = ctx.author_member().await else {
        return Ok(false);
    };
    holds(ctx.data(), guild_id, &member, |s| {
        [s.moderator_role_id, None]
    })
    .await
}

/// Who may ask for drafts and feedback: moderators (as for `/coe-mod`) and
/// members with the guild's supporter role.
pub async fn may_assist(
    data: &Data,
    guild_id: GuildId,
    member: &Member,
) -> Result<bool, StoreError> {
    holds(data, guild_id, member, |s| {
        [s.moderator_role_id, s.supporter_role_id]
    })
    .await
}

/// Manage Messages (or Administrator), or one of the roles `roles` picks
/// from the guild's settings (read only when the permissions do not do).
async fn holds(
    data: &Data,
    guild_id: GuildId,
    member: &Member,
    roles: impl Fn(&GuildSettings) -> [Option<u64>; 2],
) -> Result<bool, StoreError> {
    let permissions = member.permissions.unwrap_or_else(Permissions::empty);
    if permissions.intersects(Permissions::MANAGE_MESSAGES | Permissions::ADMINISTRATOR) {
        return Ok(true);
    }
    let settings = data.pipeline.store().guild_settings(guild_id.get()).await?;
    Ok(roles(&settings)
        .into_iter()
        .flatten()
        .any(|role| member.roles.contains(&RoleId::new(role))))
}

/// Manage Server (or Administrator).
async fn is_admin(ctx: Context<'_>) -> bool {
    if ctx.guild_id().is_none() {
        return false;
    }
    let Some(member) = ctx.author_member().await else {
        return false;
    };
    member
        .permissions
        .unwrap_or_else(Permissions::empty)
        .intersects(Permissions::MANAGE_GUILD | Permissions::ADMINISTRATOR)
}
