//! The compiled condition tree and its evaluation. Built once per rule; evaluating it
//! allocates only for the few fields whose value must be formatted.

use std::borrow::Cow;

use super::condition::Op;
use super::fields::{Extras, Field, FieldType, Val};
use super::limits;
use crate::okta::LogEvent;

#[derive(Debug, Clone)]
pub enum Expr {
    And(Box<[Expr]>),
    Or(Box<[Expr]>),
    Not(Box<Expr>),
    Check(Box<Check>),
}

#[derive(Debug, Clone)]
pub struct Check {
    pub field: Field,
    pub op: Op,
    rhs: Operand,
}

#[derive(Debug, Clone)]
enum Operand {
    None,
    /// A string, with its number if it reads as one (for `<`, `>` on numeric text).
    Str(Box<str>, Option<f64>),
    U64(u64),
    Strs(Box<[Box<str>]>),
    U64s(Box<[u64]>),
    /// `val(field)`: the other field's value on the same event, compared as text.
    Field(Field),
    /// `regex`: compiled once, matched against the whole value (Falco's RE2 full match).
    Regex(Box<regex::Regex>),
}

/// The event-side inputs of an evaluation.
pub struct Ctx<'a> {
    pub event: &'a LogEvent,
    pub org: &'a str,
    pub extras: &'a Extras,
}

impl<'a> Ctx<'a> {
    pub fn value(&self, field: &Field) -> Val<'a> {
        field.extract(self.event, self.org, self.extras)
    }
}

impl Expr {
    pub fn eval(&self, ctx: &Ctx<'_>) -> bool {
        match self {
            Expr::And(items) => items.iter().all(|e| e.eval(ctx)),
            Expr::Or(items) => items.iter().any(|e| e.eval(ctx)),
            Expr::Not(inner) => !inner.eval(ctx),
            Expr::Check(check) => check.eval(ctx),
        }
    }

    /// The event types this expression can match, when a conjunct pins `okta.evt.type`;
    /// lets a rule set skip rules that cannot match an event without evaluating them.
    pub fn event_types(&self) -> Option<Vec<Box<str>>> {
        match self {
            Expr::Check(c) if c.field.is_event_type() => match (&c.op, &c.rhs) {
                (Op::Eq, Operand::Str(s, _)) => Some(vec![s.clone()]),
                (Op::In | Op::Intersects, Operand::Strs(items)) => Some(items.to_vec()),
                _ => None,
            },
            Expr::And(items) => items.iter().find_map(Expr::event_types),
            Expr::Or(items) => {
                let mut all = Vec::new();
                for item in items.iter() {
                    all.extend(item.event_types()?);
                }
                Some(all)
            }
            _ => None,
        }
    }

    pub fn visit_fields(&self, f: &mut impl FnMut(&Field)) {
        match self {
            Expr::And(items) | Expr::Or(items) => items.iter().for_each(|e| e.visit_fields(f)),
            Expr::Not(inner) => inner.visit_fields(f),
            Expr::Check(c) => f(&c.field),
        }
    }
}

impl Check {
    /// Type-checks an operator and its operand(s) against the field.
    pub fn new(
        field: Field,
        op: Op,
        values: Option<Vec<String>>,
        is_list: bool,
    ) -> Result<Check, String> {
        if field.ty == FieldType::U64 && string_only(op) {
            return Err(format!(
                "operator '{}' does not apply to a numeric field",
                op.as_str()
            ));
        }
        let rhs = match (op, values, is_list) {
            (Op::Exists, None, _) => Operand::None,
            (Op::Exists, Some(_), _) => return Err("'exists' takes no value".into()),
            (_, None, _) => return Err(format!("operator '{}' needs a value", op.as_str())),
            (op, Some(_), false) if op.takes_list() => {
                return Err(format!(
                    "operator '{}' needs a list, e.g. (a, b)",
                    op.as_str()
                ));
            }
            (op, Some(_), true) if !op.takes_list() => {
                return Err(format!(
                    "operator '{}' takes one value, not a list",
                    op.as_str()
                ));
            }
            (_, Some(vals), true) => list_operand(&field, vals)?,
            (op, Some(mut vals), false) => scalar_operand(&field, op, vals.remove(0))?,
        };
        Ok(Check { field, op, rhs })
    }

