//! The weekly recap: the scheduled look back (once per couple and ISO week, across retries
//! and restarts) and `/recap`, the week so far. It shows practice and accuracy, never a
//! grade of the relationship; a week with nothing in it gets a short friendly note instead of
//! a row of zeros. The numbers come from `domain::recap`; the chart from [`chart`].

pub mod chart;

use super::access::couple_here;
use super::delivery::{Plan, Record};
use super::view::{field, panel};
use super::{refuse, Answer, FlowError, FlowResult, Here, Who};
use crate::content::copy::keys::{common as kc, recap as k};
use crate::content::copy::Arg;
use crate::content::Library;
use crate::domain::couple::Couple;
use crate::domain::custom_id::{CustomId, PersonalAction};
use crate::domain::ids::{CoupleId, JobId, PersonId};
use crate::domain::recap::{self as dr, choose_suggestion_category, IsoWeek, Period, Recap};
use crate::state::AppState;
use crate::store::recap::{self as recaps, RecapSlot};
use crate::store::{checkins, couples, schedules};
use crate::transport::{Card, Image, Text, Transport};

/// Which recap is being shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The scheduled look back at the end of the week.
    Weekly,
    /// `/recap`: the week so far.
    SoFar,
}

/// Longest name drawn on the chart, in characters.
const MAX_NAME: usize = 20;

/// One suggestion of `category`, rotating week by week in an order of the couple's own, so
/// the same idea does not come back every week.
pub fn pick_suggestion(
    lib: &Library,
    category: &str,
    couple: CoupleId,
    week: IsoWeek,
) -> Option<Text> {
    let pool: Vec<&str> = lib
        .suggestions
        .iter()
        .filter(|s| s.category == category)
        .map(|s| s.text.as_str())
        .collect();
    if pool.is_empty() {
        return None;
    }
    let n = pool.len() as u128;
    let step = week.year() as u128 * 53 + u128::from(week.week());
    let i = (couple.0.as_u128() % n + step) % n;
    // Suggestions speak to both partners at once, so placeholders read as "each other".
    Some(lib.prompt_text(pool[i as usize], None, None))
}

fn count(
    lib: &Library,
    n: u32,
    one: crate::content::copy::Key,
    many: crate::content::copy::Key,
) -> String {
    if n == 1 {
        lib.s(one)
    } else {
        lib.sf(many, &[("n", &n.to_string())])
    }
}

/// What the two of you did together: no per-person tallies in the room.
fn practice_field(lib: &Library, r: &Recap) -> Text {
    let mut out = Text::new();
    out = out.line(if r.rounds == 0 {
        lib.t(k::TOGETHER_NONE, &[])
    } else {
        lib.t(
            k::TOGETHER_LINE,
            &[
                (
                    "checkins",
                    count(lib, r.rounds, k::CHECKIN_ONE, k::CHECKIN_MANY).into(),
                ),
                ("both", r.rounds_together.to_string().into()),
            ],
        )
    });
    if r.micro_done() > 0 {
        out = out.line(lib.t(
            k::MOMENTS_LINE,
            &[(
                "moments",
                count(lib, r.micro_done(), k::MOMENT_ONE, k::MOMENT_MANY).into(),
            )],
        ));
    }
    if r.repairs_started > 0 || r.repairs_completed > 0 {
        out = out.line(if r.repairs_completed >= r.repairs_started {
            lib.t(
                k::REPAIRS_TOGETHER,
                &[(
                    "repairs",
                    count(lib, r.repairs_completed, k::REPAIR_ONE, k::REPAIR_MANY).into(),
                )],
            )
        } else {
            lib.t(
                k::REPAIRS_PARTIAL,
                &[
                    ("started", r.repairs_started.to_string().into()),
                    ("done", r.repairs_completed.to_string().into()),
                ],
            )
        });
    }
    if r.agreements_made > 0 || r.agreements_revisited > 0 {
        out = out.line(lib.t(
            k::AGREEMENTS,
            &[
                ("made", r.agreements_made.to_string().into()),
                ("revisited", r.agreements_revisited.to_string().into()),
            ],
        ));
    }
    out
}

/// How often the two of you read each other well, together.
fn reading_field(lib: &Library, r: &Recap) -> Text {
    let t = r.reads();
    if t.compared() == 0 {
        return lib.t(k::READING_NONE, &[]);
    }
    lib.t(
        k::READING_TOGETHER,
        &[
            ("good", (t.spot_on + t.close).to_string().into()),
            (
                "guesses",
                count(lib, t.compared(), k::GUESS_ONE, k::GUESS_MANY).into(),
            ),
        ],
    )
    .line(lib.t(k::READING_FOOTER, &[]))
}

