//! Who may use the moderator and admin commands. Discord hides them with
//! default member permissions; these run-time checks hold even where a
//! server changed those defaults.

use super::Context;
use poise::serenity_prelude::{Permissions, RoleId};

/// Manage Messages (or Administrator), or the guild's moderator role.
pub async fn is_moderator(ctx: Context<'_>) -> bool {
    let Some(guild_id) = ctx.guild_id() else {
        return false;
    };
    let Some(member) = ctx.author_member().await else {
        return false;
    };
    let permissions = member.permissions.unwrap_or_else(Permissions::empty);
    if permissions.intersects(Permissions::MANAGE_MESSAGES | Permissions::ADMINISTRATOR) {
        return true;
    }
    let role = match ctx
        .data()
        .pipeline
        .store()
        .guild_settings(guild_id.get())
        .await
    {
        Ok(settings) => settings.moderator_role_id,
        Err(error) => {
            tracing::error!(%error, "could not read guild settings for a moderator check");
            None
        }
    };
    role.is_some_and(|role| member.roles.contains(&RoleId::new(role)))
}

/// Manage Server (or Administrator).
pub async fn is_admin(ctx: Context<'_>) -> bool {
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
