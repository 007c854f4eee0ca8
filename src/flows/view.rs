//! Small builders the journeys' cards share.

use crate::domain::custom_id::CustomId;
use crate::transport::{Button, Panel, Text, Tone};

pub fn button(id: CustomId, label: impl Into<String>, tone: Tone) -> Button {
    Button {
        id,
        label: label.into(),
        tone,
    }
}

pub fn panel(title: impl Into<Text>, body: impl Into<Text>) -> Panel {
    Panel {
        title: title.into(),
        body: body.into(),
        fields: Vec::new(),
        footer: None,
    }
}

/// Whitespace only: trims, and keeps at most one blank line in a row. Words are never cut;
/// over-long text is refused instead.
pub fn tidy(text: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for line in text.trim().lines().map(str::trim_end) {
        if line.is_empty() && out.last().is_some_and(|l| l.is_empty()) {
            continue;
        }
        out.push(line);
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidy_trims_and_keeps_words() {
        assert_eq!(tidy("  hello \n\n\n\nworld  "), "hello\n\nworld");
        assert_eq!(tidy(" \n "), "");
    }
}
