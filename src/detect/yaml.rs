//! A YAML tree that remembers where each node starts, so load errors can name line and column.
//!
//! `yaml-rust2`'s own `Yaml` drops positions; its event parser keeps them, so we build the
//! tree from events.

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Nesting of YAML sequences and mappings (rules files need four or five levels).
const MAX_YAML_DEPTH: usize = 32;

/// A position in a source file: 1-based line and column, and the byte offset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mark {
    pub byte: usize,
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// Text and whether it was written without quotes (plain scalars may be null/booleans).
    Scalar(String, bool),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    pub mark: Mark,
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar(s, _) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar(s, true) if s.is_empty() || s == "~" || s == "null")
    }

    pub fn as_bool(&self) -> Option<bool> {
        match &self.kind {
            NodeKind::Scalar(s, true) => match s.as_str() {
                "true" | "True" | "TRUE" => Some(true),
                "false" | "False" | "FALSE" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            NodeKind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// Converts to JSON (used for test-case files); plain scalars become numbers/bools/null.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            NodeKind::Scalar(s, false) => Value::String(s.clone()),
            NodeKind::Scalar(s, true) => plain_scalar_json(s),
            NodeKind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeKind::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.as_str().unwrap_or_default().to_owned(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

fn plain_scalar_json(s: &str) -> serde_json::Value {
    use serde_json::Value;
    match s {
        "" | "~" | "null" => Value::Null,
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => {
            if let Ok(n) = s.parse::<i64>() {
                Value::from(n)
            } else if let Ok(f) = s.parse::<f64>() {
                Value::from(f)
            } else {
                Value::String(s.to_owned())
            }
        }
    }
}

#[derive(Debug)]
pub struct YamlError {
    pub mark: Mark,
    pub reason: String,
}

/// Parses one YAML document; an empty file is an empty sequence.
pub fn parse(source: &str) -> Result<Node, YamlError> {
    let mut builder = Builder {
        source,
        char_to_byte: CharIndex::new(source),
        stack: Vec::new(),
        root: None,
        too_deep: None,
    };
    // Events one by one rather than `Parser::load`, which recurses once per nesting level.
    let mut parser = Parser::new_from_str(source);
    loop {
        let (event, marker) = parser.next_token().map_err(|e| YamlError {
            mark: builder.mark(*e.marker()),
            reason: format!("invalid YAML: {}", e.info()),
        })?;
        if matches!(event, Event::StreamEnd | Event::DocumentEnd) {
            break;
        }
        // An escape (`"\0"`, `"\x00"`) puts a NUL in a name, an output or a tag that the
        // text itself does not show; Postgres refuses NUL in text, so every runtime event of
        // such a rule would fail to be written.
        if matches!(&event, Event::Scalar(text, ..) if text.contains('\0')) {
            return Err(YamlError {
                mark: builder.mark(marker),
                reason: "a NUL character (an escape like \"\\0\") is not allowed".into(),
            });
        }
        builder.on_event(event, marker);
        if let Some(mark) = builder.too_deep {
            return Err(YamlError {
                mark,
                reason: format!("YAML nested deeper than {MAX_YAML_DEPTH} levels"),
            });
        }
    }
    Ok(builder.root.unwrap_or(Node {
        kind: NodeKind::Seq(Vec::new()),
        mark: Mark {
            byte: 0,
            line: 1,
            column: 1,
        },
    }))
}

/// Maps the parser's character offsets to byte offsets.
struct CharIndex {
    /// Byte offset of every char, only built when the text is not ASCII.
    offsets: Option<Vec<usize>>,
    len: usize,
}

impl CharIndex {
    fn new(source: &str) -> Self {
        let offsets = (!source.is_ascii()).then(|| source.char_indices().map(|(i, _)| i).collect());
        CharIndex {
            offsets,
            len: source.len(),
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        match &self.offsets {
            None => char_index.min(self.len),
            Some(o) => o.get(char_index).copied().unwrap_or(self.len),
        }
    }
}

enum Frame {
    Seq(Mark, Vec<Node>),
    Map(Mark, Vec<(Node, Node)>, Option<Node>),
}

struct Builder<'s> {
    #[allow(dead_code)]
    source: &'s str,
    char_to_byte: CharIndex,
    stack: Vec<Frame>,
    root: Option<Node>,
    /// Where nesting first went past the bound: a hostile file must not build a tree whose
    /// recursive drop or walk overflows the stack.
    too_deep: Option<Mark>,
}

impl Builder<'_> {
    fn mark(&self, m: Marker) -> Mark {
        Mark {
            byte: self.char_to_byte.byte(m.index()),
            line: m.line(),
            column: m.col() + 1,
        }
    }

    fn push_node(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq(_, items)) => items.push(node),
            Some(Frame::Map(_, entries, key)) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            },
        }
    }
}

impl Builder<'_> {
    fn on_event(&mut self, ev: Event, marker: Marker) {
        let mark = self.mark(marker);
        if matches!(ev, Event::SequenceStart(..) | Event::MappingStart(..))
            && self.stack.len() >= MAX_YAML_DEPTH
        {
            self.too_deep = Some(mark);
            return;
        }
        match ev {
            Event::Scalar(text, style, _, _) => {
                let plain = matches!(style, TScalarStyle::Plain);
                self.push_node(Node {
                    kind: NodeKind::Scalar(text, plain),
                    mark,
                });
            }
            Event::Alias(_) => self.push_node(Node {
                kind: NodeKind::Scalar(String::new(), true),
                mark,
            }),
            Event::SequenceStart(..) => self.stack.push(Frame::Seq(mark, Vec::new())),
            Event::MappingStart(..) => self.stack.push(Frame::Map(mark, Vec::new(), None)),
            Event::SequenceEnd | Event::MappingEnd => {
                let node = match self.stack.pop() {
                    Some(Frame::Seq(m, items)) => Node {
                        kind: NodeKind::Seq(items),
                        mark: m,
                    },
                    Some(Frame::Map(m, entries, _)) => Node {
                        kind: NodeKind::Map(entries),
                        mark: m,
                    },
                    None => return,
                };
                self.push_node(node);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let doc = parse("- rule: a\n  desc: b\n").unwrap();
        let item = &doc.as_seq().unwrap()[0];
        let desc = item.get("desc").unwrap();
        assert_eq!((desc.mark.line, desc.mark.column), (2, 9));
        assert_eq!(desc.as_str(), Some("b"));
    }

    #[test]
    fn deep_nesting_is_refused() {
        for deep in [
            format!("{}x{}", "[".repeat(100_000), "]".repeat(100_000)),
            format!("{}x", "- ".repeat(100_000)),
            format!("{}x", "{a: ".repeat(100_000)),
        ] {
            // Flow collections may hit yaml-rust2's own limit first.
            let err = parse(&deep).unwrap_err();
            assert!(
                err.reason.contains("nested deeper") || err.reason.contains("recursion limit"),
                "{err:?}"
            );
        }
    }

    #[test]
    fn escaped_nul_is_refused_with_its_position() {
        for escaped in [r#""a\0b""#, r#""\x00""#, r#""\u0000""#] {
            let err = parse(&format!("- rule: a\n  output: {escaped}\n")).unwrap_err();
            assert_eq!(
                (err.mark.line, err.mark.column),
                (2, 11),
                "{escaped}: {err:?}"
            );
        }
    }

    #[test]
    fn invalid_yaml_has_position() {
        let err = parse("- rule: a\n  desc: [b\n").unwrap_err();
        assert!(err.mark.line >= 2, "{err:?}");
    }
}
