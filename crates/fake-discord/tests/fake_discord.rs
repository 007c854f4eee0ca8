//! End-to-end tests of the fake Discord against the real serenity 0.12.5 client and poise 0.7.1.
//!
//! A tiny poise bot (one slash command with a user option, a command with subcommands,
//! autocomplete, buttons, a select, modals, deferral) runs against the fake; the tests drive it
//! through the fake's user-level API and check both the bot-visible and the fake-visible sides.
//! The world and the bot's message policy are this file's own, as a bot's project would pass
//! its own.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use fake_discord::{
    FakeChannel, FakeDiscord, FakeGuild, FakeOptions, FakeUser, Fault, GatewayStats, MessagePolicy,
    Reply, World,
};
use poise::serenity_prelude as serenity;
use serde_json::json;
use serenity::{
    ActionRowComponent, ChannelId, ComponentInteractionDataKind, CreateActionRow,
    CreateAllowedMentions, CreateAttachment, CreateButton, CreateEmbed, CreateInputText,
    CreateInteractionResponse, CreateInteractionResponseMessage, CreateMessage, CreateModal,
    CreateSelectMenu, CreateSelectMenuKind, CreateSelectMenuOption, EditInteractionResponse,
    InputTextStyle, Interaction, Mentionable,
};

type Error = Box<dyn std::error::Error + Send + Sync>;
type Context<'a> = poise::Context<'a, Data, Error>;
struct Data;

const WAIT: Duration = Duration::from_secs(10);
/// A channel id that belongs to no guild: the fake treats it as a DM.
const DM_CHANNEL: u64 = 700_000_000_000_000_001;

const BOT: u64 = 900_000_000_000_000_001;
const APPLICATION: u64 = 900_000_000_000_000_001;
const ALICE: u64 = 100_000_000_000_000_001;
const BOB: u64 = 100_000_000_000_000_002;
const CAROL: u64 = 100_000_000_000_000_003;
const HELPERBOT: u64 = 100_000_000_000_000_004;
const GUILD: u64 = 500_000_000_000_000_001;
const CHANNEL_US: u64 = 600_000_000_000_000_001;

/// One guild with the channel "us"; alice, bob and carol are members, helperbot is some other
/// bot in the guild.
fn world() -> World {
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
            name: "Demo".to_string(),
            channels: vec![FakeChannel {
                id: CHANNEL_US,
                name: "us".to_string(),
                private: false,
            }],
            members: vec![ALICE, BOB, CAROL, HELPERBOT],
        }],
    }
}

/// The test bot's own rule: every new message states its mentions and never pings everyone.
fn options() -> FakeOptions {
    let policy = MessagePolicy::new(|body| {
        let am = &body["allowed_mentions"];
        if !am.is_object() {
            return vec!["message created without allowed_mentions (mentions policy)".into()];
        }
        am["parse"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p.as_str() == Some("everyone"))
            .map(|_| "allowed_mentions.parse contains \"everyone\" (mentions policy)".into())
            .collect()
    });
    FakeOptions {
        message_policy: Some(policy),
        ..FakeOptions::default()
    }
}

fn no_pings() -> CreateAllowedMentions {
    CreateAllowedMentions::new()
}

/// Replies with a mention of the given user.
#[poise::command(slash_command)]
async fn ping(
    ctx: Context<'_>,
    #[description = "Who to ping"] who: serenity::User,
) -> Result<(), Error> {
    ctx.say(format!("pong {} ({})", who.mention(), who.name))
        .await?;
    Ok(())
}

#[poise::command(
    slash_command,
    default_member_permissions = "MANAGE_GUILD",
    subcommands(
        "hello",
        "counter",
        "rename",
        "slow",
        "sleepy",
        "twice",
        "fruit",
        "pick",
        "defer_edit"
    )
)]
async fn attune(_ctx: Context<'_>) -> Result<(), Error> {
    Ok(())
}

/// Ephemeral greeting.
#[poise::command(slash_command)]
async fn hello(ctx: Context<'_>) -> Result<(), Error> {
    ctx.send(
        poise::CreateReply::default()
            .content("hi, only you see this")
            .ephemeral(true),
    )
    .await?;
    Ok(())
}

/// A counter with buttons.
#[poise::command(slash_command)]
async fn counter(ctx: Context<'_>) -> Result<(), Error> {
    let row = CreateActionRow::Buttons(vec![
        CreateButton::new("counter:inc").label("+1"),
        CreateButton::new("counter:off").label("Off").disabled(true),
        CreateButton::new("counter:ack").label("Ack"),
        CreateButton::new("counter:rename").label("Rename"),
        CreateButton::new("counter:more").label("More"),
    ]);
    ctx.send(
        poise::CreateReply::default()
            .content("count=0")
            .embed(
                CreateEmbed::new()
                    .title("Counter")
                    .description("Click <@100000000000000001>"),
            )
            .components(vec![row]),
    )
    .await?;
    Ok(())
}

