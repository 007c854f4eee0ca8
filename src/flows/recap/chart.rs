//! The mood chart: both partners' daily moods over the recap's seven local days, as a PNG,
//! plus alt text that says in words what the chart shows.
//!
//! Drawn with plotters into an in-memory RGB buffer and encoded with `png`. Text uses DejaVu
//! Sans compiled into the binary (registered with plotters' `ab_glyph` backend), so the chart
//! looks the same on every host and never reads system fonts. Sizes are chosen for a phone:
//! Discord shows embed images about 350 px wide there, so text is large relative to the image.

use std::sync::Once;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontStyle;

use crate::content::copy::keys::recap as k;
use crate::content::Library;
use crate::domain::checkin::Mood;
use crate::domain::recap::{PartnerRecap, Recap, Trend};

/// Width of the PNG in pixels.
pub const WIDTH: u32 = 800;
/// Height of the PNG in pixels.
pub const HEIGHT: u32 = 450;
/// The attachment's file name; the embed refers to it as `attachment://mood.png`.
pub const FILENAME: &str = "mood.png";
/// Discord's limit on an attachment description (the alt text).
pub const MAX_ALT: usize = 1024;

/// The font family name the chart registers its embedded font under.
const FAMILY: &str = "attune-sans";

const BACKGROUND: RGBColor = RGBColor(255, 252, 247);
const INK: RGBColor = RGBColor(51, 51, 61);
const SOFT_INK: RGBColor = RGBColor(110, 110, 122);
const GRID: RGBColor = RGBColor(228, 224, 218);
/// Okabe–Ito blue and vermillion: distinct for colour-blind readers too; each partner also
/// gets a different marker shape, so colour is never the only cue.
const SERIES: [RGBColor; 2] = [RGBColor(0, 114, 178), RGBColor(213, 94, 0)];

#[derive(Debug, thiserror::Error)]
#[error("could not draw the mood chart: {0}")]
pub struct ChartError(String);

fn fail(e: impl std::fmt::Display) -> ChartError {
    ChartError(e.to_string())
}

/// Registers the embedded font once per process.
fn register_fonts() {
    static FONTS: Once = Once::new();
    FONTS.call_once(|| {
        // DejaVu is a valid TrueType font; if registration ever failed, text would be missing
        // from the chart but the chart itself would still draw.
        if plotters::style::register_font(FAMILY, FontStyle::Normal, dejavu::sans::regular())
            .is_err()
        {
            tracing::warn!("could not register the chart font");
        }
        let _ = plotters::style::register_font(FAMILY, FontStyle::Bold, dejavu::sans::bold());
    });
}

fn font(size: f64) -> FontDesc<'static> {
    FontDesc::new(FontFamily::Name(FAMILY), size, FontStyle::Normal)
}

fn bold(size: f64) -> FontDesc<'static> {
    FontDesc::new(FontFamily::Name(FAMILY), size, FontStyle::Bold)
}

/// Draws the chart and returns the PNG bytes. `names` are the partners' display names, in
/// the order of `recap.partners`.
pub fn render_png(recap: &Recap, names: &[String], lib: &Library) -> Result<Vec<u8>, ChartError> {
    register_fonts();
    let mut pixels = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    draw(recap, names, lib, &mut pixels)?;
    encode(&pixels)
}

fn encode(pixels: &[u8]) -> Result<Vec<u8>, ChartError> {
    let mut out = Vec::with_capacity(32 * 1024);
    let mut enc = png::Encoder::new(&mut out, WIDTH, HEIGHT);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    // A flat-coloured chart compresses well even on the fast setting.
    enc.set_compression(png::Compression::Fast);
    let mut writer = enc.write_header().map_err(fail)?;
    writer.write_image_data(pixels).map_err(fail)?;
    writer.finish().map_err(fail)?;
    Ok(out)
}