    /// `field op val(other)`: both values compared as text.
    pub fn with_field(field: Field, op: Op, other: Field) -> Result<Check, String> {
        if op.takes_list() || matches!(op, Op::Exists | Op::Glob | Op::Regex) {
            return Err(format!(
                "operator '{}' cannot compare with val(...)",
                op.as_str()
            ));
        }
        Ok(Check {
            field,
            op,
            rhs: Operand::Field(other),
        })
    }

    fn eval(&self, ctx: &Ctx<'_>) -> bool {
        if let Operand::Field(other) = &self.rhs {
            return self.eval_fields(ctx, other);
        }
        match ctx.value(&self.field) {
            Val::Absent => false,
            Val::Str(s) => self.eval_str(&s),
            Val::U64(n) => self.eval_u64(n),
            Val::List(items) => self.eval_list(&items),
        }
    }

    fn eval_fields(&self, ctx: &Ctx<'_>, other: &Field) -> bool {
        let (left, right) = (ctx.value(&self.field), ctx.value(other));
        let (Some(l), Some(r)) = (left.as_text(), right.as_text()) else {
            return false;
        };
        let r = if self.op == Op::IContains {
            r.to_lowercase().into()
        } else {
            r
        };
        str_op(self.op, &l, &r, r.trim().parse::<f64>().ok().as_ref())
    }

    fn eval_u64(&self, n: u64) -> bool {
        match (&self.rhs, self.op) {
            (_, Op::Exists) => true,
            (Operand::U64(r), op) => compare(n.cmp(r), op),
            (Operand::U64s(set), Op::In | Op::Intersects) => set.contains(&n),
            _ => false,
        }
    }

    fn eval_str(&self, s: &str) -> bool {
        match (self.op, &self.rhs) {
            (Op::Exists, _) => !s.is_empty(),
            (op, Operand::Str(r, num)) => str_op(op, s, r, num.as_ref()),
            (Op::Regex, Operand::Regex(re)) => re.is_match(s),
            (Op::In | Op::Intersects, Operand::Strs(set)) => set.iter().any(|i| i.as_ref() == s),
            (Op::PMatch, Operand::Strs(set)) => set.iter().any(|p| path_match(p, s)),
            _ => false,
        }
    }

    /// Multi-valued fields: `in` means every value is in the set, `!=` none equals,
    /// any other operator holds if it holds for some value.
    fn eval_list(&self, items: &[Cow<'_, str>]) -> bool {
        match self.op {
            Op::Exists => !items.is_empty(),
            Op::In => !items.is_empty() && items.iter().all(|i| self.eval_str(i)),
            Op::Ne => items.iter().all(|i| self.eval_str(i)),
            _ => items.iter().any(|i| self.eval_str(i)),
        }
    }
}

/// A scalar operator on text; `<`/`>` compare numerically when both sides are numbers.
fn str_op(op: Op, s: &str, r: &str, r_num: Option<&f64>) -> bool {
    match op {
        Op::Eq => s == r,
        Op::Ne => s != r,
        Op::Lt | Op::Le | Op::Gt | Op::Ge => {
            let ord = match (r_num, s.trim().parse::<f64>().ok()) {
                (Some(rn), Some(sn)) => sn.partial_cmp(rn),
                _ => Some(s.cmp(r)),
            };
            ord.is_some_and(|o| compare(o, op))
        }
        Op::Contains => s.contains(r),
        Op::IContains => icontains(s, r),
        Op::StartsWith => s.starts_with(r),
        Op::EndsWith => s.ends_with(r),
        Op::Glob => glob(r.as_bytes(), s.as_bytes()),
        _ => false,
    }
}

fn string_only(op: Op) -> bool {
    matches!(
        op,
        Op::Contains
            | Op::IContains
            | Op::StartsWith
            | Op::EndsWith
            | Op::Glob
            | Op::PMatch
            | Op::Regex
    )
}

fn parse_u64(field: &Field, text: &str) -> Result<u64, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("type error: this field is numeric, '{text}' is not a number"))
        .inspect(|_| debug_assert_eq!(field.ty, FieldType::U64))
}

