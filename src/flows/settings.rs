//! Settings and rhythm: each partner's own schedule and the couple's shared settings
//! (`schedule`), a pause for a trip (`pause`) and coming back (`resume`).

use chrono::{Duration, NaiveTime, Weekday};

use super::access::couple_here;
use super::view::{describe_days, field, panel, shared_line, upcoming_lines};
use super::{refuse, refuse_with, Answer, FlowResult, Here, Who};
use crate::content::copy::keys::{common as kc, settings as k, time as kt};
use crate::content::copy::Arg;
use crate::domain::schedule::MicroFrequency;
use crate::domain::time::{parse_hhmm, Weekdays};
use crate::state::AppState;
use crate::store::{couples, jobs, schedules};
use crate::transport::{Card, TimeStyle};

/// What `schedule` may change; every field is optional and parsed before anything is saved.
#[derive(Debug, Clone, Default)]
pub struct ScheduleInput {
    pub morning: Option<String>,
    pub evening: Option<String>,
    pub days: Option<String>,
    pub waking_start: Option<String>,
    pub waking_end: Option<String>,
    pub window_hours: Option<i64>,
    pub reminder_minutes: Option<i64>,
    pub quiet_start: Option<String>,
    pub quiet_end: Option<String>,
    pub micro: Option<MicroFrequency>,
    pub recap_day: Option<Weekday>,
    pub recap_time: Option<String>,
    pub weekly: Option<WeeklyDay>,
    pub weekly_time: Option<String>,
    /// Whether the two live apart (calls and messages) or together.
    pub apart: Option<bool>,
}

/// When the weekly check-in comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeeklyDay {
    Off,
    /// The recap's day (the default).
    RecapDay,
    Day(Weekday),
}

/// "HH:MM" or "off"; `Ok(None)` means off.
fn time_or_off(option: &str, v: &str) -> FlowResult<Option<NaiveTime>> {
    let t = v.trim().to_ascii_lowercase();
    if matches!(t.as_str(), "off" | "none" | "no") {
        return Ok(None);
    }
    match parse_hhmm(&t) {
        Some(t) => Ok(Some(t)),
        None => refuse_with(k::TIME_OR_OFF, vec![("option", option.into())]),
    }
}

fn time_required(option: &str, v: &str) -> FlowResult<NaiveTime> {
    match parse_hhmm(v) {
        Some(t) => Ok(t),
        None => refuse_with(k::TIME_REQUIRED, vec![("option", option.into())]),
    }
}

