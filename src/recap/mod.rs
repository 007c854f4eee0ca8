//! The weekly recap as the couple reads it: the embed (practice, reading each other, one
//! idea for next week) and the mood chart attached as `mood.png`.
//!
//! It shows practice and accuracy, never a grade of the relationship: counts of what each of
//! you did, how your guesses landed, and a gentle suggestion chosen from what the week showed.
//! A week with nothing in it gets a short friendly note instead of a row of zeros.

pub mod chart;

use poise::serenity_prelude as serenity;
use serenity::{CreateAttachment, CreateEmbed, CreateEmbedFooter, CreateMessage};

use crate::content::{expand, Library};
use crate::discord::no_pings;
use crate::discord::render::COLOUR;
use crate::domain::ids::CoupleId;
use crate::domain::recap::{choose_suggestion_category, IsoWeek, PartnerRecap, Recap};

pub use chart::ChartError;

/// Which recap is being shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The scheduled look back at the end of the week.
    Weekly,
    /// `/recap`: the week so far.
    SoFar,
}

/// A recap ready to post: the embed and, unless the week was quiet, the chart.
pub struct Rendered {
    pub content: String,
    pub embed: CreateEmbed,
    pub chart: Option<Chart>,
}

/// The chart PNG and its alt text.
pub struct Chart {
    pub png: Vec<u8>,
    pub alt: String,
}

impl Rendered {
    fn attachment(&self) -> Option<CreateAttachment> {
        self.chart.as_ref().map(|c| {
            CreateAttachment::bytes(c.png.clone(), chart::FILENAME).description(c.alt.clone())
        })
    }

    /// The scheduled post (sent with a nonce by the caller). Nobody is pinged: the recap is
    /// something to read together, not an alarm.
    pub fn message(&self) -> CreateMessage {
        let mut m = CreateMessage::new()
            .content(self.content.clone())
            .embed(self.embed.clone())
            .allowed_mentions(no_pings());
        if let Some(a) = self.attachment() {
            m = m.add_file(a);
        }
        m
    }

    /// The reply to `/recap`.
    pub fn reply(&self) -> poise::CreateReply {
        let mut r = poise::CreateReply::default()
            .content(self.content.clone())
            .embed(self.embed.clone())
            .allowed_mentions(no_pings());
        if let Some(a) = self.attachment() {
            r = r.attachment(a);
        }
        r
    }
}

/// One suggestion of `category`, rotating week by week in an order of the couple's own, so
/// the same idea does not come back every week.
pub fn pick_suggestion(
    lib: &Library,
    category: &str,
    couple: CoupleId,
    week: IsoWeek,
) -> Option<String> {
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
    Some(expand(pool[i as usize], "your partner", "you"))
}

