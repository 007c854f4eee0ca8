//! Schedules: each partner's times (on `partners`) and the couple's shared settings (on
//! `couples`).

use chrono::{Duration, NaiveTime};
use chrono_tz::Tz;
use sqlx::PgExecutor;

use super::people::parse_stored_zone;
use crate::domain::ids::{CoupleId, PersonId};
use crate::domain::schedule::{weekday_from_iso, CoupleSettings, MicroFrequency, PartnerSchedule};
use crate::domain::time::Weekdays;

#[derive(sqlx::FromRow)]
pub(super) struct PartnerRow {
    time_zone: Option<String>,
    morning_time: Option<NaiveTime>,
    evening_time: Option<NaiveTime>,
    days: i16,
    waking_start: NaiveTime,
    waking_end: NaiveTime,
}

/// A partner's schedule; a partner without a zone yet is scheduled in UTC until they set one.
pub async fn partner(
    ex: impl PgExecutor<'_>,
    couple: CoupleId,
    user: PersonId,
) -> sqlx::Result<Option<PartnerSchedule>> {
    let row: Option<PartnerRow> = sqlx::query_as(
        "select pe.time_zone, p.morning_time, p.evening_time, p.days, p.waking_start, p.waking_end
         from partners p join people pe on pe.id = p.person_id
         where p.couple_id = $1 and p.person_id = $2",
    )
    .bind(couple.0)
    .bind(user.0)
    .fetch_optional(ex)
    .await?;
    Ok(row.map(PartnerRow::into_schedule))
}

impl PartnerRow {
    pub(super) fn into_schedule(self) -> PartnerSchedule {
        PartnerSchedule {
            zone: self
                .time_zone
                .as_deref()
                .and_then(parse_stored_zone)
                .unwrap_or(Tz::UTC),
            morning: self.morning_time,
            evening: self.evening_time,
            days: Weekdays(self.days as u8),
            waking_start: self.waking_start,
            waking_end: self.waking_end,
        }
    }
}

pub async fn save_partner(
    ex: impl PgExecutor<'_>,
    couple: CoupleId,
    user: PersonId,
    s: &PartnerSchedule,
) -> sqlx::Result<()> {
    sqlx::query(
        "update partners set morning_time = $3, evening_time = $4, days = $5, waking_start = $6, waking_end = $7
         where couple_id = $1 and person_id = $2",
    )
    .bind(couple.0)
    .bind(user.0)
    .bind(s.morning)
    .bind(s.evening)
    .bind(i16::from(s.days.0))
    .bind(s.waking_start)
    .bind(s.waking_end)
    .execute(ex)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
pub(super) struct CoupleRow {
    window_minutes: i32,
    reminder_minutes: Option<i32>,
    quiet_start: Option<NaiveTime>,
    quiet_end: Option<NaiveTime>,
    recap_weekday: i16,
    recap_time: NaiveTime,
    micro_frequency: String,
    weekly_enabled: bool,
    weekly_weekday: Option<i16>,
    weekly_time: Option<NaiveTime>,
    apart: bool,
}

pub async fn couple(
    ex: impl PgExecutor<'_>,
    couple: CoupleId,
) -> sqlx::Result<Option<CoupleSettings>> {
    let row: Option<CoupleRow> = sqlx::query_as(
        "select window_minutes, reminder_minutes, quiet_start, quiet_end, recap_weekday, recap_time,
                micro_frequency, weekly_enabled, weekly_weekday, weekly_time, apart
         from couples where id = $1",
    )
    .bind(couple.0)
    .fetch_optional(ex)
    .await?;
    Ok(row.map(CoupleRow::into_settings))
}

impl CoupleRow {
    pub(super) fn into_settings(self) -> CoupleSettings {
        let r = self;
        CoupleSettings {
            window: Duration::minutes(i64::from(r.window_minutes)),
            reminder: r.reminder_minutes.map(|m| Duration::minutes(i64::from(m))),
            quiet: r.quiet_start.zip(r.quiet_end),
            recap_weekday: weekday_from_iso(r.recap_weekday),
            recap_time: r.recap_time,
            micro: MicroFrequency::parse(&r.micro_frequency).unwrap_or(MicroFrequency::Few),
            weekly_on: r.weekly_enabled,
            weekly_day: r.weekly_weekday.map(weekday_from_iso),
            weekly_time: r.weekly_time,
            apart: r.apart,
        }
    }
}

/// Locks a couple's row (its shared settings) until the transaction ends, so an edit reads
/// and writes them without another edit in between. The lock is the one an update of a
/// setting takes anyway (`no key update`): jobs being scheduled for the couple meanwhile are
/// not held up. False when the couple does not exist.
pub async fn lock_couple(ex: impl PgExecutor<'_>, couple: CoupleId) -> sqlx::Result<bool> {
    let found: Option<i32> =
        sqlx::query_scalar("select 1 from couples where id = $1 for no key update")
            .bind(couple.0)
            .fetch_optional(ex)
            .await?;
    Ok(found.is_some())
}

pub async fn save_couple(
    ex: impl PgExecutor<'_>,
    couple: CoupleId,
    s: &CoupleSettings,
) -> sqlx::Result<()> {
    sqlx::query(
        "update couples set window_minutes = $2, reminder_minutes = $3, quiet_start = $4, quiet_end = $5,
                recap_weekday = $6, recap_time = $7, micro_frequency = $8,
                weekly_enabled = $9, weekly_weekday = $10, weekly_time = $11, apart = $12
         where id = $1",
    )
    .bind(couple.0)
    .bind(s.window.num_minutes() as i32)
    .bind(s.reminder.map(|d| d.num_minutes() as i32))
    .bind(s.quiet.map(|q| q.0))
    .bind(s.quiet.map(|q| q.1))
    .bind(s.recap_weekday.number_from_monday() as i16)
    .bind(s.recap_time)
    .bind(s.micro.as_str())
    .bind(s.weekly_on)
    .bind(s.weekly_day.map(|d| d.number_from_monday() as i16))
    .bind(s.weekly_time)
    .bind(s.apart)
    .execute(ex)
    .await?;
    Ok(())
}

/// The live couples a person belongs to (their zone change re-plans all of them).
pub async fn couples_of(ex: impl PgExecutor<'_>, user: PersonId) -> sqlx::Result<Vec<CoupleId>> {
    let ids: Vec<uuid::Uuid> = sqlx::query_scalar(
        "select c.id from couples c join partners p on p.couple_id = c.id
         where p.person_id = $1 and c.ended_at is null",
    )
    .bind(user.0)
    .fetch_all(ex)
    .await?;
    Ok(ids.into_iter().map(CoupleId).collect())
}
