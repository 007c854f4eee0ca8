//! Forgiving IANA time-zone lookup: exact names in any case, city-only input ("berlin"), and
//! suggestions for typos. The result is always a `chrono_tz::Tz`, never a string.

use chrono_tz::{Tz, TZ_VARIANTS};

/// Longer than any IANA name (the longest is about 32 characters); refuse before searching.
pub const MAX_INPUT: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZoneError {
    #[error("empty time zone")]
    Empty,
    #[error("time zone name too long")]
    TooLong,
    #[error("unknown time zone")]
    Unknown { suggestions: Vec<&'static str> },
}

fn normalise(s: &str) -> String {
    s.trim().replace(' ', "_").to_ascii_lowercase()
}

/// Names worth offering: real region/city names, not legacy aliases like `US/Pacific` or `EST`.
fn offerable(name: &str) -> bool {
    const REGIONS: &[&str] = &[
        "Africa/",
        "America/",
        "Antarctica/",
        "Asia/",
        "Atlantic/",
        "Australia/",
        "Europe/",
        "Indian/",
        "Pacific/",
        "Arctic/",
    ];
    name == "UTC" || REGIONS.iter().any(|r| name.starts_with(r))
}

fn city(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// Parses a user's input into a zone.
pub fn parse_zone(input: &str) -> Result<Tz, ZoneError> {
    let n = normalise(input);
    if n.is_empty() {
        return Err(ZoneError::Empty);
    }
    if n.chars().count() > MAX_INPUT {
        return Err(ZoneError::TooLong);
    }
    if let Some(tz) = TZ_VARIANTS
        .iter()
        .find(|tz| tz.name().to_ascii_lowercase() == n)
    {
        return Ok(*tz);
    }
    // City-only input is accepted when exactly one offerable zone has that city.
    let mut by_city = TZ_VARIANTS
        .iter()
        .filter(|tz| offerable(tz.name()) && city(tz.name()).to_ascii_lowercase() == n);
    if let (Some(tz), None) = (by_city.next(), by_city.next()) {
        return Ok(*tz);
    }
    Err(ZoneError::Unknown {
        suggestions: suggest(input, 5),
    })
}

/// Up to `limit` zone names for autocomplete or a "did you mean", best first.
pub fn suggest(input: &str, limit: usize) -> Vec<&'static str> {
    let n = normalise(input);
    if n.chars().count() > MAX_INPUT {
        return Vec::new();
    }
    let mut scored: Vec<(u32, usize, &'static str)> = TZ_VARIANTS
        .iter()
        .map(|tz| tz.name())
        .filter(|name| offerable(name))
        .filter_map(|name| {
            let full = name.to_ascii_lowercase();
            let c = city(name).to_ascii_lowercase();
            let score = if n.is_empty() {
                // Nothing typed yet: offer a stable, familiar start.
                if matches!(
                    name,
                    "UTC"
                        | "Europe/London"
                        | "Europe/Berlin"
                        | "America/New_York"
                        | "America/Los_Angeles"
                        | "Asia/Tokyo"
                        | "Australia/Sydney"
                ) {
                    0
                } else {
                    return None;
                }
            } else if full == n || c == n {
                0
            } else if c.starts_with(&n) {
                1
            } else if full.starts_with(&n) {
                2
            } else if c.contains(&n) {
                3
            } else if full.contains(&n) {
                4
            } else {
                let d = levenshtein(&n, &c).min(levenshtein(&n, &full));
                // Allow roughly one typo per four letters.
                if d <= 1 + n.len() / 4 {
                    10 + d as u32
                } else {
                    return None;
                }
            };
            // Shorter city names first among equals: "lon" means London before Longyearbyen.
            Some((score, city(name).len(), name))
        })
        .collect();
    scored.sort();
    scored.into_iter().take(limit).map(|(_, _, n)| n).collect()
}

fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_names_in_any_case() {
        assert_eq!(parse_zone("Europe/Berlin"), Ok(Tz::Europe__Berlin));
        assert_eq!(parse_zone("europe/berlin"), Ok(Tz::Europe__Berlin));
        assert_eq!(parse_zone("  AMERICA/NEW_YORK "), Ok(Tz::America__New_York));
        assert_eq!(parse_zone("utc"), Ok(Tz::UTC));
    }

    #[test]
    fn city_only() {
        assert_eq!(parse_zone("berlin"), Ok(Tz::Europe__Berlin));
        assert_eq!(parse_zone("new york"), Ok(Tz::America__New_York));
        assert_eq!(parse_zone("Kathmandu"), Ok(Tz::Asia__Kathmandu));
    }

    #[test]
    fn unknown_gets_suggestions() {
        match parse_zone("Berlinn") {
            Err(ZoneError::Unknown { suggestions }) => {
                assert_eq!(
                    suggestions.first(),
                    Some(&"Europe/Berlin"),
                    "{suggestions:?}"
                );
                assert!(suggestions.len() <= 5);
            }
            other => panic!("{other:?}"),
        }
        match parse_zone("Mars/Olympus_Mons") {
            Err(ZoneError::Unknown { suggestions }) => assert!(suggestions.len() <= 5),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn empty_and_long_are_refused() {
        assert_eq!(parse_zone(""), Err(ZoneError::Empty));
        assert_eq!(parse_zone("   "), Err(ZoneError::Empty));
        assert_eq!(parse_zone(&"x".repeat(500)), Err(ZoneError::TooLong));
        assert!(suggest(&"x".repeat(500), 25).is_empty());
    }

    #[test]
    fn autocomplete_prefers_city_prefix() {
        let s = suggest("lon", 25);
        assert_eq!(s.first(), Some(&"Europe/London"), "{s:?}");
        assert!(s.len() <= 25);
        assert!(!suggest("", 25).is_empty());
    }
}
