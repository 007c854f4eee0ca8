//! The user-level API: what a person in a Discord client can do (run a slash command, click a
//! button they can see, fill in a modal), delivered to the bot as INTERACTION_CREATE, and the
//! bot's answer as the person would perceive it ([`Reply`]).

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use serde_json::{json, Map, Value};

use super::{payloads, FakeDiscord, FakeMessage, InteractionRec, FOLLOWUP_WINDOW};

/// The bot's answer to one interaction.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A new message (type 4, or a deferred response completed by a followup or edit);
    /// `ephemeral_for` tells who sees it.
    Message(FakeMessage),
    /// The component's message after an update (type 7, or type 6 followed by an edit).
    Updated(FakeMessage),
    /// A modal opened for the user (type 9).
    Modal(ModalView),
    /// Autocomplete choices (type 8): (name, value).
    Choices(Vec<(String, Value)>),
}

impl Reply {
    /// The message this reply produced or updated (both [`Reply::Message`] and
    /// [`Reply::Updated`]).
    pub fn message(&self) -> anyhow::Result<&FakeMessage> {
        match self {
            Reply::Message(m) | Reply::Updated(m) => Ok(m),
            other => bail!("expected a message reply, got {}", other.kind()),
        }
    }

    /// The new message; an error for updates, modals and choices.
    pub fn new_message(&self) -> anyhow::Result<&FakeMessage> {
        match self {
            Reply::Message(m) => Ok(m),
            other => bail!("expected a new message, got {}", other.kind()),
        }
    }

    /// The updated component message; an error for anything else.
    pub fn updated(&self) -> anyhow::Result<&FakeMessage> {
        match self {
            Reply::Updated(m) => Ok(m),
            other => bail!(
                "expected an update of the component's message, got {}",
                other.kind()
            ),
        }
    }

    pub fn modal(&self) -> anyhow::Result<&ModalView> {
        match self {
            Reply::Modal(m) => Ok(m),
            other => bail!("expected a modal, got {}", other.kind()),
        }
    }

    pub fn choices(&self) -> anyhow::Result<&[(String, Value)]> {
        match self {
            Reply::Choices(c) => Ok(c),
            other => bail!("expected autocomplete choices, got {}", other.kind()),
        }
    }

