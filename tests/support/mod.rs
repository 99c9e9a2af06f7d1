//! Shared helpers for the end-to-end tests.
//!
//! Every test binary includes this module with `mod support;` and uses only part of it, so dead
//! code is expected here.
#![allow(dead_code)]

pub mod assist;
pub mod bot;
pub mod child;
mod database;
mod expect;
pub mod fake_discord;
mod gateway;
pub mod limits;
pub mod logs;
mod models;
pub mod moderation;
mod multipart;
pub mod payloads;
mod people;
mod rest;
mod rest_channels;
mod rest_interactions;
mod state;

// Convenience paths; each test binary uses a different subset of them.
#[allow(unused_imports)]
pub use fake_discord::{ChannelKind, ChannelSpec, FakeDiscord, RecordedRequest};
#[allow(unused_imports)]
pub use payloads::{
    component_click, message_command, slash_command, subcommand_options, user_message,
    webhook_message, Caller,
};