/// `schedule …`: parses every option first, so one bad option changes nothing.
pub async fn schedule(st: &AppState, who: &Who, here: &Here, input: &ScheduleInput) -> FlowResult {
    let (couple, me) = couple_here(&st.pool, who, here).await?;
    let lib = &st.content;
    let now = st.clock.now();
    // Both partners may change shared settings at the same moment: the couple's row is
    // locked before anything is read, so the second edit starts from the first one's result
    // instead of writing back what it read before (which would undo the first).
    let mut tx = st.pool.begin().await?;
    if !schedules::lock_couple(&mut *tx, couple.id).await? {
        return refuse(kc::NO_COUPLE_HERE);
    }
    let Some(mut mine) = schedules::partner(&mut *tx, couple.id, me.id).await? else {
        return refuse(kc::NOT_YOUR_SPACE);
    };
    let Some(mut shared) = schedules::couple(&mut *tx, couple.id).await? else {
        return refuse(kc::NO_COUPLE_HERE);
    };
    if let Some(v) = &input.morning {
        mine.morning = time_or_off("morning", v)?;
    }
    if let Some(v) = &input.evening {
        mine.evening = time_or_off("evening", v)?;
    }
    if let Some(v) = &input.days {
        mine.days = match Weekdays::parse(v) {
            Some(d) => d,
            None => return refuse(k::BAD_DAYS),
        };
    }
    if let Some(v) = &input.waking_start {
        mine.waking_start = time_required("waking_start", v)?;
    }
    if let Some(v) = &input.waking_end {
        mine.waking_end = time_required("waking_end", v)?;
    }
    if mine.waking_start >= mine.waking_end {
        return refuse(k::BAD_WAKING);
    }
    if let Some(h) = input.window_hours {
        shared.window = Duration::hours(h.clamp(1, 24));
    }
    if let Some(m) = input.reminder_minutes {
        shared.reminder = match m {
            0 => None,
            m if m < 10 => return refuse(k::BAD_REMINDER),
            m => Some(Duration::minutes(m.min(1440))),
        };
    }
    let default_end = NaiveTime::from_hms_opt(7, 0, 0).expect("valid");
    let default_start = NaiveTime::from_hms_opt(22, 0, 0).expect("valid");
    match (&input.quiet_start, &input.quiet_end) {
        (Some(s), e) => match time_or_off("quiet_start", s)? {
            None => shared.quiet = None,
            Some(start) => {
                let end = match e {
                    Some(e) => time_required("quiet_end", e)?,
                    None => shared.quiet.map_or(default_end, |q| q.1),
                };
                shared.quiet = Some((start, end));
            }
        },
        (None, Some(e)) => {
            let end = time_required("quiet_end", e)?;
            let start = shared.quiet.map_or(default_start, |q| q.0);
            shared.quiet = Some((start, end));
        }
        (None, None) => {}
    }
    if let Some(m) = input.micro {
        shared.micro = m;
    }
    if let Some(d) = input.recap_day {
        shared.recap_weekday = d;
    }
    if let Some(v) = &input.recap_time {
        shared.recap_time = time_required("recap_time", v)?;
    }
    match input.weekly {
        Some(WeeklyDay::Off) => shared.weekly_on = false,
        Some(WeeklyDay::RecapDay) => {
            shared.weekly_on = true;
            shared.weekly_day = None;
        }
        Some(WeeklyDay::Day(d)) => {
            shared.weekly_on = true;
            shared.weekly_day = Some(d);
        }
        None => {}
    }
    if let Some(v) = &input.weekly_time {
        shared.weekly_time = Some(time_required("weekly_time", v)?);
        shared.weekly_on = true;
    }
    if let Some(apart) = input.apart {
        shared.apart = apart;
    }
    schedules::save_partner(&mut *tx, couple.id, me.id, &mine).await?;
    schedules::save_couple(&mut *tx, couple.id, &shared).await?;
    // Shared settings (quiet hours, nudges) shape both partners' plans.
    super::plan::plan_couple(
        &mut tx,
        st.config.scheduler.seed,
        couple.id,
        &couple.partner_ids(),
        now,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(couple_id = %couple.id, "schedule updated");
    let upcoming = jobs::upcoming_posts(&st.pool, couple.id).await?;
    let t = |v: Option<NaiveTime>| v.map_or(lib.s(kt::OFF), |t| t.format("%H:%M").to_string());
    let mut p = panel(
        lib.t(k::SAVED_TITLE, &[]),
        lib.t(
            k::SAVED_MINE,
            &[
                ("person", me.into()),
                ("morning", t(mine.morning).into()),
                ("evening", t(mine.evening).into()),
                ("days", describe_days(lib, mine.days).into()),
                ("zone", mine.zone.name().into()),
                (
                    "waking_start",
                    mine.waking_start.format("%H:%M").to_string().into(),
                ),
                (
                    "waking_end",
                    mine.waking_end.format("%H:%M").to_string().into(),
                ),
            ],
        ),
    );
    p.fields.push(field(
        lib.t(crate::content::copy::keys::onboarding::FIELD_NEXT, &[]),
        upcoming_lines(lib, &couple, &upcoming, 4),
    ));
    p.fields.push(field(
        lib.t(crate::content::copy::keys::onboarding::FIELD_RHYTHM, &[]),
        shared_line(lib, &couple, &shared),
    ));
    Ok(Answer::private(Card::default().with_panel(p)))
}

/// `pause days:N`: nothing is posted until then.
pub async fn pause(st: &AppState, who: &Who, here: &Here, days: i64) -> FlowResult {
    let (couple, me) = couple_here(&st.pool, who, here).await?;
    let until = st.clock.now() + Duration::days(days.clamp(1, 60));
    couples::set_paused_until(&st.pool, couple.id, Some(until)).await?;
    tracing::info!(couple_id = %couple.id, "paused");
    Ok(Answer::public(Card::text(st.content.t(
        k::PAUSED,
        &[
            ("person", me.into()),
            ("until", Arg::Instant(until, TimeStyle::Full)),
        ],
    ))))
}

/// `resume`: prompts pick up at the next scheduled times.
pub async fn resume(st: &AppState, who: &Who, here: &Here) -> FlowResult {
    let (couple, me) = couple_here(&st.pool, who, here).await?;
    let was_paused = couple.is_paused(st.clock.now());
    couples::resume(&st.pool, couple.id).await?;
    // Reveals that waited while the room refused the bot go out now, not at their next
    // back-off.
    let now = st.clock.now();
    if crate::store::jobs::bring_forward_waiting(&st.pool, couple.id, "checkin_reveal", now).await?
        > 0
    {
        st.wake.notify_one();
    }
    tracing::info!(couple_id = %couple.id, "resumed");
    let text = if was_paused {
        st.content.t(k::RESUMED, &[("person", me.into())])
    } else {
        st.content.t(k::NOT_PAUSED, &[])
    };
    Ok(Answer::public(Card::text(text)))
}