    /// Readable text of the reply: message content plus embed text, the modal title, or the
    /// choice names.
    pub fn text(&self) -> String {
        match self {
            Reply::Message(m) | Reply::Updated(m) => m.text(),
            Reply::Modal(m) => m.title.clone(),
            Reply::Choices(c) => c
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    pub fn is_ephemeral(&self) -> bool {
        matches!(self, Reply::Message(m) | Reply::Updated(m) if m.ephemeral_for.is_some())
    }

    fn kind(&self) -> String {
        match self {
            Reply::Message(m) => format!("a new message {:?}", m.content),
            Reply::Updated(m) => format!("an update of message {:?}", m.content),
            Reply::Modal(m) => format!("a modal {:?}", m.title),
            Reply::Choices(c) => format!("{} autocomplete choices", c.len()),
        }
    }
}

/// A modal as the user sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct ModalView {
    pub custom_id: String,
    pub title: String,
    pub inputs: Vec<ModalInput>,
    /// Where the modal was opened; the submit happens there.
    pub channel_id: u64,
    /// The message whose component opened the modal, if any.
    pub message_id: Option<u64>,
    /// The interaction whose callback opened the modal.
    pub interaction_id: u64,
}

/// One text input of a modal.
#[derive(Clone, Debug, PartialEq)]
pub struct ModalInput {
    pub custom_id: String,
    pub label: String,
    /// 1 short, 2 paragraph.
    pub style: u8,
    pub required: bool,
    pub min_length: Option<u32>,
    pub max_length: Option<u32>,
    /// The pre-filled value.
    pub value: Option<String>,
    pub placeholder: Option<String>,
}

impl ModalView {
    pub fn input(&self, custom_id: &str) -> Option<&ModalInput> {
        self.inputs.iter().find(|i| i.custom_id == custom_id)
    }
}

pub(super) fn modal_from_callback(
    data: &Value,
    interaction_id: u64,
    channel_id: u64,
    message_id: Option<u64>,
) -> ModalView {
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    let n = |v: &Value| v.as_u64().map(|x| x as u32);
    let inputs = data["components"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
        .filter(|c| c["type"].as_u64() == Some(4))
        .map(|c| ModalInput {
            custom_id: s(&c["custom_id"]),
            label: s(&c["label"]),
            style: c["style"].as_u64().unwrap_or(1) as u8,
            // Discord treats a text input as required unless told otherwise.
            required: c["required"].as_bool().unwrap_or(true),
            min_length: n(&c["min_length"]),
            max_length: n(&c["max_length"]),
            value: c["value"].as_str().map(str::to_string),
            placeholder: c["placeholder"].as_str().map(str::to_string),
        })
        .collect();
    ModalView {
        custom_id: s(&data["custom_id"]),
        title: s(&data["title"]),
        inputs,
        channel_id,
        message_id,
        interaction_id,
    }
}

/// A user-supplied option value converted to the type the command registered.
fn typed_value(kind: u64, name: &str, v: &Value) -> anyhow::Result<Value> {
    let as_id = || -> anyhow::Result<u64> {
        v.as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .ok_or_else(|| anyhow!("option {name}: expected an id, got {v}"))
    };
    Ok(match kind {
        3 => Value::String(
            v.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string()),
        ),
        4 => {
            let i = v
                .as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .ok_or_else(|| anyhow!("option {name}: expected an integer, got {v}"))?;
            json!(i)
        }
        5 => json!(v
            .as_bool()
            .ok_or_else(|| anyhow!("option {name}: expected a boolean, got {v}"))?),
        6..=9 => json!(as_id()?.to_string()),
        10 => json!(v
            .as_f64()
            .ok_or_else(|| anyhow!("option {name}: expected a number, got {v}"))?),
        _ => v.clone(),
    })
}

/// One interaction about to be sent.
struct NewInteraction<'a> {
    kind: u8,
    user: u64,
    channel: u64,
    /// The message whose component was used (types 3 and 5).
    source: Option<u64>,
    data: Value,
    what: &'a str,
    /// For modal submits: metadata of the interaction that opened the modal.
    trigger: Option<Value>,
}

impl<'a> NewInteraction<'a> {
    fn new(
        kind: u8,
        user: u64,
        channel: u64,
        source: Option<u64>,
        data: Value,
        what: &'a str,
    ) -> NewInteraction<'a> {
        NewInteraction {
            kind,
            user,
            channel,
            source,
            data,
            what,
            trigger: None,
        }
    }
}

struct CommandData {
    data: Value,
    description: String,
}

impl FakeDiscord {
    fn find_command(&self, channel: u64, name: &str) -> Option<(u64, Value)> {
        let guild = self.world_index().guild_of_channel(channel).map(|g| g.id);
        let st = self.state();
        let by_scope = |scope: Option<u64>| {
            st.commands.iter().find(|c| {
                c.guild_id == scope
                    && c.body["name"].as_str() == Some(name)
                    && c.body["type"].as_u64().unwrap_or(1) == 1
            })
        };
        guild
            .and_then(|g| by_scope(Some(g)))
            .or_else(|| by_scope(None))
            .map(|c| (c.id, c.body.clone()))
    }