/// "Just my numbers": one partner's own last seven days, for them only.
pub fn mine_card(lib: &Library, couple: &Couple, r: &Recap, me: PersonId) -> Card {
    let Some(p) = r.partners.iter().find(|p| p.user == me) else {
        return Card::text(lib.t(k::MINE_NONE, &[]));
    };
    let mut body = if p.checkins == 0 {
        lib.t(k::MINE_NONE, &[])
    } else {
        lib.t(
            k::MINE_BODY,
            &[
                (
                    "checkins",
                    count(lib, p.checkins, k::CHECKIN_ONE, k::CHECKIN_MANY).into(),
                ),
                ("days", p.days_practised.to_string().into()),
                (
                    "moments",
                    count(lib, p.micro_done, k::MOMENT_ONE, k::MOMENT_MANY).into(),
                ),
            ],
        )
    };
    if p.reads.compared() > 0 {
        let partner: Arg = couple.other(me).map_or_else(
            || lib.t(kc::YOUR_PARTNER, &[]).into(),
            |o| o.person_ref().into(),
        );
        body = body.line(lib.t(
            k::MINE_READS,
            &[
                ("partner", partner),
                ("spot", p.reads.spot_on.to_string().into()),
                ("close", p.reads.close.to_string().into()),
                (
                    "guesses",
                    count(lib, p.reads.compared(), k::GUESS_ONE, k::GUESS_MANY).into(),
                ),
            ],
        ));
    }
    let mut panel = panel(lib.t(k::MINE_TITLE, &[]), body);
    panel.footer = Some(lib.t(k::MINE_FOOTER, &[]));
    Card::default().with_panel(panel)
}

/// The press on "Just my numbers": the clicker's own last seven days, privately.
pub async fn mine(st: &AppState, who: &Who, here: &Here, couple_id: CoupleId) -> FlowResult {
    let (couple, me) = super::access::partner_of(&st.pool, couple_id, who, here).await?;
    let today = crate::domain::time::local_date(couple.home_zone(), st.clock.now());
    let data = {
        let mut conn = st.pool.acquire().await?;
        recaps::week_data(&mut conn, &couple, Period::ending_on(today)).await?
    };
    let recap = dr::aggregate(&data);
    Ok(Answer::private(mine_card(
        &st.content,
        &couple,
        &recap,
        me.id,
    )))
}

fn period_line(p: Period) -> String {
    format!(
        "{} – {}",
        p.first().format("%a %-d %b"),
        p.last().format("%a %-d %b")
    )
}

/// The recap as a card. `names` are the partners' display names for the chart, in the order
/// of `recap.partners`. Drawing the chart is CPU work: callers on the async runtime run this
/// on a blocking thread.
pub fn card(
    recap: &Recap,
    names: &[String],
    lib: &Library,
    couple: &Couple,
    kind: Kind,
) -> Result<Card, chart::ChartError> {
    let category = choose_suggestion_category(recap);
    let suggestion = pick_suggestion(lib, category, couple.id, recap.period.week());
    let footer = lib.t(k::FOOTER, &[]);
    let idea = |p: &mut crate::transport::Panel| {
        if let Some(s) = suggestion.clone() {
            p.fields.push(field(lib.t(k::FIELD_IDEA, &[]), s));
        }
    };
    if recap.is_quiet() {
        let (title, body) = match kind {
            Kind::Weekly => (k::QUIET_TITLE, k::QUIET_BODY),
            Kind::SoFar => (k::QUIET_SO_FAR_TITLE, k::QUIET_SO_FAR_BODY),
        };
        let mut p = panel(
            lib.t(title, &[]),
            Text::plain(period_line(recap.period)).para(lib.t(body, &[])),
        );
        p.footer = Some(footer);
        idea(&mut p);
        let text = match kind {
            Kind::Weekly => lib.t(k::LEAD_QUIET, &[]),
            Kind::SoFar => Text::new(),
        };
        return Ok(Card::text(text).with_panel(p));
    }
    let png = chart::render_png(recap, names, lib)?;
    let alt = chart::alt_text(recap, names, lib);
    let (title, intro) = match kind {
        Kind::Weekly => (k::TITLE, k::INTRO),
        Kind::SoFar => (k::SO_FAR_TITLE, k::SO_FAR_INTRO),
    };
    let mut p = panel(
        lib.t(title, &[]),
        Text::plain(period_line(recap.period)).para(lib.t(intro, &[])),
    );
    p.fields.push(field(
        lib.t(k::FIELD_PRACTICE, &[]),
        practice_field(lib, recap),
    ));
    p.fields.push(field(
        lib.t(k::FIELD_READING, &[]),
        reading_field(lib, recap),
    ));
    p.footer = Some(footer);
    idea(&mut p);
    let text = match kind {
        Kind::Weekly => lib.t(k::LEAD, &[]),
        Kind::SoFar => Text::new(),
    };
    let mut card = Card::text(text)
        .with_panel(p)
        .with_buttons(vec![super::view::button(
            CustomId::Personal(couple.id, PersonalAction::MyNumbers),
            lib.s(k::MINE),
            crate::transport::Tone::Secondary,
        )]);
    card.image = Some(Image {
        png,
        filename: chart::FILENAME.to_string(),
        alt,
    });
    Ok(card)
}

