//! The guild, channels and people of the end-to-end tests (re-exported by `support::bot`).

use super::payloads::Caller;

pub const GUILD: u64 = 4_000;
pub const OTHER_GUILD: u64 = 4_001;
/// A support channel of `GUILD` (seeded through `COE_SUPPORT_CHANNELS`).
pub const SUPPORT: u64 = 5_000;
/// An ordinary channel of `GUILD`, where slash commands are used.
pub const GENERAL: u64 = 5_001;
/// A private moderators' channel of `GUILD`, for crisis alerts.
pub const ALERTS: u64 = 5_002;
/// Text channels of `GUILD` that are not support channels at start.
pub const SPARE: u64 = 5_003;
pub const SPARE_2: u64 = 5_004;
pub const OTHER_GENERAL: u64 = 5_101;
pub const MANAGE_GUILD: u64 = 1 << 5;
pub const MODERATOR_ROLE: u64 = 4_100;

pub fn alice() -> Caller {
    Caller::member(6_001, "alice")
}

pub fn bob() -> Caller {
    Caller::member(6_002, "bob")
}

pub fn moderator() -> Caller {
    Caller::moderator(6_003, "mod", MODERATOR_ROLE)
}

pub fn admin() -> Caller {
    Caller {
        permissions: MANAGE_GUILD,
        roles: vec![4_200],
        ..Caller::member(6_004, "admin")
    }
}
