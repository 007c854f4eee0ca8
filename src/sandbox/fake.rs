//! The Discord stand-in as Attune uses it: everything of the `fake-discord` crate, plus what is
//! Attune's own and so lives here: the demo world ([`couple_demo`], [`demo_ids`]) and the
//! mentions policy the stand-in enforces on every message Attune creates ([`fake_options`]).
//!
//! Start the stand-in with [`fake_options`] rather than `FakeOptions::default()`, or the
//! mentions policy is not checked.

pub use fake_discord::*;

use serde_json::Value;

/// Fixed ids of [`couple_demo`], so tests and the demo can name them.
pub mod demo_ids {
    pub const BOT: u64 = 900_000_000_000_000_001;
    pub const APPLICATION: u64 = 900_000_000_000_000_001;
    pub const ALICE: u64 = 100_000_000_000_000_001;
    pub const BOB: u64 = 100_000_000_000_000_002;
    pub const CAROL: u64 = 100_000_000_000_000_003;
    pub const HELPERBOT: u64 = 100_000_000_000_000_004;
    pub const GUILD: u64 = 500_000_000_000_000_001;
    pub const CHANNEL_US: u64 = 600_000_000_000_000_001;
}

/// One guild with the channel "us"; alice and bob are the couple, carol is a member who is not
/// part of the couple, helperbot is some other bot in the guild.
pub fn couple_demo() -> World {
    use demo_ids::*;
    let user = |id, name: &str, bot| FakeUser {
        id,
        name: name.to_string(),
        bot,
    };
    World {
        bot: user(BOT, "Attune", true),
        application_id: APPLICATION,
        users: vec![
            user(ALICE, "alice", false),
            user(BOB, "bob", false),
            user(CAROL, "carol", false),
            user(HELPERBOT, "helperbot", true),
        ],
        guilds: vec![FakeGuild {
            id: GUILD,
            name: "Attune Demo".to_string(),
            channels: vec![FakeChannel {
                id: CHANNEL_US,
                name: "us".to_string(),
                // Set up as Attune asks: only the two of them (and the bot) see it.
                private: true,
            }],
            members: vec![ALICE, BOB, CAROL, HELPERBOT],
        }],
    }
}

/// The stand-in's defaults (the OpenAPI spec when it is found, Discord's 3 s deadline) with
/// Attune's mentions policy.
pub fn fake_options() -> FakeOptions {
    FakeOptions {
        message_policy: Some(MessagePolicy::new(mentions_policy)),
        ..FakeOptions::default()
    }
}

/// Attune must never ping @everyone/@here or roles. Without `allowed_mentions` Discord pings
/// every mention in the content, @everyone included, so every new message states its own.
fn mentions_policy(body: &Value) -> Vec<String> {
    let am = &body["allowed_mentions"];
    if !am.is_object() {
        return vec!["message created without allowed_mentions (mentions policy)".to_string()];
    }
    let mut problems: Vec<String> = am["parse"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| match p.as_str() {
            Some(s @ ("everyone" | "roles")) => Some(format!(
                "allowed_mentions.parse contains \"{s}\" (mentions policy)"
            )),
            _ => None,
        })
        .collect();
    if am["roles"].as_array().is_some_and(|r| !r.is_empty()) {
        problems.push("allowed_mentions.roles allows role pings (mentions policy)".to_string());
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_mentions_policy_flags_mass_pings() {
        let check = |v: Value| super::mentions_policy(&v);
        assert!(check(json!({"content": "hi", "allowed_mentions": {"parse": []}})).is_empty());
        assert!(
            check(json!({"allowed_mentions": {"parse": ["users"], "users": ["1"]}})).is_empty()
        );
        assert_eq!(
            check(json!({"content": "hi"})),
            ["message created without allowed_mentions (mentions policy)"]
        );
        assert_eq!(
            check(json!({"allowed_mentions": {"parse": ["everyone", "roles"], "roles": ["5"]}})),
            [
                "allowed_mentions.parse contains \"everyone\" (mentions policy)",
                "allowed_mentions.parse contains \"roles\" (mentions policy)",
                "allowed_mentions.roles allows role pings (mentions policy)",
            ]
        );
        assert!(fake_options().message_policy.is_some());
    }
}
