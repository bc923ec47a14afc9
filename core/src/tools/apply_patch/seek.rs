//! Finding a chunk's lines in a file. Models reproduce context imperfectly
//! (trailing spaces dropped, indentation changed, typographic quotes typed
//! as ASCII), so matching relaxes step by step, and the strictest level that
//! matches anywhere wins over a looser one that matches earlier.

/// How two lines are compared, strictest first.
const LEVELS: [fn(&str, &str) -> bool; 4] = [
    |a, b| a == b,
    |a, b| a.trim_end() == b.trim_end(),
    |a, b| a.trim() == b.trim(),
    |a, b| normalized(a.trim()).eq(normalized(b.trim())),
];

/// The start of the first occurrence of `pattern` in `lines` at or after
/// `start`, or `None`. An empty pattern matches at `start`.
///
/// With `end_of_file`, a match that ends the file (or is followed only by
/// blank lines) is preferred at every level; only when there is none is the
/// pattern sought anywhere after `start`, as a model that wrote
/// `*** End of File` over an edit near the end still means that edit.
pub fn seek_sequence<L: AsRef<str>, P: AsRef<str>>(
    lines: &[L],
    pattern: &[P],
    start: usize,
    end_of_file: bool,
) -> Option<usize> {
    if pattern.is_empty() {
        return Some(start.min(lines.len()));
    }
    if pattern.len() > lines.len() || start > lines.len() - pattern.len() {
        return None;
    }
    let last_start = lines.len() - pattern.len();
    let matches_at = |eq: fn(&str, &str) -> bool, at: usize| {
        lines[at..at + pattern.len()]
            .iter()
            .zip(pattern)
            .all(|(line, pat)| eq(line.as_ref(), pat.as_ref()))
    };
    if end_of_file {
        // Positions whose match would be followed only by blank lines,
        // nearest the end first.
        let tail_blank = lines
            .iter()
            .rev()
            .take_while(|l| l.as_ref().trim().is_empty())
            .count();
        let lowest = last_start.saturating_sub(tail_blank).max(start);
        for eq in LEVELS {
            if let Some(at) = (lowest..=last_start).rev().find(|&at| matches_at(eq, at)) {
                return Some(at);
            }
        }
    }
    LEVELS
        .into_iter()
        .find_map(|eq| (start..=last_start).find(|&at| matches_at(eq, at)))
}

/// The characters of `s` with typographic punctuation replaced by the ASCII
/// a model would type: dashes, quotes and unusual spaces.
fn normalized(s: &str) -> impl Iterator<Item = char> + '_ {
    s.chars().map(|c| match c {
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE58}' | '\u{FE63}' | '\u{FF0D}' => '-',
        '\u{2018}'..='\u{201B}' | '\u{2032}' | '\u{FF07}' => '\'',
        '\u{201C}'..='\u{201F}' | '\u{2033}' | '\u{FF02}' => '"',
        '\u{00A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => ' ',
        '\u{2026}' => '.',
        other => other,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn v(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn exact_match() {
        let lines = v(&["a", "b", "c", "b"]);
        assert_eq!(seek_sequence(&lines, &v(&["b"]), 0, false), Some(1));
        assert_eq!(seek_sequence(&lines, &v(&["b"]), 2, false), Some(3));
        assert_eq!(seek_sequence(&lines, &v(&["b", "c"]), 0, false), Some(1));
        assert_eq!(seek_sequence(&lines, &v(&["x"]), 0, false), None);
    }

    #[test]
    fn each_fallback_level() {
        let lines = v(&["fn main()   ", "    let x = 1;", "say “hi” — now\u{a0}ok"]);
        assert_eq!(seek_sequence(&lines, &v(&["fn main()"]), 0, false), Some(0));
        assert_eq!(
            seek_sequence(&lines, &v(&["let x = 1;  "]), 0, false),
            Some(1)
        );
        assert_eq!(
            seek_sequence(&lines, &v(&["say \"hi\" - now ok"]), 0, false),
            Some(2)
        );
    }

    #[test]
    fn stricter_level_wins_over_earlier_looser_match() {
        let lines = v(&["  x", "x"]);
        assert_eq!(seek_sequence(&lines, &v(&["x"]), 0, false), Some(1));
    }

    #[test]
    fn end_of_file_prefers_the_end() {
        let lines = v(&["x", "y", "x", "y"]);
        assert_eq!(seek_sequence(&lines, &v(&["x", "y"]), 0, true), Some(2));
        let trailing_blank = v(&["x", "y", "z", ""]);
        assert_eq!(seek_sequence(&trailing_blank, &v(&["z"]), 0, true), Some(2));
        // Not at the end: found where it is rather than failing.
        assert_eq!(seek_sequence(&lines, &v(&["y", "x"]), 0, true), Some(1));
    }

    #[test]
    fn degenerate_inputs() {
        assert_eq!(seek_sequence(&v(&["a"]), &v(&[]), 0, false), Some(0));
        assert_eq!(seek_sequence(&v(&["a"]), &v(&["a", "b"]), 0, false), None);
        assert_eq!(seek_sequence(&v(&["a", "b"]), &v(&["a"]), 2, false), None);
        assert_eq!(seek_sequence(&v(&[]), &v(&["a"]), 0, true), None);
    }
}