/// Reads the period's revealed data, adds it up and renders it (the chart on a blocking
/// thread: it is CPU work that must not stall the scheduler's other jobs).
pub async fn build(
    st: &AppState,
    transport: &dyn Transport,
    couple: &Couple,
    period: Period,
    kind: Kind,
) -> Result<Card, FlowError> {
    let data = {
        let mut conn = st.pool.acquire().await?;
        recaps::week_data(&mut conn, couple, period).await?
    };
    let recap = dr::aggregate(&data);
    let names = if recap.is_quiet() {
        Vec::new()
    } else {
        display_names(st, transport, couple).await
    };
    let lib = st.content.clone();
    let couple = couple.clone();
    tokio::task::spawn_blocking(move || card(&recap, &names, &lib, &couple, kind))
        .await
        .map_err(|_| FlowError::internal(anyhow::anyhow!("the chart task stopped")))?
        .map_err(FlowError::internal)
}

/// The partners' names as the room shows them, for the chart legend and alt text. A name
/// that cannot be fetched becomes "Partner 1"/"Partner 2": the recap still goes out.
async fn display_names(st: &AppState, transport: &dyn Transport, couple: &Couple) -> Vec<String> {
    let mut out = Vec::with_capacity(couple.partners.len());
    for p in &couple.partners {
        let name = match transport.display_name(&couple.room, &p.person_ref()).await {
            Some(n) if !n.trim().is_empty() => n.trim().to_string(),
            _ => {
                tracing::debug!(couple_id = %couple.id, seat = p.seat, "partner name unavailable for the chart");
                st.content.sf(k::PARTNER_N, &[("n", &p.seat.to_string())])
            }
        };
        let mut short: String = name.chars().take(MAX_NAME).collect();
        if name.chars().count() > MAX_NAME {
            short.pop();
            short.push('…');
        }
        out.push(short);
    }
    out
}

/// `/recap`: the week so far, in the room (it only shows what both have already seen).
pub async fn now(st: &AppState, transport: &dyn Transport, who: &Who, here: &Here) -> FlowResult {
    let (couple, _) = couple_here(&st.pool, who, here).await?;
    let now = st.clock.now();
    let Some(settings) = schedules::couple(&st.pool, couple.id).await? else {
        return refuse(kc::NO_COUPLE_HERE);
    };
    let period = dr::current_period(couple.home_zone(), settings.recap_weekday, now);
    let card = build(st, transport, &couple, period, Kind::SoFar).await?;
    tracing::info!(couple_id = %couple.id, "recap shown on request");
    Ok(Answer::public(card))
}

/// Only checks that `/recap` may run here, so a refusal can stay a quick private answer
/// before a transport defers the slower work.
pub async fn may_show(st: &AppState, who: &Who, here: &Here) -> FlowResult<()> {
    couple_here(&st.pool, who, here).await.map(|_| ())
}