    fn command_data(
        &self,
        channel: u64,
        path: &str,
        options: Vec<(&str, Value)>,
        focused: Option<&str>,
    ) -> anyhow::Result<CommandData> {
        let parts: Vec<&str> = path.split_whitespace().collect();
        let Some((&name, subpath)) = parts.split_first() else {
            bail!("empty command path");
        };
        let (cmd_id, cmd) = self
            .find_command(channel, name)
            .ok_or_else(|| anyhow!("/{name} is not registered (for channel {channel})"))?;
        let mut defs = cmd["options"].as_array().cloned().unwrap_or_default();
        let mut chain: Vec<(String, u64)> = Vec::new();
        for &part in subpath {
            let def = defs
                .iter()
                .find(|d| {
                    d["name"].as_str() == Some(part) && matches!(d["type"].as_u64(), Some(1 | 2))
                })
                .cloned()
                .ok_or_else(|| anyhow!("/{path}: \"{part}\" is not a registered subcommand"))?;
            chain.push((part.to_string(), def["type"].as_u64().unwrap_or(1)));
            defs = def["options"].as_array().cloned().unwrap_or_default();
        }
        if defs
            .iter()
            .any(|d| matches!(d["type"].as_u64(), Some(1 | 2)))
        {
            bail!("/{path} needs a subcommand");
        }
        let mut leaf = Vec::new();
        let mut users = Map::new();
        let mut members = Map::new();
        let mut channels = Map::new();
        let guild = self.world_index().guild_of_channel(channel).map(|g| g.id);
        for (oname, value) in &options {
            let def = defs
                .iter()
                .find(|d| d["name"].as_str() == Some(oname))
                .ok_or_else(|| anyhow!("/{path} has no option \"{oname}\""))?;
            let kind = def["type"].as_u64().unwrap_or(3);
            let is_focused = focused == Some(*oname);
            let mut opt = json!({"name": oname, "type": kind});
            if is_focused {
                // Discord sends the partially typed text of the focused option as a string.
                let text = value
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| value.to_string());
                opt["value"] = json!(text);
                opt["focused"] = json!(true);
            } else {
                let typed = typed_value(kind, oname, value)?;
                if kind == 3 || kind == 4 || kind == 10 {
                    if let Some(choices) = def["choices"].as_array().filter(|c| !c.is_empty()) {
                        if !choices.iter().any(|c| {
                            c["value"] == typed
                                || c["value"].as_f64() == typed.as_f64() && typed.is_number()
                        }) {
                            bail!("/{path} option {oname}: {typed} is not one of its choices");
                        }
                    }
                }
                let id: Option<u64> = typed.as_str().and_then(|s| s.parse().ok());
                match (kind, id) {
                    (6, Some(uid)) => {
                        let u = self.world_index().user_or_stub(uid);
                        users.insert(uid.to_string(), payloads::user(&u));
                        let in_guild = guild
                            .and_then(|g| self.world_index().guild(g))
                            .is_some_and(|g| g.members.contains(&uid));
                        if in_guild {
                            members.insert(uid.to_string(), payloads::member(&u, false));
                        }
                    }
                    (7, Some(cid)) => {
                        let w = self.world_index();
                        let c = match (w.guild_of_channel(cid), w.channel(cid)) {
                            (Some(g), Some(c)) => {
                                let perms = payloads::EVERYONE_PERMISSIONS.to_string();
                                json!({"id": cid.to_string(), "type": 0, "name": c.name,
                                       "guild_id": g.id.to_string(), "permissions": perms})
                            }
                            _ => json!({"id": cid.to_string(), "type": 1, "permissions": "0"}),
                        };
                        channels.insert(cid.to_string(), c);
                    }
                    _ => {}
                }
                opt["value"] = typed;
            }
            leaf.push(opt);
        }
        if focused.is_none() {
            for d in &defs {
                let dn = d["name"].as_str().unwrap_or("");
                if d["required"].as_bool() == Some(true) && !options.iter().any(|(n, _)| *n == dn) {
                    bail!(
                        "/{path}: required option \"{dn}\" missing (a client would not send this)"
                    );
                }
            }
        }
        let mut nested = Value::Array(leaf);
        for (part, kind) in chain.iter().rev() {
            nested = json!([{"name": part, "type": kind, "options": nested}]);
        }
        let mut data =
            json!({"id": cmd_id.to_string(), "name": name, "type": 1, "options": nested});
        let mut resolved = Map::new();
        if !users.is_empty() {
            resolved.insert("users".into(), Value::Object(users));
        }
        if !members.is_empty() {
            resolved.insert("members".into(), Value::Object(members));
        }
        if !channels.is_empty() {
            resolved.insert("channels".into(), Value::Object(channels));
        }
        if !resolved.is_empty() {
            data["resolved"] = Value::Object(resolved);
        }
        if let Some(gid) = self
            .state()
            .commands
            .iter()
            .find(|c| c.id == cmd_id)
            .and_then(|c| c.guild_id)
        {
            data["guild_id"] = json!(gid.to_string());
        }
        Ok(CommandData {
            data,
            description: format!("/{path}"),
        })
    }

    /// Runs a registered slash command ("checkin", "attune setup") as `user` in `channel`.
    /// A channel that belongs to no guild is a DM.
    pub async fn run_command(
        &self,
        user: u64,
        channel: u64,
        path: &str,
        options: Vec<(&str, Value)>,
    ) -> anyhow::Result<Reply> {
        self.check_member(user, channel)?;
        let cd = self.command_data(channel, path, options, None)?;
        let iid = self.send_interaction(NewInteraction::new(
            2,
            user,
            channel,
            None,
            cd.data,
            &cd.description,
        ))?;
        self.await_reply(iid, &cd.description, user).await
    }

    /// Types into the option `focused` of a slash command and returns the offered choices.
    pub async fn autocomplete(
        &self,
        user: u64,
        channel: u64,
        path: &str,
        options: Vec<(&str, Value)>,
        focused: &str,
    ) -> anyhow::Result<Vec<(String, Value)>> {
        if !options.iter().any(|(n, _)| *n == focused) {
            bail!("autocomplete: the focused option \"{focused}\" must be among the options");
        }
        self.check_member(user, channel)?;
        let cd = self.command_data(channel, path, options, Some(focused))?;
        let what = format!("autocomplete of {} ({focused})", cd.description);
        let iid =
            self.send_interaction(NewInteraction::new(4, user, channel, None, cd.data, &what))?;
        match self.await_reply(iid, &what, user).await? {
            Reply::Choices(c) => Ok(c),
            other => bail!("{what}: expected choices, got {}", other.kind()),
        }
    }

    /// A client only offers commands in channels of guilds the user is in.
    fn check_member(&self, user: u64, channel: u64) -> anyhow::Result<()> {
        let w = self.world_index();
        match w.guild_of_channel(channel) {
            Some(g) if !g.members.contains(&user) => bail!(
                "{} is not a member of guild {} and cannot use channel {channel}",
                w.display_name(user),
                g.name
            ),
            _ => Ok(()),
        }
    }

    /// The message if `user` can see it: not deleted, public or their own ephemeral, in a
    /// channel they are in.
    fn visible_message(&self, user: u64, message_id: u64) -> anyhow::Result<FakeMessage> {
        let msg = {
            let st = self.state();
            let m = st
                .messages
                .get(&message_id)
                .filter(|m| !m.deleted && !m.loading)
                .ok_or_else(|| anyhow!("message {message_id} does not exist"))?;
            m.msg.clone()
        };
        if msg.ephemeral_for.is_some_and(|u| u != user) {
            bail!(
                "message {message_id} is ephemeral for {}, {} cannot see it",
                self.world_index()
                    .display_name(msg.ephemeral_for.unwrap_or(0)),
                self.world_index().display_name(user)
            );
        }
        if let Some(g) = self.world_index().guild_of_channel(msg.channel_id) {
            if !g.members.contains(&user) {
                bail!(
                    "{} is not a member of the guild of message {message_id}",
                    self.world_index().display_name(user)
                );
            }
        }
        Ok(msg)
    }

    /// Clicks an enabled button that `user` can see.
    pub async fn click_button(
        &self,
        user: u64,
        message_id: u64,
        custom_id: &str,
    ) -> anyhow::Result<Reply> {
        let msg = self.visible_message(user, message_id)?;
        let button = msg
            .buttons()
            .into_iter()
            .find(|b| b.custom_id.as_deref() == Some(custom_id))
            .ok_or_else(|| {
                anyhow!("message {message_id} has no button with custom_id {custom_id:?}")
            })?;
        if button.disabled {
            bail!(
                "button {:?} ({custom_id}) on message {message_id} is disabled",
                button.label
            );
        }
        self.click_raw(user, message_id, custom_id).await
    }

    /// Sends a button click whether or not the button exists (forged custom_id tests).
    pub async fn click_raw(
        &self,
        user: u64,
        message_id: u64,
        custom_id: &str,
    ) -> anyhow::Result<Reply> {
        let data = json!({"custom_id": custom_id, "component_type": 2});
        self.component_interaction(user, message_id, data, &format!("click on {custom_id:?}"))
            .await
    }

    /// Picks `values` in a string select that `user` can see.
    pub async fn select(
        &self,
        user: u64,
        message_id: u64,
        custom_id: &str,
        values: Vec<String>,
    ) -> anyhow::Result<Reply> {
        let msg = self.visible_message(user, message_id)?;
        let select = msg
            .selects()
            .into_iter()
            .find(|s| s.custom_id == custom_id)
            .ok_or_else(|| {
                anyhow!("message {message_id} has no select with custom_id {custom_id:?}")
            })?;
        if select.disabled {
            bail!("select {custom_id:?} on message {message_id} is disabled");
        }
        if select.kind == 3 {
            for v in &values {
                if !select.options.iter().any(|o| &o.value == v) {
                    bail!("select {custom_id:?} has no option with value {v:?}");
                }
            }
        }
        let (min, max) = (
            select.min_values.unwrap_or(1),
            select.max_values.unwrap_or(1),
        );
        if (values.len() as u64) < min || (values.len() as u64) > max {
            bail!(
                "select {custom_id:?} takes {min}-{max} values, got {}",
                values.len()
            );
        }
        self.select_raw(user, message_id, custom_id, select.kind, values)
            .await
    }

    /// Sends a select interaction without checking the select exists.
    pub async fn select_raw(
        &self,
        user: u64,
        message_id: u64,
        custom_id: &str,
        component_type: u8,
        values: Vec<String>,
    ) -> anyhow::Result<Reply> {
        let data =
            json!({"custom_id": custom_id, "component_type": component_type, "values": values});
        self.component_interaction(user, message_id, data, &format!("select {custom_id:?}"))
            .await
    }

    async fn component_interaction(
        &self,
        user: u64,
        message_id: u64,
        data: Value,
        what: &str,
    ) -> anyhow::Result<Reply> {
        let channel = self
            .state()
            .messages
            .get(&message_id)
            .map(|m| m.msg.channel_id)
            .ok_or_else(|| anyhow!("{what}: message {message_id} does not exist"))?;
        let what = format!("{what} on message {message_id}");
        let iid = self.send_interaction(NewInteraction::new(
            3,
            user,
            channel,
            Some(message_id),
            data,
            &what,
        ))?;
        self.await_reply(iid, &what, user).await
    }

    /// Fills in and submits a modal like a client would: unknown inputs, missing required
    /// values and length violations are refused (Err) instead of being sent.
    pub async fn submit_modal(
        &self,
        user: u64,
        modal: &ModalView,
        values: Vec<(&str, &str)>,
    ) -> anyhow::Result<Reply> {
        for (id, _) in &values {
            if modal.input(id).is_none() {
                bail!("modal {:?} has no input {id:?}", modal.custom_id);
            }
        }
        let mut filled = Vec::new();
        for input in &modal.inputs {
            let value = values
                .iter()
                .find(|(id, _)| *id == input.custom_id)
                .map(|(_, v)| v.to_string())
                .or_else(|| input.value.clone())
                .unwrap_or_default();
            let n = value.chars().count() as u32;
            if input.required && n == 0 {
                bail!(
                    "modal input {:?} ({}) is required",
                    input.custom_id,
                    input.label
                );
            }
            if n > 0 {
                if let Some(min) = input.min_length.filter(|&m| n < m) {
                    bail!(
                        "modal input {:?}: {n} chars, needs at least {min}",
                        input.custom_id
                    );
                }
            }
            if let Some(max) = input.max_length.filter(|&m| n > m) {
                bail!(
                    "modal input {:?}: {n} chars, allows at most {max}",
                    input.custom_id
                );
            }
            if n > 4000 {
                bail!(
                    "modal input {:?}: {n} chars, a client allows at most 4000",
                    input.custom_id
                );
            }
            filled.push((input.custom_id.clone(), value));
        }
        self.submit_modal_filled(user, modal, filled).await
    }

    /// Submits exactly these values without any client-side checks.
    pub async fn submit_modal_raw(
        &self,
        user: u64,
        modal: &ModalView,
        values: Vec<(&str, &str)>,
    ) -> anyhow::Result<Reply> {
        let filled = values
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.submit_modal_filled(user, modal, filled).await
    }

    async fn submit_modal_filled(
        &self,
        user: u64,
        modal: &ModalView,
        filled: Vec<(String, String)>,
    ) -> anyhow::Result<Reply> {
        let rows: Vec<Value> = filled
            .into_iter()
            .map(|(id, value)| {
                json!({"type": 1, "components": [{"type": 4, "custom_id": id, "value": value}]})
            })
            .collect();
        let data = json!({"custom_id": modal.custom_id, "components": rows});
        let what = format!("submit of modal {:?}", modal.custom_id);
        let iid = self.send_interaction(NewInteraction {
            trigger: self.interaction_metadata(modal.interaction_id, None),
            ..NewInteraction::new(5, user, modal.channel_id, modal.message_id, data, &what)
        })?;
        self.await_reply(iid, &what, user).await
    }

    /// `interaction_metadata` for messages created by interaction `iid`; serenity requires the
    /// per-type fields (`interacted_message_id`, `triggering_interaction_metadata`) or it drops
    /// the whole message.
    pub(super) fn interaction_metadata(
        &self,
        iid: u64,
        original_response: Option<u64>,
    ) -> Option<Value> {
        let w = self.world_index();
        let st = self.state();
        let r = st.interactions.get(&iid)?;
        let owners = match w.guild_of_channel(r.channel_id) {
            Some(g) => json!({"0": g.id.to_string()}),
            None => json!({"1": r.user.to_string()}),
        };
        let mut meta = json!({
            "id": iid.to_string(),
            "type": r.kind,
            "user": payloads::user(&w.user_or_stub(r.user)),
            "authorizing_integration_owners": owners,
        });
        if let Some(o) = original_response {
            meta["original_response_message_id"] = json!(o.to_string());
        }
        match r.kind {
            3 => {
                meta["interacted_message_id"] = json!(r.source_message.unwrap_or(0).to_string());
            }
            5 => {
                // Only a raw submit of a hand-made ModalView lacks a known opener; serenity
                // rejects id 0, so the submit's own id stands in.
                let trigger = r.trigger.clone().unwrap_or_else(|| {
                    let owners = meta["authorizing_integration_owners"].clone();
                    json!({"id": iid.to_string(), "type": 2, "user": meta["user"].clone(),
                           "authorizing_integration_owners": owners})
                });
                meta["triggering_interaction_metadata"] = trigger;
            }
            _ => {}
        }
        Some(meta)
    }

    /// Registers and delivers one interaction; returns its id.
    fn send_interaction(&self, new: NewInteraction<'_>) -> anyhow::Result<u64> {
        let NewInteraction {
            kind,
            user,
            channel,
            source,
            data,
            what,
            trigger,
        } = new;
        let w = self.world_index();
        let guild_id = w.guild_of_channel(channel).map(|g| g.id);
        let iid = self.next_id();
        let token = format!("fake-itoken-{iid}-{:016x}", rand::random::<u64>());
        let u = w.user_or_stub(user);
        let mut d = payloads::interaction(
            w,
            &payloads::Envelope {
                id: iid,
                kind,
                token: &token,
                user: &u,
                channel_id: channel,
                guild_id,
            },
            data,
        );
        // Discord tells the app what it may do in the channel; a channel the bot was shut out
        // of says so here too.
        if self.state().forbidden.contains(&channel) {
            d.insert("app_permissions".into(), serde_json::json!("0"));
        }
        if let Some(mid) = source {
            let st = self.state();
            if let Some(m) = st.messages.get(&mid) {
                d.insert("message".into(), payloads::message(w, m));
            }
        }
        {
            let mut st = self.state();
            st.tokens.insert(token.clone(), iid);
            st.interactions.insert(
                iid,
                InteractionRec {
                    token,
                    kind,
                    user,
                    channel_id: channel,
                    created: Instant::now(),
                    source_message: source,
                    callback: None,
                    original: None,
                    followups: Vec::new(),
                    original_edits: 0,
                    source_edit_mark: None,
                    ephemeral: false,
                    modal: None,
                    choices: None,
                    trigger,
                },
            );
        }
        self.deliver_interaction(guild_id, Value::Object(d))
            .with_context(|| format!("delivering {what} by {}", w.display_name(user)))?;
        Ok(iid)
    }

    async fn await_reply(&self, iid: u64, what: &str, user: u64) -> anyhow::Result<Reply> {
        let who = self.world_index().display_name(user);
        let deadline = self.inner.opts.interaction_deadline;
        // A little slack: a callback that arrives in time may still be in flight.
        let cb = self
            .wait_until(deadline + Duration::from_millis(200), |f| {
                f.state().interactions.get(&iid).and_then(|r| r.callback)
            })
            .await
            .ok_or_else(|| {
                anyhow!("interaction {iid} ({what} by {who}) got no callback within {deadline:?}")
            })?;
        let (original, source) = {
            let st = self.state();
            let r = st
                .interactions
                .get(&iid)
                .ok_or_else(|| anyhow!("interaction {iid} vanished"))?;
            (r.original, r.source_message)
        };
        let msg = |id: Option<u64>| -> anyhow::Result<FakeMessage> {
            id.and_then(|id| self.message(id))
                .ok_or_else(|| anyhow!("interaction {iid} ({what}): its message is gone"))
        };
        match cb {
            4 => Ok(Reply::Message(msg(original)?)),
            7 => Ok(Reply::Updated(msg(source)?)),
            8 => Ok(Reply::Choices(
                self.state()
                    .interactions
                    .get(&iid)
                    .and_then(|r| r.choices.clone())
                    .unwrap_or_default(),
            )),
            9 => self
                .state()
                .interactions
                .get(&iid)
                .and_then(|r| r.modal.clone())
                .map(Reply::Modal)
                .ok_or_else(|| anyhow!("interaction {iid}: modal missing")),
            5 => {
                let filled = self
                    .wait_until(FOLLOWUP_WINDOW, |f| {
                        let st = f.state();
                        original
                            .and_then(|id| st.messages.get(&id))
                            .filter(|m| !m.loading)
                            .map(|m| m.msg.clone())
                    })
                    .await;
                filled.map(Reply::Message).ok_or_else(|| {
                    anyhow!(
                        "interaction {iid} ({what} by {who}) was deferred but no followup or \
                         edit came within {FOLLOWUP_WINDOW:?}"
                    )
                })
            }
            6 => {
                let outcome = self
                    .wait_until(FOLLOWUP_WINDOW, |f| {
                        let st = f.state();
                        let r = st.interactions.get(&iid)?;
                        if let Some(first) = r.followups.first() {
                            return st
                                .messages
                                .get(first)
                                .map(|m| Reply::Message(m.msg.clone()));
                        }
                        let m = st.messages.get(&source?)?;
                        (r.original_edits > 0 || m.edited_at != r.source_edit_mark)
                            .then(|| Reply::Updated(m.msg.clone()))
                    })
                    .await;
                match outcome {
                    Some(r) => Ok(r),
                    // Acknowledging without any visible change is legitimate.
                    None => Ok(Reply::Updated(msg(source.or(original))?)),
                }
            }
            other => bail!(
                "interaction {iid} ({what}): callback type {other} has no user-visible result"
            ),
        }
    }
}
