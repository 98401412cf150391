//! Condition text with where each piece came from, mapped back to file:line:column.

use crate::detect::yaml::Mark;

/// A condition's text, possibly concatenated by appends, with where each piece came from.
#[derive(Debug, Clone)]
pub(super) struct CondText {
    pub(super) text: String,
    segs: Vec<Seg>,
}

#[derive(Debug, Clone, Copy)]
struct Seg {
    start: usize,
    len: usize,
    file: usize,
    mark: Mark,
}

impl CondText {
    pub(super) fn new(text: &str, file: usize, mark: Mark) -> Self {
        CondText {
            text: text.to_owned(),
            segs: vec![Seg {
                start: 0,
                len: text.len(),
                file,
                mark,
            }],
        }
    }

    /// Falco appends a condition's text after a space.
    pub(super) fn append(&mut self, other: &CondText) {
        self.text.push(' ');
        let base = self.text.len();
        self.text.push_str(&other.text);
        self.segs.extend(other.segs.iter().map(|s| Seg {
            start: s.start + base,
            ..*s
        }));
    }

    /// Maps an offset in the text back to the file: finds the same token at the same
    /// occurrence in the source after the scalar's start (quotes and folding shift columns).
    pub(super) fn locate(&self, pos: usize, files: &[(&str, &str)]) -> (usize, Mark) {
        let seg = self
            .segs
            .iter()
            .rev()
            .find(|s| s.start <= pos)
            .unwrap_or(&self.segs[0]);
        let seg_text = &self.text[seg.start..seg.start + seg.len];
        let rel = (pos - seg.start).min(seg_text.len());
        let token: String = seg_text[rel..]
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '"')
            .take(40)
            .collect();
        let source = files[seg.file].1;
        if token.is_empty() || seg.mark.byte > source.len() {
            return (seg.file, seg.mark);
        }
        let nth = seg_text[..rel].matches(token.as_str()).count();
        let found = source[seg.mark.byte..]
            .match_indices(token.as_str())
            .nth(nth);
        match found {
            Some((at, _)) => (seg.file, mark_at(source, seg.mark.byte + at)),
            None => (seg.file, seg.mark),
        }
    }
}

fn mark_at(source: &str, byte: usize) -> Mark {
    let before = &source[..byte];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Mark {
        byte,
        line: before.matches('\n').count() + 1,
        column: before[line_start..].chars().count() + 1,
    }
}
