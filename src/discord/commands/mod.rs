//! Slash commands, one file per family.

mod admin;
mod coe;
mod moderation;
mod privacy;

use super::{Data, Error};

pub fn all() -> Vec<poise::Command<Data, Error>> {
    vec![
        coe::coe(),
        moderation::coe_mod(),
        admin::coe_admin(),
        privacy::coe_privacy(),
    ]
}
