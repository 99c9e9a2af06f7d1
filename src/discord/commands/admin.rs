//! `/coe-admin`: per-guild settings, stored in SQLite and applied at once.
//! The parent's check admits admins only and acknowledges the command
//! before any subcommand touches the database; every answer is private
//! (`ephemeral` on each subcommand, which is where poise reads it).

use super::coe::TherapyChoice;
use super::guild;
use crate::chain::Therapy;
use crate::discord::checks::admins_only;
use crate::discord::{Context, Error};
use crate::safety::helplines::known_regions;
use crate::store::{ChannelMode, GuildSetting};
use poise::serenity_prelude as serenity;

/// Configure the companion for this server (admins).
#[poise::command(
    slash_command,
    rename = "coe-admin",
    guild_only,
    default_member_permissions = "MANAGE_GUILD",
    check = "admins_only",
    subcommands("channel", "therapy", "alerts", "role", "supporter_role", "region"),
    subcommand_required
)]
pub async fn coe_admin(_ctx: Context<'_>) -> Result<(), Error> {
    Ok(())
}

/// Support channels: where plain messages get a reply in a thread.
#[poise::command(
    slash_command,
    subcommands("channel_add", "channel_remove", "channel_list", "channel_mode"),
    subcommand_required
)]
async fn channel(_ctx: Context<'_>) -> Result<(), Error> {
    Ok(())
}

/// Make a channel a support channel.
#[poise::command(slash_command, ephemeral, rename = "add")]
async fn channel_add(
    ctx: Context<'_>,
    #[description = "The channel"]
    #[channel_types("Text")]
    channel: serenity::GuildChannel,
) -> Result<(), Error> {
    let guild = guild(ctx);
    let added = ctx
        .data()
        .pipeline
        .store()
        .add_support_channel(guild, channel.id.get())
        .await?;
    let text = if added {
        format!(
            "<#{}> is now a support channel: plain messages there get a reply in a thread.",
            channel.id
        )
    } else {
        format!("<#{}> was already a support channel.", channel.id)
    };
    ctx.say(text).await?;
    Ok(())
}

/// Stop answering plain messages in a channel.
#[poise::command(slash_command, ephemeral, rename = "remove")]
async fn channel_remove(
    ctx: Context<'_>,
    #[description = "The channel"] channel: serenity::GuildChannel,
) -> Result<(), Error> {
    let guild = guild(ctx);
    let removed = ctx
        .data()
        .pipeline
        .store()
        .remove_support_channel(guild, channel.id.get())
        .await?;
    let text = if removed {
        format!("<#{}> is no longer a support channel.", channel.id)
    } else {
        format!("<#{}> was not a support channel.", channel.id)
    };
    ctx.say(text).await?;
    Ok(())
}

/// List the support channels.
#[poise::command(slash_command, ephemeral, rename = "list")]
async fn channel_list(ctx: Context<'_>) -> Result<(), Error> {
    let guild = guild(ctx);
    let store = ctx.data().pipeline.store();
    let channels = store.support_channel_modes(guild).await?;
    let text = if channels.is_empty() {
        "No support channels yet. Add one with `/coe-admin channel add`.".to_string()
    } else {
        let list: Vec<String> = channels
            .iter()
            .map(|(channel, mode)| format!("<#{channel}> ({})", mode_text(*mode)))
            .collect();
        format!("Support channels: {}", list.join(", "))
    };
    ctx.say(text).await?;
    Ok(())
}

/// How a support channel is answered, as admins choose it.
#[derive(Debug, Clone, Copy, poise::ChoiceParameter)]
enum ModeChoice {
    #[name = "Public bot replies"]
    Public,
    #[name = "Supporter drafts only"]
    Drafts,
    #[name = "Both"]
    Both,
}

/// Public bot replies, supporter drafts only, or both, in a support channel.
#[poise::command(slash_command, ephemeral, rename = "mode")]
async fn channel_mode(
    ctx: Context<'_>,
    #[description = "The channel (it becomes a support channel if it is not one)"]
    #[channel_types("Text")]
    channel: serenity::GuildChannel,
    #[description = "How the channel is answered"] mode: ModeChoice,
) -> Result<(), Error> {
    let mode = match mode {
        ModeChoice::Public => ChannelMode::Public,
        ModeChoice::Drafts => ChannelMode::Drafts,
        ModeChoice::Both => ChannelMode::Both,
    };
    ctx.data()
        .pipeline
        .store()
        .set_channel_mode(guild(ctx), channel.id.get(), mode)
        .await?;
    ctx.say(format!("<#{}>: {}.", channel.id, mode_text(mode)))
        .await?;
    Ok(())
}

