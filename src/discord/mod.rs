//! The Discord front door: poise commands, the support-channel handler and
//! moderator tools. It maps Discord events onto the shared pipeline and
//! never builds SQL itself.

mod alerts;
mod answer;
mod assist;
mod bot;
mod checks;
mod commands;
mod events;
mod in_flight;
mod incoming;
mod reply;
pub mod split;
mod threads;

pub use bot::{start, BotHandle};
pub use in_flight::InFlight;
pub use reply::{reply_chunks, FOOTER};

use crate::config::Config;
use crate::pipeline::Pipeline;
use std::sync::Arc;

pub type Error = anyhow::Error;
pub type Context<'a> = poise::Context<'a, Data, Error>;

/// Shared state of the running bot; cheap to clone.
#[derive(Clone)]
pub struct Data {
    pub pipeline: Pipeline,
    pub config: Arc<Config>,
    pub in_flight: InFlight,
    /// Message ids already answered, so a redelivered event is not answered twice.
    pub seen: Arc<in_flight::SeenMessages>,
    pub limiter: Arc<in_flight::MemberLimiter>,
    /// One crisis alert per member per period, so moderators are not flooded.
    pub alerts: Arc<in_flight::MemberLimiter>,
    /// The same for lower-urgency notices, counted apart, so a notice never
    /// uses up the cooldown a crisis alert needs.
    pub notices: Arc<in_flight::MemberLimiter>,
    /// One "slow down" notice per member per minute: answering every
    /// message of a flood would make the bot flood too.
    pub slow_down_notices: Arc<in_flight::MemberLimiter>,
}
