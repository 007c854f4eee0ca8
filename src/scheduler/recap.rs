//! Running the weekly recap: chain next week's recap, then post this week's once. The
//! `recaps` row keyed by (couple, ISO week) makes a second post impossible, across retries
//! and restarts; its nonce makes a re-send after a lost response return the first message.
//! `build` is shared with `/recap`, which shows the week so far on request.

use poise::serenity_prelude as serenity;

use super::{plan, JobCx, JobError, Outcome};
use crate::app::AppState;
use crate::domain::couple::Couple;
use crate::domain::ids::{CoupleId, JobId};
use crate::domain::recap::{self as dr, IsoWeek, Period};
use crate::recap::{self as view, Kind, Rendered};
use crate::store::recap::{self as recaps, RecapSlot};
use crate::store::{checkins, couples, schedules};

/// Posts the recap of `week`.
pub async fn run(
    cx: &JobCx,
    job_id: JobId,
    couple_id: CoupleId,
    week: IsoWeek,
    missed: bool,
) -> Result<Outcome, JobError> {
    let st = &cx.state;
    let now = st.clock.now();
    let Some(couple) = couples::get(&st.pool, couple_id, true).await? else {
        return Ok(Outcome::Skipped("couple ended"));
    };
    let mut tx = st.pool.begin().await?;
    couples::lock(&mut tx, couple_id).await?;
    let settings = schedules::couple(&mut *tx, couple_id)
        .await?
        .ok_or_else(|| JobError::Transient("couple settings missing".into()))?;
    let home = couple.home_zone();
    // Chain next week first, so a skipped or missed week never breaks the rhythm.
    let this = dr::due(home, week, settings.recap_weekday, settings.recap_time);
    plan::schedule_recap_after(&mut tx, couple_id, home, &settings, this, now).await?;
    if missed {
        tx.commit().await?;
        return Ok(Outcome::Missed);
    }
    // A pause promises that nothing is posted until it ends; a week paused throughout has
    // nothing to look back on either. `/recap` still works on request.
    if couple.is_paused(now) {
        tx.commit().await?;
        return Ok(Outcome::Skipped("paused"));
    }
    let nonce = match recaps::claim(&mut tx, couple_id, week).await? {
        RecapSlot::Posted => {
            tx.commit().await?;
            return Ok(Outcome::Skipped("already posted"));
        }
        RecapSlot::Unconfirmed { nonce } => nonce,
        RecapSlot::New => {
            let nonce = checkins::nonce_for(job_id.0);
            if !recaps::insert(&mut *tx, couple_id, week, &nonce).await? {
                tx.commit().await?;
                return Ok(Outcome::Skipped("already posted"));
            }
            nonce
        }
    };
    tx.commit().await?;
    let period = dr::period_of(week, settings.recap_weekday);
    let rendered = build(st, &cx.http, &couple, period, Kind::Weekly).await?;
    let mid = cx
        .post(couple_id, couple.channel, rendered.message(), &nonce)
        .await?;
    recaps::mark_posted(&st.pool, couple_id, week, mid.0, now).await?;
    tracing::info!(couple_id = %couple_id, week = %week, quiet = rendered.chart.is_none(), "weekly recap posted");
    Ok(Outcome::Done)
}

/// Reads the period's revealed data, adds it up and renders it (the chart on a blocking
/// thread: it is CPU work that must not stall the scheduler's other jobs).
pub async fn build(
    state: &AppState,
    http: &serenity::Http,
    couple: &Couple,
    period: Period,
    kind: Kind,
) -> Result<Rendered, JobError> {
    let data = {
        let mut conn = state.pool.acquire().await?;
        crate::store::recap::week_data(&mut conn, couple, period).await?
    };
    let recap = dr::aggregate(&data);
    let names = if recap.is_quiet() {
        Vec::new()
    } else {
        display_names(http, couple).await
    };
    let lib = state.content.clone();
    let id = couple.id;
    tokio::task::spawn_blocking(move || view::render(&recap, &names, &lib, id, kind))
        .await
        .map_err(|_| JobError::Transient("the chart task stopped".into()))?
        .map_err(|e| JobError::Transient(e.to_string()))
}

/// Longest name drawn on the chart, in characters.
const MAX_NAME: usize = 20;

/// The partners' names as the server shows them, for the chart legend and alt text. A name
/// that cannot be fetched becomes "Partner 1"/"Partner 2": the recap still goes out.
pub async fn display_names(http: &serenity::Http, couple: &Couple) -> Vec<String> {
    let guild = serenity::GuildId::new(couple.guild.0);
    let mut out = Vec::with_capacity(couple.partners.len());
    for p in &couple.partners {
        let fetched = guild
            .member(http, serenity::UserId::new(p.user.0))
            .await
            .map(|m| m.display_name().trim().to_string());
        let name = match fetched {
            Ok(n) if !n.is_empty() => n,
            Ok(_) | Err(_) => {
                tracing::debug!(couple_id = %couple.id, seat = p.seat, "partner name unavailable for the chart");
                format!("Partner {}", p.seat)
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