fn mode_text(mode: ChannelMode) -> &'static str {
    match mode {
        ChannelMode::Public => "public bot replies",
        ChannelMode::Drafts => {
            "supporter drafts only; the bot answers a crisis with its fixed reply and tells moderators of a concern"
        }
        ChannelMode::Both => "public bot replies and supporter drafts",
    }
}

/// The therapy used for support-channel messages.
#[poise::command(slash_command, ephemeral)]
async fn therapy(
    ctx: Context<'_>,
    #[description = "Default therapy"] therapy: TherapyChoice,
) -> Result<(), Error> {
    let guild = guild(ctx);
    let therapy = Therapy::from(therapy);
    let setting = GuildSetting::DefaultTherapy(therapy);
    ctx.data()
        .pipeline
        .store()
        .update_guild_setting(guild, &setting)
        .await?;
    ctx.say(format!(
        "Default therapy is now **{}** ({}).",
        therapy.as_str(),
        therapy.description()
    ))
    .await?;
    Ok(())
}

/// Where crisis alerts go (leave empty to turn alerts off).
#[poise::command(slash_command, ephemeral)]
async fn alerts(
    ctx: Context<'_>,
    #[description = "A private moderators' channel"]
    #[channel_types("Text")]
    channel: Option<serenity::GuildChannel>,
) -> Result<(), Error> {
    let guild = guild(ctx);
    let id = channel.as_ref().map(|c| c.id.get());
    let store = ctx.data().pipeline.store();
    store
        .update_guild_setting(guild, &GuildSetting::AlertChannel(id))
        .await?;
    let text = match id {
        Some(id) => {
            format!("Crisis alerts will go to <#{id}>. Make sure only moderators can read it.")
        }
        None => "Crisis alerts are off.".to_string(),
    };
    ctx.say(text).await?;
    Ok(())
}

/// The moderator role: may use /coe-mod and is pinged by crisis alerts.
#[poise::command(slash_command, ephemeral)]
async fn role(
    ctx: Context<'_>,
    #[description = "Moderator role (leave empty for Manage Messages only)"] role: Option<
        serenity::Role,
    >,
) -> Result<(), Error> {
    let guild = guild(ctx);
    let id = role.as_ref().map(|r| r.id.get());
    let store = ctx.data().pipeline.store();
    store
        .update_guild_setting(guild, &GuildSetting::ModeratorRole(id))
        .await?;
    let text = match id {
        Some(id) => format!(
            "Members with <@&{id}> can now use /coe-mod. Discord may still hide the command from them: \
             allow it under Server Settings → Integrations → coe-bot."
        ),
        None => "Only members with Manage Messages can use /coe-mod.".to_string(),
    };
    ctx.say(text).await?;
    Ok(())
}

/// Who may ask for drafts and feedback (moderators always may).
#[poise::command(slash_command, ephemeral, rename = "supporter-role")]
async fn supporter_role(
    ctx: Context<'_>,
    #[description = "Supporter role (leave empty for moderators only)"] role: Option<
        serenity::Role,
    >,
) -> Result<(), Error> {
    let id = role.as_ref().map(|r| r.id.get());
    ctx.data()
        .pipeline
        .store()
        .update_guild_setting(guild(ctx), &GuildSetting::SupporterRole(id))
        .await?;
    let text = match id {
        Some(id) => format!(
            "Members with <@&{id}> can now ask for drafts (Apps → Draft a supportive reply) and \
             feedback on their replies. Drafts work in support channels whose mode allows them \
             (`/coe-admin channel mode`)."
        ),
        None => "Only moderators can ask for drafts and feedback now.".to_string(),
    };
    ctx.say(text).await?;
    Ok(())
}

/// The region whose helplines crisis replies list.
#[poise::command(slash_command, ephemeral)]
async fn region(
    ctx: Context<'_>,
    #[description = "Region code, e.g. us, uk, ie (anything else: international directory)"]
    #[max_length = 8]
    code: String,
) -> Result<(), Error> {
    let guild = guild(ctx);
    let code = code.trim().to_ascii_lowercase();
    let store = ctx.data().pipeline.store();
    store
        .update_guild_setting(guild, &GuildSetting::HelplineRegion(code.clone()))
        .await?;
    let known = known_regions();
    let text = if known.contains(&code.as_str()) {
        format!("Crisis replies will list helplines for **{code}**.")
    } else {
        format!(
            "No helplines are on file for '{code}', so crisis replies will point to the international directory (findahelpline.com). Known regions: {}.",
            known.join(", ")
        )
    };
    ctx.say(text).await?;
    Ok(())
}
