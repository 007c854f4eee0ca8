//! How alike two texts are, for refusing near-duplicates in the library: the Dice coefficient
//! of the sets of character trigrams of a normalised form (lower case, placeholders as `x`,
//! anything but letters, digits and spaces as a space, spaces collapsed, one space of padding
//! at each end).

use std::collections::HashSet;

/// Texts at least this alike are near-duplicates.
pub const THRESHOLD: f64 = 0.72;

fn normalise(text: &str) -> String {
    let text = text
        .to_lowercase()
        .replace("{partner}", "x")
        .replace("{name}", "x");
    let mapped: String = text
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == ' ' {
                c
            } else {
                ' '
            }
        })
        .collect();
    let collapsed = mapped.split_whitespace().collect::<Vec<_>>().join(" ");
    format!(" {collapsed} ")
}

/// The trigrams of a text, once normalised.
pub fn trigrams(text: &str) -> HashSet<[char; 3]> {
    let chars: Vec<char> = normalise(text).chars().collect();
    chars.windows(3).map(|w| [w[0], w[1], w[2]]).collect()
}

/// Dice coefficient of two trigram sets, 0 (nothing shared) to 1 (the same).
pub fn dice(a: &HashSet<[char; 3]>, b: &HashSet<[char; 3]>) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let shared = a.intersection(b).count();
    2.0 * shared as f64 / (a.len() + b.len()) as f64
}

/// Every pair of texts at or above [`THRESHOLD`], by index, with its score.
pub fn near_duplicates(texts: &[&str]) -> Vec<(usize, usize, f64)> {
    let grams: Vec<_> = texts.iter().map(|t| trigrams(t)).collect();
    let mut out = Vec::new();
    for i in 0..grams.len() {
        for j in i + 1..grams.len() {
            let d = dice(&grams[i], &grams[j]);
            if d >= THRESHOLD {
                out.push((i, j, d));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_duplicates_are_caught_and_different_texts_pass() {
        let a = trigrams("What made you smile today?");
        let b = trigrams("What made you smile or laugh today?");
        let c = trigrams("Where would you like to travel together next year?");
        assert!(dice(&a, &b) >= THRESHOLD, "{}", dice(&a, &b));
        assert!(dice(&a, &c) < 0.4, "{}", dice(&a, &c));
        assert_eq!(dice(&a, &a), 1.0);
        // Case, punctuation and placeholders do not make texts different.
        let d = trigrams("what MADE you smile, today");
        assert!(dice(&a, &d) > 0.95);
        assert_eq!(
            near_duplicates(&["Ask {partner} one thing.", "Ask {name} one thing!"]).len(),
            1
        );
    }
}