fn scalar_operand(field: &Field, op: Op, text: String) -> Result<Operand, String> {
    if field.ty == FieldType::U64 {
        return Ok(Operand::U64(parse_u64(field, &text)?));
    }
    if op == Op::Regex {
        return compile_regex(&text).map(|re| Operand::Regex(Box::new(re)));
    }
    let text = if op == Op::IContains {
        text.to_lowercase()
    } else {
        text
    };
    let num = text.trim().parse::<f64>().ok();
    Ok(Operand::Str(text.into(), num))
}

/// A tenant writes the pattern: its compiled size is bounded so it cannot exhaust memory or
/// the compile budget, and the regex crate matches in linear time whatever the pattern.
fn compile_regex(pattern: &str) -> Result<regex::Regex, String> {
    if pattern.len() > limits::MAX_REGEX_LEN {
        return Err(format!(
            "regex longer than {} characters",
            limits::MAX_REGEX_LEN
        ));
    }
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(limits::MAX_REGEX_SIZE)
        .dfa_size_limit(limits::MAX_REGEX_SIZE)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(_) => format!(
                "regex '{pattern}' compiles to more than {} KiB",
                limits::MAX_REGEX_SIZE / 1024
            ),
            other => format!(
                "invalid regex '{pattern}': {}",
                first_line(&other.to_string())
            ),
        })
}

fn first_line(text: &str) -> String {
    text.lines()
        .rev()
        .find(|l| l.starts_with("error:"))
        .unwrap_or(text)
        .trim_start_matches("error: ")
        .to_owned()
}

fn list_operand(field: &Field, values: Vec<String>) -> Result<Operand, String> {
    if field.ty == FieldType::U64 {
        let nums: Result<Vec<u64>, String> = values.iter().map(|v| parse_u64(field, v)).collect();
        return Ok(Operand::U64s(nums?.into()));
    }
    Ok(Operand::Strs(
        values.into_iter().map(String::into_boxed_str).collect(),
    ))
}

fn compare(ord: std::cmp::Ordering, op: Op) -> bool {
    use std::cmp::Ordering::*;
    match op {
        Op::Eq => ord == Equal,
        Op::Ne => ord != Equal,
        Op::Lt => ord == Less,
        Op::Le => ord != Greater,
        Op::Gt => ord == Greater,
        Op::Ge => ord != Less,
        _ => false,
    }
}

/// `needle` is already lower-case.
fn icontains(haystack: &str, needle: &str) -> bool {
    if haystack.is_ascii() && needle.is_ascii() {
        let (h, n) = (haystack.as_bytes(), needle.as_bytes());
        return n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n));
    }
    haystack.to_lowercase().contains(needle)
}

/// Falco's `pmatch`: the value is the prefix path itself or lies below it.
fn path_match(prefix: &str, value: &str) -> bool {
    let prefix_trimmed = prefix.trim_end_matches('/');
    value == prefix
        || value == prefix_trimmed
        || value
            .strip_prefix(prefix_trimmed)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Shell-style glob with `*` and `?`.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some(p);
            mark = t;
            p += 1;
        } else if let Some(s) = star {
            p = s + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_and_pmatch() {
        assert!(glob(b"a*c", b"abbbc"));
        assert!(glob(b"a?c", b"abc"));
        assert!(!glob(b"a?c", b"abbc"));
        assert!(glob(b"*", b""));
        assert!(path_match("/app/", "/app/x"));
        assert!(path_match("/app", "/app/x"));
        assert!(!path_match("/app", "/apple"));
    }

    #[test]
    fn regexes_match_whole_values_and_are_bounded() {
        let re = compile_regex("(python-requests|curl)/.*").expect("compiles");
        assert!(re.is_match("curl/8.4.0"));
        assert!(
            !re.is_match("Mozilla/5.0 curl/8.4.0"),
            "a full match, as in Falco"
        );
        assert!(compile_regex("(").unwrap_err().contains("invalid regex"));
        let huge = compile_regex("\\w{1000}\\w{1000}").unwrap_err();
        assert!(huge.contains("KiB"), "{huge}");
        assert!(
            compile_regex(&"a".repeat(5000))
                .unwrap_err()
                .contains("longer")
        );
    }

    #[test]
    fn icontains_is_case_insensitive() {
        assert!(icontains("Super Administrator", "super admin"));
        assert!(icontains("ÉCOLE", "éco"));
        assert!(!icontains("abc", "d"));
    }
}
