//! The subset of Okta's SCIM filter the System Log needs:
//! `path op "value"` clauses (`eq ne sw co`, dotted paths such as `eventType` or
//! `outcome.result`) joined by `and` / `or` (`and` binds tighter; no parentheses).

use serde_json::Value;

#[derive(Debug)]
pub(crate) struct Filter {
    /// OR of AND-groups.
    groups: Vec<Vec<Clause>>,
}

#[derive(Debug)]
struct Clause {
    path: Vec<String>,
    op: Op,
    value: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    StartsWith,
    Contains,
}

impl Filter {
    pub fn parse(text: &str) -> Option<Self> {
        let tokens = tokenize(text)?;
        let mut groups = vec![Vec::new()];
        let mut rest = tokens.as_slice();
        loop {
            let [path, op, value, tail @ ..] = rest else {
                return None;
            };
            let clause = Clause {
                path: path.split('.').map(str::to_owned).collect(),
                op: parse_op(op)?,
                value: value.strip_prefix('"')?.to_owned(),
            };
            groups.last_mut()?.push(clause);
            match tail {
                [] => return Some(Self { groups }),
                [joiner, more @ ..] if joiner.eq_ignore_ascii_case("and") => rest = more,
                [joiner, more @ ..] if joiner.eq_ignore_ascii_case("or") => {
                    groups.push(Vec::new());
                    rest = more;
                }
                _ => return None,
            }
        }
    }

    /// Whether a clause filters on `path` (dotted, as written), with `op` if one is given.
    fn has_clause(&self, path: &str, op: Option<Op>) -> bool {
        self.groups
            .iter()
            .flatten()
            .any(|clause| clause.path.join(".") == path && op.is_none_or(|op| op == clause.op))
    }

    /// Okta refuses a filter on `published`: it would fight `since`, `until` and `after`.
    pub fn uses_published(&self) -> bool {
        self.has_clause("published", None)
    }

    /// The field of a `co` clause Okta does not support (E0000031), if any.
    pub fn unsupported_contains(&self) -> Option<&'static str> {
        [
            "debugContext.debugData.url",
            "debugContext.debugData.requestUri",
        ]
        .into_iter()
        .find(|field| self.has_clause(field, Some(Op::Contains)))
    }

    pub fn matches(&self, event: &Value) -> bool {
        self.groups
            .iter()
            .any(|group| group.iter().all(|clause| clause.matches(event)))
    }
}

impl Clause {
    fn matches(&self, event: &Value) -> bool {
        let found = self
            .path
            .iter()
            .try_fold(event, |v, key| v.get(key))
            .and_then(value_text);
        match (self.op, found) {
            (Op::Eq, Some(v)) => v == self.value,
            (Op::Ne, found) => found.as_deref() != Some(self.value.as_str()),
            (Op::StartsWith, Some(v)) => v.starts_with(&self.value),
            (Op::Contains, Some(v)) => v.contains(&self.value),
            (_, None) => false,
        }
    }
}

fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(_) | Value::Number(_) => Some(value.to_string()),
        _ => None,
    }
}

fn parse_op(op: &str) -> Option<Op> {
    match op.to_ascii_lowercase().as_str() {
        "eq" => Some(Op::Eq),
        "ne" => Some(Op::Ne),
        "sw" => Some(Op::StartsWith),
        "co" => Some(Op::Contains),
        _ => None,
    }
}

/// Whitespace-separated words; a double-quoted string is one token, kept with a leading `"`
/// so the parser can tell values from words.
fn tokenize(text: &str) -> Option<Vec<String>> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut value = String::from('"');
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => value.push(chars.next()?),
                    other => value.push(other),
                }
            }
            tokens.push(value);
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
            tokens.push(word);
        }
    }
    Some(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn eq_or_and() {
        let f = Filter::parse(
            r#"eventType eq "user.session.start" and outcome.result eq "FAILURE" or eventType eq "user.account.lock""#,
        )
        .expect("parses");
        let fail = json!({"eventType":"user.session.start","outcome":{"result":"FAILURE"}});
        let ok = json!({"eventType":"user.session.start","outcome":{"result":"SUCCESS"}});
        let lock = json!({"eventType":"user.account.lock"});
        assert!(f.matches(&fail));
        assert!(!f.matches(&ok));
        assert!(f.matches(&lock));
    }

    #[test]
    fn rejects_garbage() {
        assert!(Filter::parse("eventType eq").is_none());
        assert!(Filter::parse(r#"eventType gt "x""#).is_none());
        assert!(Filter::parse(r#"eventType eq "x" xor a eq "b""#).is_none());
        assert!(Filter::parse(r#"eventType eq "unterminated"#).is_none());
    }
}
