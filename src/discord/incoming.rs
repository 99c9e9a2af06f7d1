//! A member's message as every Discord front door hands it on: to the
//! pipeline and, when the gate saw risk, to the moderators' alert.

use crate::chain::{Therapy, Turn};
use crate::safety::risk::Risk;
use crate::store::Source;
use poise::serenity_prelude as serenity;
use serenity::{ChannelId, GuildId, MessageId};

/// A member's message from any front door, as the pipeline needs it.
pub struct Incoming<'a> {
    pub source: Source,
    pub guild_id: Option<GuildId>,
    pub channel_id: ChannelId,
    pub message_id: Option<MessageId>,
    pub author: u64,
    /// Chosen by the member (`/coe`); else the guild's default.
    pub therapy: Option<Therapy>,
    pub text: &'a str,
    pub history: &'a [Turn],
    /// The gate's verdict, judged once by the front door.
    pub risk: Risk,
    /// What the bot gave for it, as the moderators' alert tells it.
    pub handled: Handled,
}

/// What the bot gave for a message the gate saw risk in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// The member got the bot's answer (at risk: its fixed texts).
    Answered,
    /// A channel where people answer (supporter drafts only): the bot said
    /// nothing to the member.
    LeftToPeople,
    /// A supporter asked for help answering it and got safe-messaging
    /// guidance instead of a draft.
    SupporterGuided,
}