/// The scheduled recap of `week`: chain next week, then post this week's once.
pub async fn prepare(
    st: &AppState,
    transports: &crate::transport::Transports,
    job_id: JobId,
    couple_id: CoupleId,
    week: IsoWeek,
    missed: bool,
) -> Result<Plan, FlowError> {
    let now = st.clock.now();
    let Some(couple) = couples::get(&st.pool, couple_id, true).await? else {
        return Ok(Plan::Skipped("couple ended"));
    };
    // The scheduler only claims jobs of the transports this process serves.
    let Some(transport) = transports.get(couple.room.transport) else {
        return Err(FlowError::internal(anyhow::anyhow!(
            "recap claimed without its transport"
        )));
    };
    let mut tx = st.pool.begin().await?;
    couples::lock(&mut tx, couple_id).await?;
    let Some(settings) = schedules::couple(&mut *tx, couple_id).await? else {
        return Err(FlowError::internal(anyhow::anyhow!(
            "couple settings missing"
        )));
    };
    let home = couple.home_zone();
    // Chain next week first, so a skipped or missed week never breaks the rhythm.
    let this = dr::due(home, week, settings.recap_weekday, settings.recap_time);
    super::plan::schedule_recap_after(&mut tx, couple_id, home, &settings, this, now).await?;
    if missed {
        tx.commit().await?;
        return Ok(Plan::Missed);
    }
    // A pause promises that nothing is posted until it ends; a week paused throughout has
    // nothing to look back on either. `/recap` still works on request.
    if couple.is_paused(now) {
        tx.commit().await?;
        return Ok(Plan::Skipped("paused"));
    }
    let nonce = match recaps::claim(&mut tx, couple_id, week).await? {
        RecapSlot::Posted => {
            tx.commit().await?;
            return Ok(Plan::Skipped("already posted"));
        }
        RecapSlot::Unconfirmed { nonce } => nonce,
        RecapSlot::New => {
            let nonce = checkins::nonce_for(job_id.0);
            if !recaps::insert(&mut *tx, couple_id, week, &nonce).await? {
                tx.commit().await?;
                return Ok(Plan::Skipped("already posted"));
            }
            nonce
        }
    };
    tx.commit().await?;
    let period = dr::period_of(week, settings.recap_weekday);
    let card = build(st, transport, &couple, period, Kind::Weekly).await?;
    Ok(Plan::deliver(
        couple.room.clone(),
        card,
        nonce,
        Record::Recap {
            couple: couple_id,
            week,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::checkin::Mood;
    use crate::domain::couple::{Couple, Partner, Room};
    use crate::domain::ids::PersonId;
    use crate::domain::ids::{RoomId, TransportKind};
    use crate::domain::recap::{
        aggregate, period_of, PartnerInput, PracticeExtras, RevealedAnswer, RevealedRound, WeekData,
    };
    use chrono::{Duration, Weekday};
    use chrono_tz::Tz;

    /// A full week: alice answers every day, bob most days, moods drifting up.
    pub(crate) fn sample_week() -> WeekData {
        let period = period_of(IsoWeek::new(2026, 48).unwrap(), Weekday::Sun);
        let start: chrono::DateTime<chrono::Utc> = "2026-11-23T08:00:00Z".parse().unwrap();
        let mut rounds = Vec::new();
        for day in 0..7i64 {
            let at = start + Duration::days(day);
            let a = Mood::new(2 + (day / 2).min(3)).unwrap();
            let b = Mood::new(5 - (day % 3)).unwrap();
            let mut answers = vec![RevealedAnswer {
                user: PersonId(uuid::Uuid::from_u128(1)),
                at,
                day: None,
                mood: a,
                guess: Some(b),
            }];
            if day != 3 {
                answers.push(RevealedAnswer {
                    user: PersonId(uuid::Uuid::from_u128(2)),
                    at: at + Duration::hours(6),
                    day: None,
                    mood: b,
                    guess: Mood::new(i64::from(a.value()) + 1),
                });
            }
            rounds.push(RevealedRound { answers });
        }
        WeekData {
            period,
            partners: vec![
                PartnerInput {
                    user: PersonId(uuid::Uuid::from_u128(1)),
                    zone: Tz::Europe__Berlin,
                },
                PartnerInput {
                    user: PersonId(uuid::Uuid::from_u128(2)),
                    zone: Tz::America__New_York,
                },
            ],
            rounds,
            extras: PracticeExtras::default(),
        }
    }

    fn names() -> Vec<String> {
        vec!["alice".into(), "bob".into()]
    }

    fn couple() -> Couple {
        let partner = |n: u128, seat| Partner {
            person: PersonId(uuid::Uuid::from_u128(n)),
            handle: n.to_string(),
            seat,
            zone: None,
        };
        Couple {
            id: CoupleId::new(),
            room: Room {
                id: RoomId::new(),
                transport: TransportKind::Discord,
                external: "1".into(),
                space: None,
            },
            created_by: Some(PersonId(uuid::Uuid::from_u128(1))),
            created_at: chrono::Utc::now(),
            paused_until: None,
            unreachable_since: None,
            partners: vec![partner(1, 1), partner(2, 2)],
        }
    }

    fn plain(t: &Text) -> String {
        t.0.iter()
            .map(|p| match p {
                crate::transport::Part::Plain(s)
                | crate::transport::Part::User(s)
                | crate::transport::Part::Quote(s) => s.clone(),
                crate::transport::Part::Person(p) => format!("@{}", p.handle),
                crate::transport::Part::Instant(..) => "<time>".into(),
            })
            .collect()
    }

    fn card_text(c: &Card) -> String {
        let mut out = plain(&c.text);
        if let Some(p) = &c.panel {
            out.push_str(&plain(&p.title));
            out.push_str(&plain(&p.body));
            for f in &p.fields {
                out.push_str(&plain(&f.name));
                out.push_str(&plain(&f.value));
            }
        }
        out
    }

    fn decode(png_bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let decoder = png::Decoder::new(png_bytes);
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    #[test]
    fn chart_decodes_with_the_expected_size_and_is_not_blank() {
        let recap = aggregate(&sample_week());
        let png_bytes = chart::render_png(&recap, &names(), &Library::builtin()).unwrap();
        let (w, h, px) = decode(&png_bytes);
        assert_eq!((w, h), (chart::WIDTH, chart::HEIGHT));
        let colours: std::collections::HashSet<&[u8]> = px.chunks(3).collect();
        assert!(colours.len() > 20, "only {} colours", colours.len());
        // Both series colours are on the chart.
        for c in [[0u8, 114, 178], [213, 94, 0]] {
            assert!(px.chunks(3).any(|p| p == c), "missing series colour {c:?}");
        }
        if let Ok(dir) = std::env::var("ATTUNE_CHART_OUT") {
            std::fs::write(std::path::Path::new(&dir).join("mood.png"), &png_bytes).unwrap();
        }
    }

    #[test]
    fn alt_text_describes_the_trend() {
        let recap = aggregate(&sample_week());
        let alt = chart::alt_text(&recap, &names(), &Library::builtin());
        assert!(alt.len() <= chart::MAX_ALT);
        assert!(
            alt.contains("alice: 7 days, rising from low to good"),
            "{alt}"
        );
        assert!(alt.contains("bob: 6 days"), "{alt}");
        assert!(
            alt.contains("Monday 23 November to Sunday 29 November"),
            "{alt}"
        );
    }

    #[test]
    fn card_has_the_chart_and_a_suggestion() {
        let lib = Library::builtin();
        let recap = aggregate(&sample_week());
        let c = card(&recap, &names(), &lib, &couple(), Kind::Weekly).unwrap();
        let image = c.image.as_ref().expect("the chart");
        assert_eq!(image.filename, "mood.png");
        assert!(image.alt.contains("alice"));
        let text = card_text(&c);
        assert!(
            text.contains("7 check-ins this week · 6 with both of you"),
            "{text}"
        );
        assert!(text.contains("One idea for next week"), "{text}");
        // No scoreboard: nobody is named next to a number in the room.
        assert!(!text.contains('@'), "{text}");
        assert!(
            c.ids()
                .iter()
                .any(|i| i.act()
                    == crate::domain::custom_id::Act::Personal(PersonalAction::MyNumbers)),
            "each can see their own numbers privately"
        );
        let bob = mine_card(&lib, &couple(), &recap, PersonId(uuid::Uuid::from_u128(2)));
        let mine = card_text(&bob);
        assert!(mine.contains("6 check-ins on 6 of 7 days"), "{mine}");
        assert!(mine.contains("guesses about @1"), "{mine}");
        assert!(!mine.contains("7 check-ins"), "only their own: {mine}");
        // A quiet week: a note, no numbers, no chart.
        let quiet = aggregate(&WeekData {
            rounds: vec![],
            ..sample_week()
        });
        let q = card(&quiet, &names(), &lib, &couple(), Kind::Weekly).unwrap();
        assert!(q.image.is_none());
        let text = card_text(&q);
        assert!(text.contains("quiet week"), "{text}");
        assert!(!text.contains("check-ins on"), "{text}");
    }

    #[test]
    fn suggestions_rotate_within_their_category() {
        let lib = Library::builtin();
        let couple = CoupleId::new();
        let w = IsoWeek::new(2026, 48).unwrap();
        let a = plain(&pick_suggestion(&lib, "steady", couple, w).unwrap());
        let b = plain(&pick_suggestion(&lib, "steady", couple, w.next()).unwrap());
        assert_ne!(a, b);
        assert!(lib
            .suggestions
            .iter()
            .any(|s| s.category == "steady" && s.text == a));
        assert!(pick_suggestion(&lib, "nope", couple, w).is_none());
    }
}
