//! Shared helpers for the end-to-end tests.
//!
//! Every test binary includes this module with `mod support;` and uses only part of it, so dead
//! code is expected here.
#![allow(dead_code)]

pub mod bot;
pub mod child;
mod expect;
pub mod fake_discord;
mod gateway;
mod models;
mod multipart;
pub mod payloads;
mod rest;
mod rest_channels;
mod rest_interactions;
mod state;

// Convenience paths; each test binary uses a different subset of them.
#[allow(unused_imports)]
pub use fake_discord::{ChannelKind, ChannelSpec, FakeDiscord, RecordedRequest};
#[allow(unused_imports)]
pub use payloads::{
    component_click, slash_command, subcommand_options, user_message, webhook_message, Caller,
};
