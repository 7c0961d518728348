//! Tools a method's loop can call between model calls. `Lookup[keyword]`
//! is ReAct's passage tool: it returns the next sentence of the item's
//! passage that contains the keyword.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

/// A `Lookup[keyword]` action.
static ACTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"Lookup\[([^\]\n]*)\]").expect("a fixed regular expression compiles")
});

/// Where a sentence ends: `.`, `!` or `?` and a space, or a line break.
static SENTENCE_END: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[.!?](?:\s+|$)|\n+").expect("a fixed regular expression compiles")
});

/// ReAct's lookup over one passage; repeated lookups of a keyword walk
/// through its matches, then say there are no more.
pub(crate) struct Lookup {
    sentences: Vec<String>,
    /// Matches already returned, per keyword (lower-cased).
    seen: HashMap<String, usize>,
    /// Observations made so far (they are numbered from 1).
    observations: usize,
}

impl Lookup {
    pub(crate) fn new(passage: &str) -> Self {
        Lookup {
            sentences: sentences(passage),
            seen: HashMap::new(),
            observations: 0,
        }
    }

    /// The observation for the last `Lookup[keyword]` action in a model
    /// turn, as the line to append ("Observation n: …"); None when the turn
    /// asks for no lookup.
    pub(crate) fn observe(&mut self, turn: &str) -> Option<String> {
        let keyword = ACTION
            .captures_iter(turn)
            .last()?
            .get(1)?
            .as_str()
            .trim()
            .to_lowercase();
        self.observations += 1;
        let result = if keyword.is_empty() {
            "Lookup needs a keyword.".to_string()
        } else {
            let skip = self.seen.entry(keyword.clone()).or_insert(0);
            let found = self
                .sentences
                .iter()
                .filter(|s| s.to_lowercase().contains(&keyword))
                .nth(*skip);
            match found {
                Some(sentence) => {
                    *skip += 1;
                    sentence.clone()
                }
                None if *skip == 0 => format!("No sentence of the passage contains \"{keyword}\"."),
                None => "No more results.".to_string(),
            }
        };
        Some(format!("Observation {}: {result}", self.observations))
    }
}

/// The passage cut into sentences (after `.`, `!` or `?` and a space, or at
/// a line break).
fn sentences(passage: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    // Match ends are char boundaries, so the slices cannot fail.
    let ends = SENTENCE_END
        .find_iter(passage)
        .map(|m| m.end())
        .chain([passage.len()]);
    for end in ends {
        let sentence = passage.get(start..end).unwrap_or_default().trim();
        if !sentence.is_empty() {
            out.push(sentence.to_string());
        }
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSAGE: &str =
        "The Eiffel Tower is in Paris. It was built by the company of Gustave Eiffel! \
        Gustave Eiffel was born in Dijon.\nThe tower was completed in 1889";

    #[test]
    fn the_passage_is_cut_into_sentences() {
        assert_eq!(
            sentences(PASSAGE),
            [
                "The Eiffel Tower is in Paris.",
                "It was built by the company of Gustave Eiffel!",
                "Gustave Eiffel was born in Dijon.",
                "The tower was completed in 1889",
            ]
        );
    }

    #[test]
    fn lookups_walk_through_the_matches_then_say_no_more() {
        let mut tool = Lookup::new(PASSAGE);
        assert_eq!(tool.observe("Thought 1: who?\nAction 1: think"), None);
        assert_eq!(
            tool.observe("Action 1: Lookup[EIFFEL]").as_deref(),
            Some("Observation 1: The Eiffel Tower is in Paris.")
        );
        assert_eq!(
            tool.observe("Lookup[a] then Lookup[eiffel]").as_deref(),
            Some("Observation 2: It was built by the company of Gustave Eiffel!"),
            "the last action in the turn counts, and a repeat gives the next match"
        );
        tool.observe("Lookup[eiffel]");
        assert_eq!(
            tool.observe("Lookup[eiffel]").as_deref(),
            Some("Observation 4: No more results.")
        );
        assert_eq!(
            tool.observe("Lookup[London]").as_deref(),
            Some("Observation 5: No sentence of the passage contains \"london\".")
        );
        assert_eq!(
            tool.observe("Lookup[ ]").as_deref(),
            Some("Observation 6: Lookup needs a keyword.")
        );
    }
}