fn rename_modal() -> CreateModal {
    CreateModal::new("modal:rename", "Rename").components(vec![CreateActionRow::InputText(
        CreateInputText::new(InputTextStyle::Short, "New name", "name")
            .max_length(20)
            .required(true),
    )])
}

/// Opens a modal.
#[poise::command(slash_command)]
async fn rename(ctx: Context<'_>) -> Result<(), Error> {
    if let poise::Context::Application(actx) = ctx {
        actx.interaction
            .create_response(ctx.http(), CreateInteractionResponse::Modal(rename_modal()))
            .await?;
    }
    Ok(())
}

/// Defers, then answers with a followup.
#[poise::command(slash_command)]
async fn slow(ctx: Context<'_>) -> Result<(), Error> {
    ctx.defer().await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    ctx.say("done slowly").await?;
    Ok(())
}

/// Defers, then edits the original response.
#[poise::command(slash_command)]
async fn defer_edit(ctx: Context<'_>) -> Result<(), Error> {
    if let poise::Context::Application(actx) = ctx {
        let i = actx.interaction;
        i.defer_ephemeral(ctx.http()).await?;
        tokio::time::sleep(Duration::from_millis(100)).await;
        i.edit_response(
            ctx.http(),
            EditInteractionResponse::new().content("edited in place"),
        )
        .await?;
    }
    Ok(())
}

/// Misses the deadline of the test that uses it.
#[poise::command(slash_command)]
async fn sleepy(ctx: Context<'_>) -> Result<(), Error> {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    ctx.say("too late").await?;
    Ok(())
}

/// Answers the same interaction twice.
#[poise::command(slash_command)]
async fn twice(ctx: Context<'_>) -> Result<(), Error> {
    ctx.say("one").await?;
    if let poise::Context::Application(actx) = ctx {
        let again = CreateInteractionResponse::Message(
            CreateInteractionResponseMessage::new()
                .content("two")
                .allowed_mentions(no_pings()),
        );
        let _ = actx.interaction.create_response(ctx.http(), again).await;
    }
    Ok(())
}

async fn autocomplete_fruit(
    _ctx: Context<'_>,
    partial: &str,
) -> serenity::CreateAutocompleteResponse {
    let choices = ["apple", "apricot", "banana", "cherry"]
        .into_iter()
        .filter(|f| f.starts_with(partial))
        .map(serenity::AutocompleteChoice::from)
        .collect();
    serenity::CreateAutocompleteResponse::new().set_choices(choices)
}

/// Autocompleted string option plus an integer.
#[poise::command(slash_command)]
async fn fruit(
    ctx: Context<'_>,
    #[description = "A fruit"]
    #[autocomplete = "autocomplete_fruit"]
    name: String,
    #[description = "How many"] count: Option<i64>,
) -> Result<(), Error> {
    ctx.say(format!("{} x {name}", count.unwrap_or(1))).await?;
    Ok(())
}

/// A string select.
#[poise::command(slash_command)]
async fn pick(ctx: Context<'_>) -> Result<(), Error> {
    let menu = CreateSelectMenu::new(
        "pick:drink",
        CreateSelectMenuKind::String {
            options: vec![
                CreateSelectMenuOption::new("Tea", "tea"),
                CreateSelectMenuOption::new("Coffee", "coffee"),
            ],
        },
    )
    .placeholder("Choose a drink");
    ctx.send(
        poise::CreateReply::default()
            .content("what to drink?")
            .components(vec![CreateActionRow::SelectMenu(menu)]),
    )
    .await?;
    Ok(())
}