fn plural(n: u32, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

fn practice_line(p: &PartnerRecap) -> String {
    let who = p.user.mention();
    match (p.checkins, p.days_practised) {
        (0, _) => format!("{who} · no check-ins this time, and that's okay"),
        (n, d) => format!(
            "{who} · {} on {} of 7 days",
            plural(n, "check-in", "check-ins"),
            d
        ),
    }
}

fn practice_field(r: &Recap) -> String {
    let mut lines: Vec<String> = r.partners.iter().map(practice_line).collect();
    if r.micro_done() > 0 {
        let each: Vec<String> = r
            .partners
            .iter()
            .map(|p| format!("{} {}", p.user.mention(), p.micro_done))
            .collect();
        lines.push(format!("Small moments of attention: {}", each.join(" · ")));
    }
    if r.repairs_started > 0 || r.repairs_completed > 0 {
        lines.push(if r.repairs_completed >= r.repairs_started {
            format!(
                "{} worked through together 🤝",
                plural(r.repairs_completed, "repair", "repairs")
            )
        } else {
            format!(
                "Repairs: {} started, {} worked through",
                r.repairs_started, r.repairs_completed
            )
        });
    }
    if r.agreements_made > 0 || r.agreements_revisited > 0 {
        lines.push(format!(
            "Agreements: {} made, {} revisited",
            r.agreements_made, r.agreements_revisited
        ));
    }
    lines.join("\n")
}

fn reading_field(r: &Recap) -> String {
    let lines: Vec<String> = r
        .partners
        .iter()
        .filter(|p| p.reads.compared() > 0)
        .map(|p| {
            let other = r
                .partners
                .iter()
                .find(|o| o.user != p.user)
                .map_or("your partner".to_string(), |o| o.user.mention());
            let t = p.reads;
            format!(
                "{} read {other}: {} spot on, {} close, of {}",
                p.user.mention(),
                t.spot_on,
                t.close,
                plural(t.compared(), "guess", "guesses")
            )
        })
        .collect();
    if lines.is_empty() {
        "No guesses to compare yet. They show up when you've both answered the same check-in."
            .to_string()
    } else {
        let mut s = lines.join("\n");
        s.push_str("\nEvery guess is practice, whichever way it lands.");
        s
    }
}

fn period_line(r: &Recap) -> String {
    let p = r.period;
    format!(
        "{} – {}",
        p.first().format("%a %-d %b"),
        p.last().format("%a %-d %b")
    )
}

/// Renders a recap. `names` are the partners' display names for the chart, in the order of
/// `recap.partners`. Drawing the chart is CPU work: callers on the async runtime run this on
/// a blocking thread.
pub fn render(
    recap: &Recap,
    names: &[String],
    lib: &Library,
    couple: CoupleId,
    kind: Kind,
) -> Result<Rendered, ChartError> {
    let category = choose_suggestion_category(recap);
    let suggestion = pick_suggestion(lib, category, couple, recap.period.week());
    let footer = CreateEmbedFooter::new(
        "A look at your practice, never a grade. Attune is a practice companion, not therapy.",
    );
    if recap.is_quiet() {
        let (title, body) = match kind {
            Kind::Weekly => (
                "A quiet week 🌿",
                "Nothing to look back on this week, and that's perfectly okay. Life gets full.",
            ),
            Kind::SoFar => (
                "Your week so far 🌿",
                "Nothing to show yet this week. Check-ins appear here once they've been revealed to you both.",
            ),
        };
        let mut embed = CreateEmbed::new()
            .colour(COLOUR)
            .title(title)
            .description(format!("{}\n\n{body}", period_line(recap)))
            .footer(footer);
        if let Some(s) = suggestion {
            embed = embed.field("One idea for next week", s, false);
        }
        return Ok(Rendered {
            content: match kind {
                Kind::Weekly => "Your weekly recap is here.".to_string(),
                Kind::SoFar => String::new(),
            },
            embed,
            chart: None,
        });
    }
    let png = chart::render_png(recap, names)?;
    let alt = chart::alt_text(recap, names);
    let (title, intro) = match kind {
        Kind::Weekly => (
            "Your week together 💛",
            "Here's the practice you two put in this week.",
        ),
        Kind::SoFar => (
            "Your week so far 💛",
            "Here's your practice so far this week.",
        ),
    };
    let mut embed = CreateEmbed::new()
        .colour(COLOUR)
        .title(title)
        .description(format!("{}\n\n{intro}", period_line(recap)))
        .field("Practice", practice_field(recap), false)
        .field("Reading each other", reading_field(recap), false)
        .image(format!("attachment://{}", chart::FILENAME))
        .footer(footer);
    if let Some(s) = suggestion {
        embed = embed.field("One idea for next week", s, false);
    }
    Ok(Rendered {
        content: match kind {
            Kind::Weekly => "Your weekly recap is here. 💛".to_string(),
            Kind::SoFar => String::new(),
        },
        embed,
        chart: Some(Chart { png, alt }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::checkin::Mood;
    use crate::domain::ids::UserId;
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
                user: UserId(1),
                at,
                day: None,
                mood: a,
                guess: Some(b),
            }];
            if day != 3 {
                answers.push(RevealedAnswer {
                    user: UserId(2),
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
                    user: UserId(1),
                    zone: Tz::Europe__Berlin,
                },
                PartnerInput {
                    user: UserId(2),
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
        let png_bytes = chart::render_png(&recap, &names()).unwrap();
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
        let alt = chart::alt_text(&recap, &names());
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
    fn embed_has_the_chart_and_a_suggestion() {
        let lib = Library::builtin();
        let recap = aggregate(&sample_week());
        let r = render(&recap, &names(), &lib, CoupleId::new(), Kind::Weekly).unwrap();
        let json = serde_json::to_value(&r.embed).unwrap();
        assert_eq!(json["image"]["url"], "attachment://mood.png");
        let text = json.to_string();
        assert!(text.contains("7 check-ins on 7 of 7 days"), "{text}");
        assert!(text.contains("One idea for next week"), "{text}");
        assert!(r.chart.is_some());
        // A quiet week: a note, no numbers, no chart.
        let quiet = aggregate(&WeekData {
            rounds: vec![],
            ..sample_week()
        });
        let q = render(&quiet, &names(), &lib, CoupleId::new(), Kind::Weekly).unwrap();
        assert!(q.chart.is_none());
        let text = serde_json::to_value(&q.embed).unwrap().to_string();
        assert!(text.contains("quiet week"), "{text}");
        assert!(!text.contains("check-ins on"), "{text}");
    }

    #[test]
    fn suggestions_rotate_within_their_category() {
        let lib = Library::builtin();
        let couple = CoupleId::new();
        let w = IsoWeek::new(2026, 48).unwrap();
        let a = pick_suggestion(&lib, "steady", couple, w).unwrap();
        let b = pick_suggestion(&lib, "steady", couple, w.next()).unwrap();
        assert_ne!(a, b);
        assert!(lib
            .suggestions
            .iter()
            .any(|s| s.category == "steady" && s.text == a));
        assert!(pick_suggestion(&lib, "nope", couple, w).is_none());
    }
}