fn draw(
    recap: &Recap,
    names: &[String],
    lib: &Library,
    pixels: &mut [u8],
) -> Result<(), ChartError> {
    let root = BitMapBackend::with_buffer(pixels, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&BACKGROUND).map_err(fail)?;
    let (head, body) = root.split_vertically(104);

    let period = recap.period;
    let title = lib.sf(
        k::CHART_TITLE,
        &[
            ("from", &period.first().format("%a %-d %b").to_string()),
            ("to", &period.last().format("%a %-d %b").to_string()),
        ],
    );
    head.draw(&Text::new(
        title,
        (28, 30),
        bold(32.0)
            .color(&INK)
            .pos(Pos::new(HPos::Left, VPos::Center)),
    ))
    .map_err(fail)?;
    legend(&head, recap, names)?;

    let mut chart = ChartBuilder::on(&body)
        .margin_left(16)
        .margin_right(32)
        .margin_top(8)
        .margin_bottom(8)
        .x_label_area_size(44)
        .y_label_area_size(96)
        .build_cartesian_2d(-0.4f64..6.4f64, 0.6f64..5.4f64)
        .map_err(fail)?;

    // Our own grid and labels: one line per mood, named, and one label per day.
    for mood in Mood::ALL {
        let y = f64::from(mood.value());
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(-0.4, y), (6.4, y)],
                GRID.stroke_width(2),
            )))
            .map_err(fail)?;
    }
    // Labels go on the root area: `backend_coord` answers in whole-image pixels.
    for mood in Mood::ALL {
        let (px, py) = chart.backend_coord(&(-0.4, f64::from(mood.value())));
        root.draw(&Text::new(
            mood_label(lib, mood),
            (px - 14, py),
            font(24.0)
                .color(&SOFT_INK)
                .pos(Pos::new(HPos::Right, VPos::Center)),
        ))
        .map_err(fail)?;
    }
    for (i, date) in period.days().iter().enumerate() {
        let (px, py) = chart.backend_coord(&(i as f64, 0.6));
        root.draw(&Text::new(
            date.format("%a").to_string(),
            (px, py + 24),
            font(24.0)
                .color(&SOFT_INK)
                .pos(Pos::new(HPos::Center, VPos::Center)),
        ))
        .map_err(fail)?;
    }

    for (k, p) in recap.partners.iter().enumerate().take(2) {
        let colour = SERIES[k];
        // Nudge the two series apart a little, so equal moods show both markers.
        let dodge = if k == 0 { -0.06 } else { 0.06 };
        // Lines join consecutive days only: a day without a check-in is a gap, not a dip.
        for run in runs(p, dodge) {
            chart
                .draw_series(LineSeries::new(run, colour.stroke_width(5)))
                .map_err(fail)?;
        }
        let points = p
            .days
            .iter()
            .enumerate()
            .filter_map(|(i, d)| d.mean.map(|m| (i as f64 + dodge, m)));
        if k == 0 {
            chart
                .draw_series(points.map(|c| Circle::new(c, 9, colour.filled())))
                .map_err(fail)?;
        } else {
            chart
                .draw_series(points.map(|c| {
                    EmptyElement::at(c) + Rectangle::new([(-8, -8), (8, 8)], colour.filled())
                }))
                .map_err(fail)?;
        }
    }
    root.present().map_err(fail)?;
    Ok(())
}

/// Consecutive days with a mood, as line runs.
fn runs(p: &PartnerRecap, dodge: f64) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut cur = Vec::new();
    for (i, d) in p.days.iter().enumerate() {
        match d.mean {
            Some(m) => cur.push((i as f64 + dodge, m)),
            None => {
                if cur.len() > 1 {
                    out.push(std::mem::take(&mut cur));
                }
                cur.clear();
            }
        }
    }
    if cur.len() > 1 {
        out.push(cur);
    }
    out
}