async fn on_event(
    fw: poise::FrameworkContext<'_, Data, Error>,
    event: &serenity::FullEvent,
) -> Result<(), Error> {
    let ctx = fw.serenity_context;
    let serenity::FullEvent::InteractionCreate { interaction } = event else {
        return Ok(());
    };
    match interaction {
        Interaction::Component(c) => {
            let update = |content: String| {
                CreateInteractionResponse::UpdateMessage(
                    CreateInteractionResponseMessage::new().content(content),
                )
            };
            match (c.data.custom_id.as_str(), &c.data.kind) {
                ("counter:inc", _) => {
                    let n: u32 = c
                        .message
                        .content
                        .strip_prefix("count=")
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0);
                    c.create_response(&ctx.http, update(format!("count={}", n + 1)))
                        .await?;
                }
                ("counter:ack", _) => {
                    c.create_response(&ctx.http, CreateInteractionResponse::Acknowledge)
                        .await?;
                    c.edit_response(&ctx.http, EditInteractionResponse::new().content("acked"))
                        .await?;
                }
                ("counter:rename", _) => {
                    c.create_response(&ctx.http, CreateInteractionResponse::Modal(rename_modal()))
                        .await?;
                }
                ("counter:more", _) => {
                    let defer = CreateInteractionResponseMessage::new();
                    c.create_response(&ctx.http, CreateInteractionResponse::Defer(defer))
                        .await?;
                    let followup = serenity::CreateInteractionResponseFollowup::new()
                        .content("more")
                        .button(CreateButton::new("more:again").label("Again"))
                        .allowed_mentions(no_pings());
                    // serenity parses the returned Message, interaction_metadata included.
                    let msg = c.create_followup(&ctx.http, followup).await?;
                    assert!(matches!(
                        msg.interaction_metadata.as_deref(),
                        Some(serenity::MessageInteractionMetadata::Component(_))
                    ));
                }
                ("more:again", _) => {
                    c.create_response(&ctx.http, update("again!".to_string()))
                        .await?;
                }
                ("pick:drink", ComponentInteractionDataKind::StringSelect { values }) => {
                    c.create_response(&ctx.http, update(format!("picked {}", values.join(","))))
                        .await?;
                }
                _ => {
                    let msg = CreateInteractionResponseMessage::new()
                        .content("unknown button")
                        .ephemeral(true)
                        .allowed_mentions(no_pings());
                    c.create_response(&ctx.http, CreateInteractionResponse::Message(msg))
                        .await?;
                }
            }
        }
        Interaction::Modal(m) => {
            let value = m
                .data
                .components
                .iter()
                .flat_map(|row| &row.components)
                .find_map(|c| match c {
                    ActionRowComponent::InputText(t) if t.custom_id == "name" => t.value.clone(),
                    _ => None,
                })
                .unwrap_or_default();
            let text = format!("renamed to {value}");
            let resp = if m.message.is_some() {
                CreateInteractionResponse::UpdateMessage(
                    CreateInteractionResponseMessage::new().content(text),
                )
            } else {
                CreateInteractionResponse::Message(
                    CreateInteractionResponseMessage::new()
                        .content(text)
                        .allowed_mentions(no_pings()),
                )
            };
            m.create_response(&ctx.http, resp).await?;
        }
        _ => {}
    }
    Ok(())
}

struct Bot {
    http: Arc<serenity::Http>,
    shards: Arc<serenity::ShardManager>,
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn,fake_discord=info")
        .with_test_writer()
        .try_init();
}

async fn fake_with(opts: FakeOptions) -> FakeDiscord {
    init_tracing();
    FakeDiscord::start(world(), opts)
        .await
        .expect("fake starts")
}

