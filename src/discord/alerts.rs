//! Private notes to a server's moderators when the gate sees risk: where to
//! look and how urgent it is, never what was written.

use super::in_flight::InFlightGuard;
use super::incoming::{Handled, Incoming};
use super::Data;
use crate::safety::risk::{Risk, Tier};
use crate::store::{GuildSettings, Source};
use poise::serenity_prelude as serenity;
use serenity::{ChannelId, CreateAllowedMentions, CreateMessage, GuildId, RoleId};

/// Sends the alert a tier calls for (crisis: urgent, pings the moderator
/// role; concern: a lower-urgency notice without a ping), in the
/// background, counted as work in flight so shutdown waits for it.
/// Returns whether the moderators are told: false with no alert channel or
/// below `concern`, true too when the per-member cooldown holds the alert
/// back (they were told of this member minutes ago).
pub fn alert_moderators(
    data: &Data,
    http: &std::sync::Arc<serenity::Http>,
    incoming: &Incoming<'_>,
    settings: &GuildSettings,
    risk: &Risk,
    working: &InFlightGuard,
) -> bool {
    let Some(channel) = settings.alert_channel_id else {
        return false;
    };
    if !risk.tier.shows_helplines() {
        return false;
    }
    let cooldown = if risk.tier == Tier::Crisis {
        &data.alerts
    } else {
        &data.notices
    };
    if !cooldown.allow(incoming.author) {
        tracing::info!("moderator alert suppressed by the per-member cooldown");
        return true;
    }
    let role = settings.moderator_role_id.map(RoleId::new);
    let alert = alert_message(incoming, risk, role);
    let http = http.clone();
    let working = working.also();
    // Spawned: the person at risk must not wait on the moderators' message.
    tokio::spawn(async move {
        if let Err(error) = ChannelId::new(channel).send_message(&http, alert).await {
            tracing::error!(%error, "could not send moderator alert");
        }
        drop(working);
    });
    true
}

fn alert_message(incoming: &Incoming<'_>, risk: &Risk, role: Option<RoleId>) -> CreateMessage {
    let guild = incoming.guild_id.map_or(0, GuildId::get);
    let link = match incoming.message_id {
        Some(message) => format!(
            "https://discord.com/channels/{guild}/{}/{message}",
            incoming.channel_id
        ),
        None => format!(
            "https://discord.com/channels/{guild}/{}",
            incoming.channel_id
        ),
    };
    let via = match (incoming.handled, incoming.source) {
        (Handled::SupporterGuided, _) => "a supporter's request for help answering it",
        (_, Source::Slash) => "/coe",
        _ => "a support channel",
    };
    let why = why(risk);
    let urgent = risk.tier == Tier::Crisis;
    let given = given(incoming.handled, urgent);
    let channel = incoming.channel_id;
    let (ping, text) = if urgent {
        (
            role.map(|r| format!("<@&{r}> ")).unwrap_or_default(),
            format!(
                "**Possible crisis ({})** in <#{channel}> via {via}: {link}\n\
                 {given} Please check in with care. ({why})",
                risk.kind.as_str(),
            ),
        )
    } else {
        (
            String::new(),
            format!(
                "Lower urgency: a member may be struggling, in <#{channel}> via {via}: {link}\n\
                 {given} A human check-in may help. ({why})"
            ),
        )
    };
    // Only the moderator role may be pinged, and only for a crisis.
    let allowed = CreateAllowedMentions::new().roles(if urgent { role } else { None });
    CreateMessage::new()
        .content(format!("{ping}{text}"))
        .allowed_mentions(allowed)
}

/// What the bot did with the message, in the alert's words.
fn given(handled: Handled, urgent: bool) -> &'static str {
    match (handled, urgent) {
        (Handled::Answered, true) => {
            "The member received the crisis reply with helplines; the bot will not improvise there."
        }
        (Handled::Answered, false) => {
            "The bot replied and asked gently about safety, with helplines."
        }
        (Handled::LeftToPeople, _) => {
            "People answer in this channel, so the bot said nothing to the member."
        }
        (Handled::SupporterGuided, _) => {
            "A supporter asked for help answering it; they got safe-messaging guidance and \
             helplines instead, and no AI text."
        }
    }
}

/// Which layer decided, and the classifier's score: the reasons, no text.
/// (Rule ids stay in the logs and `/coe-mod review`: a name such as
/// `self.kms` would read like the member's words in an alert.)
fn why(risk: &Risk) -> String {
    let layer = risk.layer.map_or("gate", |l| l.as_str());
    match risk.score {
        Some(score) => format!("decided by {layer}; classifier score {score:.2}"),
        None => format!("decided by {layer}"),
    }
}