fn legend<DB: DrawingBackend>(
    head: &DrawingArea<DB, plotters::coord::Shift>,
    recap: &Recap,
    names: &[String],
) -> Result<(), ChartError> {
    let mut x = 28;
    let y = 78;
    for (k, p) in recap.partners.iter().enumerate().take(2) {
        let colour = SERIES[k];
        let name = names.get(k).map(String::as_str).unwrap_or_default();
        let label = match p.days_practised {
            0 => format!("{name} · no check-ins"),
            1 => format!("{name} · 1 day"),
            n => format!("{name} · {n} days"),
        };
        head.draw(&PathElement::new(
            vec![(x, y), (x + 40, y)],
            colour.stroke_width(5),
        ))
        .map_err(fail)?;
        if k == 0 {
            head.draw(&Circle::new((x + 20, y), 8, colour.filled()))
                .map_err(fail)?;
        } else {
            head.draw(&Rectangle::new(
                [(x + 12, y - 8), (x + 28, y + 8)],
                colour.filled(),
            ))
            .map_err(fail)?;
        }
        let style = font(24.0)
            .color(&INK)
            .pos(Pos::new(HPos::Left, VPos::Center));
        let width = head
            .estimate_text_size(&label, &style)
            .map(|(w, _)| w as i32)
            .unwrap_or(240);
        head.draw(&Text::new(label, (x + 52, y), style))
            .map_err(fail)?;
        x += 52 + width + 40;
    }
    Ok(())
}

/// The chart's name for a mood ("Good"), from `content/`.
pub fn mood_label(lib: &Library, m: Mood) -> String {
    lib.s(match m.value() {
        1 => k::MOOD_1,
        2 => k::MOOD_2,
        3 => k::MOOD_3,
        4 => k::MOOD_4,
        _ => k::MOOD_5,
    })
}

fn mood_word(lib: &Library, m: Mood) -> String {
    mood_label(lib, m).to_lowercase()
}

/// Alt text: what the chart shows, in words, for screen readers and for anyone whose image
/// did not load. At most [`MAX_ALT`] characters.
pub fn alt_text(recap: &Recap, names: &[String], lib: &Library) -> String {
    let period = recap.period;
    let mut out = lib.sf(
        k::ALT_INTRO,
        &[
            ("from", &period.first().format("%A %-d %B").to_string()),
            ("to", &period.last().format("%A %-d %B").to_string()),
        ],
    );
    for (n, p) in recap.partners.iter().enumerate() {
        let fallback = lib.sf(k::PARTNER_N, &[("n", &(n + 1).to_string())]);
        let name = names.get(n).map(String::as_str).unwrap_or(&fallback);
        let days = match p.days_practised {
            1 => lib.s(k::ONE_DAY),
            d => lib.sf(k::N_DAYS, &[("n", &d.to_string())]),
        };
        let w = |m| mood_word(lib, m);
        let line = match p.trend() {
            Trend::NoData => lib.sf(k::ALT_NONE, &[("name", name)]),
            Trend::Once(m) => lib.sf(k::ALT_ONCE, &[("name", name), ("mood", &w(m))]),
            Trend::Rising { from, to } => lib.sf(
                k::ALT_RISING,
                &[
                    ("name", name),
                    ("days", &days),
                    ("from", &w(from)),
                    ("to", &w(to)),
                ],
            ),
            Trend::Easing { from, to } => lib.sf(
                k::ALT_EASING,
                &[
                    ("name", name),
                    ("days", &days),
                    ("from", &w(from)),
                    ("to", &w(to)),
                ],
            ),
            Trend::Steady(m) => lib.sf(
                k::ALT_STEADY,
                &[("name", name), ("days", &days), ("mood", &w(m))],
            ),
        };
        out.push(' ');
        out.push_str(&line);
    }
    truncate(out, MAX_ALT)
}

fn truncate(s: String, max: usize) -> String {
    if s.chars().count() <= max {
        return s;
    }
    let mut t: String = s.chars().take(max - 1).collect();
    t.push('…');
    t
}