async fn start_bot(fake: &FakeDiscord) -> Bot {
    let framework = poise::Framework::<Data, Error>::builder()
        .options(poise::FrameworkOptions {
            commands: vec![ping(), attune()],
            event_handler: |fw, event| Box::pin(on_event(fw, event)),
            ..Default::default()
        })
        .setup(|ctx, _ready, framework| {
            Box::pin(async move {
                let cmds = &framework.options().commands;
                poise::builtins::register_globally(ctx, &cmds[..1]).await?;
                poise::builtins::register_in_guild(ctx, cmds, serenity::GuildId::new(GUILD))
                    .await?;
                Ok(Data)
            })
        })
        .build();
    let http = serenity::HttpBuilder::new("fake-token")
        .proxy(fake.http_url())
        .ratelimiter_disabled(true)
        .build();
    let mut client =
        serenity::ClientBuilder::new_with_http(http, serenity::GatewayIntents::non_privileged())
            .framework(framework)
            .await
            .expect("client builds");
    let bot = Bot {
        http: client.http.clone(),
        shards: client.shard_manager.clone(),
    };
    tokio::spawn(async move {
        let _ = client.start().await;
    });
    fake.wait_ready(WAIT).await.expect("gateway ready");
    fake.wait_commands_registered(WAIT)
        .await
        .expect("commands registered");
    // Guild registration comes after the global one; wait for both scopes.
    for _ in 0..100 {
        if fake.registered_commands().len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bot
}

async fn setup() -> (FakeDiscord, Bot) {
    let fake = fake_with(options()).await;
    let bot = start_bot(&fake).await;
    (fake, bot)
}

fn assert_no_violations(fake: &FakeDiscord) {
    let v = fake.violations();
    assert!(v.is_empty(), "unexpected violations:\n{}", v.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_and_command_registration() {
    let (fake, _bot) = setup().await;
    let cmds = fake.registered_commands();
    let names: Vec<(String, Option<String>)> = cmds
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["guild_id"].as_str().map(str::to_string),
            )
        })
        .collect();
    assert!(names.contains(&("ping".into(), None)), "{names:?}");
    assert!(
        names.contains(&("ping".into(), Some(GUILD.to_string()))),
        "{names:?}"
    );
    assert!(
        names.contains(&("attune".into(), Some(GUILD.to_string()))),
        "{names:?}"
    );
    for c in &cmds {
        for key in [
            "id",
            "type",
            "application_id",
            "name",
            "description",
            "version",
        ] {
            assert!(!c[key].is_null(), "{key} missing in {c}");
        }
    }
    let paths: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(
        paths.contains(&"GET /api/v10/gateway".to_string()),
        "{paths:?}"
    );
    assert!(
        paths.contains(&format!(
            "PUT /api/v10/applications/{APPLICATION}/guilds/{GUILD}/commands"
        )),
        "{paths:?}"
    );
    assert_no_violations(&fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_command_with_user_option() {
    let (fake, _bot) = setup().await;
    let reply = fake
        .run_command(ALICE, CHANNEL_US, "ping", vec![("who", json!(BOB))])
        .await
        .unwrap();
    let msg = reply.new_message().unwrap();
    assert_eq!(msg.content, format!("pong <@{BOB}> (bob)"));
    assert_eq!(msg.ephemeral_for, None);
    assert_eq!(msg.interaction_user, Some(ALICE));
    let names = HashMap::new();
    assert_eq!(
        fake.render_transcript(CHANNEL_US, &names),
        "Attune: pong @bob (bob)"
    );
    // Unregistered commands and unknown options are refused before anything is sent.
    assert!(fake
        .run_command(ALICE, CHANNEL_US, "nope", vec![])
        .await
        .is_err());
    assert!(fake
        .run_command(ALICE, CHANNEL_US, "ping", vec![])
        .await
        .is_err());
    assert_no_violations(&fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dm_command_uses_user_not_member() {
    let (fake, _bot) = setup().await;
    let reply = fake
        .run_command(ALICE, DM_CHANNEL, "ping", vec![("who", json!(BOB))])
        .await
        .unwrap();
    assert!(reply.text().starts_with("pong"), "{}", reply.text());
    assert_eq!(fake.messages(DM_CHANNEL).len(), 1);
    // Guild-only commands are not available in DMs.
    assert!(fake
        .run_command(ALICE, DM_CHANNEL, "attune hello", vec![])
        .await
        .is_err());
    assert_no_violations(&fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ephemeral_visibility() {
    let (fake, _bot) = setup().await;
    let reply = fake
        .run_command(ALICE, CHANNEL_US, "attune hello", vec![])
        .await
        .unwrap();
    let msg = reply.new_message().unwrap().clone();
    assert_eq!(msg.ephemeral_for, Some(ALICE));
    assert!(reply.is_ephemeral());
    assert_eq!(fake.visible_to(ALICE, CHANNEL_US), vec![msg.clone()]);
    assert!(fake.visible_to(BOB, CHANNEL_US).is_empty());
    assert_eq!(fake.messages(CHANNEL_US).len(), 1);
    let rendered = fake.render_transcript(CHANNEL_US, &HashMap::new());
    assert_eq!(
        rendered,
        "(only alice sees this) Attune: hi, only you see this"
    );
    assert_no_violations(&fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn button_click_updates_message() {
    let (fake, _bot) = setup().await;
    let reply = fake
        .run_command(ALICE, CHANNEL_US, "attune counter", vec![])
        .await
        .unwrap();
    let msg = reply.new_message().unwrap().clone();
    assert_eq!(msg.button_id("+1").as_deref(), Some("counter:inc"));
    let updated = fake.click_button(BOB, msg.id, "counter:inc").await.unwrap();
    let Reply::Updated(after) = &updated else {
        panic!("expected an update, got {updated:?}");
    };
    assert_eq!(after.id, msg.id);
    assert_eq!(after.content, "count=1");
    assert!(after.edited);
    // The update kept the buttons and the embed.
    assert_eq!(after.buttons().len(), 5);
    assert_eq!(after.embeds.len(), 1);
    let again = fake
        .click_button(ALICE, msg.id, "counter:inc")
        .await
        .unwrap();
    assert_eq!(again.updated().unwrap().content, "count=2");
    // Type 6 + edit of @original is an update too.
    let acked = fake
        .click_button(ALICE, msg.id, "counter:ack")
        .await
        .unwrap();
    assert_eq!(acked.updated().unwrap().content, "acked");
    // A deferred component response completed by a followup, whose button works in turn.
    let more = fake
        .click_button(BOB, msg.id, "counter:more")
        .await
        .unwrap();
    let more = more.new_message().unwrap().clone();
    assert_eq!(more.content, "more");
    let again = fake
        .click_button(ALICE, more.id, "more:again")
        .await
        .unwrap();
    assert_eq!(again.updated().unwrap().content, "again!");
    // A real client cannot click disabled or missing buttons, nor be outside the guild.
    assert!(fake
        .click_button(ALICE, msg.id, "counter:off")
        .await
        .is_err());
    assert!(fake.click_button(ALICE, msg.id, "forged").await.is_err());
    // A forged click still reaches the bot.
    let forged = fake.click_raw(ALICE, msg.id, "forged").await.unwrap();
    assert_eq!(forged.new_message().unwrap().ephemeral_for, Some(ALICE));
    let transcript = fake.render_transcript(CHANNEL_US, &HashMap::new());
    assert_eq!(
        transcript,
        "Attune: (edited) acked\n  | **Counter**\n  | Click @alice\n  [+1] [Off (disabled)] [Ack] [Rename] [More]\n\
         Attune: (edited) again!\n  [Again]\n\
         (only alice sees this) Attune: unknown button"
    );
    assert_no_violations(&fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_menu_updates_message() {
    let (fake, _bot) = setup().await;
    let msg = fake
        .run_command(BOB, CHANNEL_US, "attune pick", vec![])
        .await
        .unwrap()
        .new_message()
        .unwrap()
        .clone();
    let selects = msg.selects();
    assert_eq!(selects.len(), 1);
    assert_eq!(selects[0].placeholder.as_deref(), Some("Choose a drink"));
    assert!(fake
        .render_transcript(CHANNEL_US, &HashMap::new())
        .contains("<Choose a drink: Tea | Coffee>"));
    let r = fake
        .select(ALICE, msg.id, "pick:drink", vec!["tea".into()])
        .await
        .unwrap();
    assert_eq!(r.updated().unwrap().content, "picked tea");
    assert!(fake
        .select(ALICE, msg.id, "pick:drink", vec!["wine".into()])
        .await
        .is_err());
    assert!(fake
        .select(
            ALICE,
            msg.id,
            "pick:drink",
            vec!["tea".into(), "coffee".into()]
        )
        .await
        .is_err());
    assert_no_violations(&fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modal_open_and_submit() {
    let (fake, bot) = setup().await;
    let modal = fake
        .run_command(ALICE, CHANNEL_US, "attune rename", vec![])
        .await
        .unwrap()
        .modal()
        .unwrap()
        .clone();
    assert_eq!(modal.title, "Rename");
    assert_eq!(modal.inputs.len(), 1);
    let input = &modal.inputs[0];
    assert_eq!(
        (input.custom_id.as_str(), input.label.as_str()),
        ("name", "New name")
    );
    assert_eq!(input.max_length, Some(20));
    assert!(input.required);
    // Client-side rules.
    assert!(fake
        .submit_modal(ALICE, &modal, vec![("name", "")])
        .await
        .is_err());
    assert!(fake
        .submit_modal(ALICE, &modal, vec![("name", &"x".repeat(21))])
        .await
        .is_err());
    let reply = fake
        .submit_modal(ALICE, &modal, vec![("name", "Bob")])
        .await
        .unwrap();
    let msg = reply.new_message().unwrap();
    assert_eq!(msg.content, "renamed to Bob");
    assert_eq!(msg.ephemeral_for, None);
    assert_eq!(msg.interaction_user, Some(ALICE));
    // serenity can read the message back, modal-submit interaction metadata included.
    let read = ChannelId::new(CHANNEL_US)
        .message(&bot.http, serenity::MessageId::new(msg.id))
        .await
        .unwrap();
    assert!(matches!(
        read.interaction_metadata.as_deref(),
        Some(serenity::MessageInteractionMetadata::ModalSubmit(_))
    ));

    // From a component: the submit carries `message` and the bot updates it.
    let counter = fake
        .run_command(ALICE, CHANNEL_US, "attune counter", vec![])
        .await
        .unwrap()
        .new_message()
        .unwrap()
        .clone();
    let modal = fake
        .click_button(BOB, counter.id, "counter:rename")
        .await
        .unwrap()
        .modal()
        .unwrap()
        .clone();
    assert_eq!(modal.message_id, Some(counter.id));
    let reply = fake
        .submit_modal(BOB, &modal, vec![("name", "Carol")])
        .await
        .unwrap();
    let updated = reply.updated().unwrap();
    assert_eq!(
        (updated.id, updated.content.as_str()),
        (counter.id, "renamed to Carol")
    );
    assert_no_violations(&fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferred_then_followup_or_edit() {
    let (fake, _bot) = setup().await;
    let reply = fake
        .run_command(BOB, CHANNEL_US, "attune slow", vec![])
        .await
        .unwrap();
    let msg = reply.new_message().unwrap();
    assert_eq!(msg.content, "done slowly");
    assert!(!msg.edited);
    assert_eq!(
        fake.messages(CHANNEL_US).len(),
        1,
        "the followup fills the thinking message"
    );

    let reply = fake
        .run_command(BOB, CHANNEL_US, "attune defer_edit", vec![])
        .await
        .unwrap();
    let msg = reply.new_message().unwrap();
    assert_eq!(msg.content, "edited in place");
    assert_eq!(msg.ephemeral_for, Some(BOB));
    assert_no_violations(&fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autocomplete_offers_choices() {
    let (fake, _bot) = setup().await;
    let choices = fake
        .autocomplete(
            ALICE,
            CHANNEL_US,
            "attune fruit",
            vec![("name", json!("ap"))],
            "name",
        )
        .await
        .unwrap();
    let names: Vec<&str> = choices.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["apple", "apricot"]);
    assert_eq!(choices[0].1, json!("apple"));
    let reply = fake
        .run_command(
            ALICE,
            CHANNEL_US,
            "attune fruit",
            vec![("name", json!("cherry")), ("count", json!(3))],
        )
        .await
        .unwrap();
    assert_eq!(reply.text(), "3 x cherry");
    assert_no_violations(&fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nonce_dedupes_channel_messages() {
    let (fake, bot) = setup().await;
    let send = || {
        CreateMessage::new()
            .content("reminder")
            .nonce(serenity::Nonce::String("remind-42".into()))
            .enforce_nonce(true)
            .allowed_mentions(no_pings())
    };
    let a = ChannelId::new(CHANNEL_US)
        .send_message(&bot.http, send())
        .await
        .unwrap();
    let b = ChannelId::new(CHANNEL_US)
        .send_message(&bot.http, send())
        .await
        .unwrap();
    assert_eq!(a.id, b.id);
    assert_eq!(fake.messages(CHANNEL_US).len(), 1);
    // Without enforce_nonce a second message is created.
    let c = ChannelId::new(CHANNEL_US)
        .send_message(&bot.http, send().enforce_nonce(false))
        .await
        .unwrap();
    assert_ne!(a.id, c.id);
    assert!(c.id > a.id, "message ids increase");
    assert_eq!(fake.messages(CHANNEL_US).len(), 2);
    assert_no_violations(&fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_are_stored_and_valid() {
    let (fake, bot) = setup().await;
    let msg = ChannelId::new(CHANNEL_US)
        .send_message(
            &bot.http,
            CreateMessage::new()
                .content("your week")
                .add_file(
                    CreateAttachment::bytes(b"PNGDATA".to_vec(), "chart.png")
                        .description("a chart"),
                )
                .embed(
                    CreateEmbed::new()
                        .title("Week")
                        .image("attachment://chart.png"),
                )
                .allowed_mentions(no_pings()),
        )
        .await
        .unwrap();
    assert_eq!(msg.attachments.len(), 1);
    assert_eq!(msg.attachments[0].filename, "chart.png");
    let stored = fake.message(msg.id.get()).unwrap();
    assert_eq!(stored.attachments[0].bytes, b"PNGDATA");
    assert_eq!(
        stored.attachments[0].description.as_deref(),
        Some("a chart")
    );
    assert_eq!(
        stored.render(&HashMap::from([(BOT, "Attune".to_string())])),
        "Attune: your week\n  | **Week**\n  | [image: chart.png]"
    );
    // The multipart request was recorded with its parsed payload_json.
    let req = fake
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.method == "POST")
        .unwrap();
    assert_eq!(req.body.unwrap()["content"], "your week");
    assert_no_violations(&fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_violations_are_detected() {
    let (fake, bot) = setup().await;
    let long_id = "x".repeat(101);
    let body = json!({
        "content": "a".repeat(2001),
        "allowed_mentions": {"parse": []},
        "components": [{"type": 1, "components": [
            {"type": 2, "style": 1, "label": "Go", "custom_id": long_id}
        ]}]
    });
    // serenity's builders refuse over-long content client-side; the raw Http call does not.
    let _ = bot
        .http
        .send_message(ChannelId::new(CHANNEL_US), vec![], &body)
        .await;
    let v = fake.violations();
    assert!(
        v.iter()
            .any(|v| v.contains("content is 2001 chars (max 2000)")),
        "{v:#?}"
    );
    assert!(
        v.iter().any(|v| v.contains("custom_id is 101 chars")),
        "{v:#?}"
    );
    // The OpenAPI schema catches the custom_id too, when the spec is there; the hand-written
    // checks above run either way.
    if FakeOptions::default().openapi_path.is_some() {
        assert!(
            v.iter()
                .any(|v| v.contains("openapi") && v.contains("custom_id")),
            "{v:#?}"
        );
    } else {
        assert!(!v.iter().any(|v| v.contains("openapi")), "{v:#?}");
    }
    fake.clear_violations();

    // Mentions policy: missing allowed_mentions and @everyone pings.
    let _ = bot
        .http
        .send_message(
            ChannelId::new(CHANNEL_US),
            vec![],
            &json!({"content": "hi"}),
        )
        .await;
    let _ = bot
        .http
        .send_message(
            ChannelId::new(CHANNEL_US),
            vec![],
            &json!({"content": "@everyone", "allowed_mentions": {"parse": ["everyone"]}}),
        )
        .await;
    let v = fake.violations();
    let route = format!("POST /api/v10/channels/{CHANNEL_US}/messages: ");
    assert!(
        v.iter()
            .any(|v| v.starts_with(&route) && v.contains("without allowed_mentions")),
        "{v:#?}"
    );
    assert!(v.iter().any(|v| v.contains("\"everyone\"")), "{v:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_spec_only_hand_checks_run() {
    // No message policy either: the fake itself does not care about allowed_mentions.
    let fake = fake_with(FakeOptions {
        openapi_path: None,
        ..FakeOptions::default()
    })
    .await;
    let bot = start_bot(&fake).await;
    let body = json!({"content": "a".repeat(2001)});
    let _ = bot
        .http
        .send_message(ChannelId::new(CHANNEL_US), vec![], &body)
        .await;
    let v = fake.violations();
    assert_eq!(v.len(), 1, "{v:#?}");
    assert!(v[0].contains("content is 2001 chars"), "{v:#?}");
    // A user outside the guild cannot run commands in its channels.
    const STRANGER: u64 = 42;
    assert!(fake
        .run_command(STRANGER, CHANNEL_US, "ping", vec![("who", json!(BOB))])
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_deadline_fails_the_call() {
    let opts = FakeOptions {
        interaction_deadline: Duration::from_secs(1),
        ..options()
    };
    let fake = fake_with(opts).await;
    let _bot = start_bot(&fake).await;
    let err = fake
        .run_command(ALICE, CHANNEL_US, "attune sleepy", vec![])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("/attune sleepy") && err.contains("no callback"),
        "{err}"
    );
    // The late callback itself is answered 404 10062 and recorded.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let v = fake.violations();
    assert!(v.iter().any(|v| v.contains("deadline")), "{v:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_callback_is_rejected() {
    let (fake, _bot) = setup().await;
    let reply = fake
        .run_command(ALICE, CHANNEL_US, "attune twice", vec![])
        .await
        .unwrap();
    assert_eq!(reply.text(), "one");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let v = fake.violations();
    assert_eq!(v.len(), 1, "{v:#?}");
    assert!(v[0].contains("second callback"), "{v:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_route_is_a_violation() {
    let (fake, bot) = setup().await;
    let err = bot
        .http
        .get_guild_roles(serenity::GuildId::new(GUILD))
        .await;
    assert!(err.is_err());
    let v = fake.violations();
    assert_eq!(v.len(), 1, "{v:#?}");
    assert!(
        v[0].contains(&format!("GET /api/v10/guilds/{GUILD}/roles: unknown route")),
        "{v:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_channels_and_faults() {
    let (fake, bot) = setup().await;
    let hello = || {
        CreateMessage::new()
            .content("hello")
            .allowed_mentions(no_pings())
    };
    fake.set_channel_forbidden(CHANNEL_US, true);
    let err = ChannelId::new(CHANNEL_US)
        .send_message(&bot.http, hello())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Missing Access"), "{err}");
    fake.set_channel_forbidden(CHANNEL_US, false);

    fake.push_fault(Fault::Status {
        path_contains: "/messages".into(),
        status: 429,
        retry_after: Some(0.5),
        times: 1,
    });
    let err = ChannelId::new(CHANNEL_US)
        .send_message(&bot.http, hello())
        .await
        .unwrap_err();
    // Discord's 429 body has no `code`, so serenity keeps the status but not the message.
    assert!(
        matches!(&err, serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(r)) if r.status_code.as_u16() == 429),
        "{err:?}"
    );

    fake.push_fault(Fault::Reset {
        path_contains: "/messages".into(),
        times: 1,
    });
    assert!(ChannelId::new(CHANNEL_US)
        .send_message(&bot.http, hello())
        .await
        .is_err());

    fake.push_fault(Fault::Delay {
        path_contains: "/messages".into(),
        delay: Duration::from_millis(300),
        times: 1,
    });
    let t = std::time::Instant::now();
    ChannelId::new(CHANNEL_US)
        .send_message(&bot.http, hello())
        .await
        .unwrap();
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert_eq!(fake.messages(CHANNEL_US).len(), 1);
    assert_no_violations(&fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_reconnect_and_resume() {
    let (fake, bot) = setup().await;
    assert_eq!(
        fake.gateway_stats(),
        GatewayStats {
            connections: 1,
            identifies: 1,
            resumes: 0
        }
    );
    fake.send_reconnect();
    assert_eq!(fake.ready_connections(), 0);
    fake.wait_ready(Duration::from_secs(15)).await.unwrap();
    let stats = fake.gateway_stats();
    assert_eq!((stats.connections, stats.resumes), (2, 1), "{stats:?}");
    let reply = fake
        .run_command(ALICE, CHANNEL_US, "attune hello", vec![])
        .await
        .unwrap();
    assert!(reply.is_ephemeral());

    fake.drop_gateway_connections();
    // Checked at once: serenity is back on a new socket within milliseconds.
    assert_eq!(fake.ready_connections(), 0);
    fake.wait_ready(Duration::from_secs(15)).await.unwrap();
    assert_eq!(fake.gateway_stats().connections, 3);
    let reply = fake
        .run_command(ALICE, CHANNEL_US, "attune hello", vec![])
        .await
        .unwrap();
    assert!(reply.is_ephemeral());
    assert_no_violations(&fake);
    bot.shards.shutdown_all().await;
    fake.shutdown().await;
}

struct ShardBot;

#[::serenity::async_trait]
impl serenity::EventHandler for ShardBot {
    async fn interaction_create(&self, ctx: serenity::Context, i: Interaction) {
        if let Interaction::Command(c) = i {
            let msg = CreateInteractionResponseMessage::new()
                .content(format!(
                    "shard {} guild {:?}",
                    ctx.shard_id.0,
                    c.guild_id.map(|g| g.get())
                ))
                .allowed_mentions(no_pings());
            let _ = c
                .create_response(&ctx.http, CreateInteractionResponse::Message(msg))
                .await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactions_go_to_the_shard_owner_across_processes() {
    init_tracing();
    let mut world = world();
    let template = world.guilds.remove(0);
    for k in 0..4u64 {
        let mut g = template.clone();
        g.id = ((k + 10) << 22) | 7;
        g.name = format!("guild {k}");
        g.channels[0].id = 800 + k;
        world.guilds.push(g);
    }
    let fake = FakeDiscord::start(world, options()).await.unwrap();
    let mut https = Vec::new();
    // Two "processes", each running one of two shards.
    for shard in 0..2u32 {
        let http = serenity::HttpBuilder::new("fake-token")
            .proxy(fake.http_url())
            .ratelimiter_disabled(true)
            .build();
        let mut client = serenity::ClientBuilder::new_with_http(
            http,
            serenity::GatewayIntents::non_privileged(),
        )
        .event_handler(ShardBot)
        .await
        .unwrap();
        https.push(client.http.clone());
        tokio::spawn(async move {
            let _ = client.start_shard(shard, 2).await;
        });
    }
    fake.wait_connections(2, WAIT).await.unwrap();
    // The application id arrives with READY, and serenity stores it a moment after the stand-in
    // sent it; register through the first process once it has.
    let deadline = std::time::Instant::now() + WAIT;
    while https[0].application_id().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "READY never gave an application id"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    serenity::Command::set_global_commands(
        &https[0],
        vec![serenity::CreateCommand::new("whoami").description("Which shard answers")],
    )
    .await
    .unwrap();
    for k in 0..4u64 {
        let gid = ((k + 10) << 22) | 7;
        let reply = fake
            .run_command(ALICE, 800 + k, "whoami", vec![])
            .await
            .unwrap();
        assert_eq!(
            reply.text(),
            format!("shard {} guild Some({gid})", (k + 10) % 2)
        );
    }
    // DMs go to shard 0.
    let reply = fake
        .run_command(ALICE, DM_CHANNEL, "whoami", vec![])
        .await
        .unwrap();
    assert_eq!(reply.text(), "shard 0 guild None");
    assert_no_violations(&fake);
}

/// Scale check for the benchmarks: 10,000 guilds over 4 shards, one client per shard (like
/// separate processes; serenity spaces shard boots within one client 5 s apart).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_guilds_connect() {
    init_tracing();
    let mut world = world();
    let template = world.guilds.remove(0);
    for k in 0..10_000u64 {
        let mut g = template.clone();
        g.id = ((k + 1) << 22) | 3;
        g.name = format!("guild {k}");
        g.channels[0].id = 1_000_000 + k;
        world.guilds.push(g);
    }
    let fake = FakeDiscord::start(world, options()).await.unwrap();
    let t = std::time::Instant::now();
    let mut https = Vec::new();
    for shard in 0..4u32 {
        let http = serenity::HttpBuilder::new("fake-token")
            .proxy(fake.http_url())
            .ratelimiter_disabled(true)
            .build();
        let mut client = serenity::ClientBuilder::new_with_http(
            http,
            serenity::GatewayIntents::non_privileged(),
        )
        .event_handler(ShardBot)
        .await
        .unwrap();
        https.push(client.http.clone());
        tokio::spawn(async move {
            let _ = client.start_shard(shard, 4).await;
        });
    }
    fake.wait_connections(4, Duration::from_secs(120))
        .await
        .unwrap();
    eprintln!("10,000 guilds over 4 shards ready in {:?}", t.elapsed());
    let deadline = std::time::Instant::now() + WAIT;
    while https[0].application_id().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "READY never gave an application id"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    serenity::Command::set_global_commands(
        &https[0],
        vec![serenity::CreateCommand::new("whoami").description("Which shard answers")],
    )
    .await
    .unwrap();
    for k in [0u64, 1234, 9999] {
        let reply = fake
            .run_command(ALICE, 1_000_000 + k, "whoami", vec![])
            .await
            .unwrap();
        let gid = ((k + 1) << 22) | 3;
        assert_eq!(
            reply.text(),
            format!("shard {} guild Some({gid})", (k + 1) % 4)
        );
    }
    assert_no_violations(&fake);
}
