//! Random conditions evaluated two ways: compiled by the engine from their text (with
//! minimal parentheses, so precedence is exercised) and by a reference interpreter here.

use okta_ingest::okta::LogEvent;
use proptest::prelude::*;
use serde_json::json;

use crate::support::{event, matches};

#[derive(Debug, Clone)]
enum Cond {
    Leaf(Leaf),
    Not(Box<Cond>),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
}

#[derive(Debug, Clone)]
struct Leaf {
    field: &'static str,
    op: &'static str,
    values: Vec<String>,
}

const STR_FIELDS: [&str; 4] = [
    "okta.result",
    "okta.actor.alternateid",
    "okta.target.user.alternateid",
    "okta.client.geo.country",
];
const STR_OPS: [&str; 8] = [
    "=",
    "!=",
    "in",
    "contains",
    "startswith",
    "endswith",
    "icontains",
    "exists",
];
const WORDS: [&str; 6] = [
    "SUCCESS",
    "FAILURE",
    "alice@example.com",
    "bob",
    "France",
    "ex",
];

fn leaf() -> impl Strategy<Value = Leaf> {
    let strings = (
        0..STR_FIELDS.len(),
        0..STR_OPS.len(),
        prop::collection::vec(0..WORDS.len(), 1..3),
    )
        .prop_map(|(f, o, v)| Leaf {
            field: STR_FIELDS[f],
            op: STR_OPS[o],
            values: v.into_iter().map(|i| WORDS[i].to_string()).collect(),
        });
    let numbers = (0..5usize, 0..4u64).prop_map(|(o, n)| Leaf {
        field: "okta.security.asnumber",
        op: ["=", "!=", "<", ">=", "in"][o],
        values: vec![(n * 100).to_string()],
    });
    prop_oneof![3 => strings, 1 => numbers]
}

fn cond() -> impl Strategy<Value = Cond> {
    leaf()
        .prop_map(Cond::Leaf)
        .prop_recursive(4, 24, 2, |inner| {
            prop_oneof![
                inner.clone().prop_map(|c| Cond::Not(Box::new(c))),
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Cond::And(Box::new(a), Box::new(b))),
                (inner.clone(), inner).prop_map(|(a, b)| Cond::Or(Box::new(a), Box::new(b))),
            ]
        })
}

fn precedence(c: &Cond) -> u8 {
    match c {
        Cond::Or(..) => 1,
        Cond::And(..) => 2,
        Cond::Not(_) => 3,
        Cond::Leaf(_) => 4,
    }
}

fn render(c: &Cond, parent: u8) -> String {
    let text = match c {
        Cond::Leaf(l) => match l.op {
            "exists" => format!("{} exists", l.field),
            "in" => format!(
                "{} in ({})",
                l.field,
                l.values
                    .iter()
                    .map(|v| format!("\"{v}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            op => format!("{} {op} \"{}\"", l.field, l.values[0]),
        },
        Cond::Not(inner) => format!("not {}", render(inner, 3)),
        Cond::And(a, b) => format!("{} and {}", render(a, 2), render(b, 2)),
        Cond::Or(a, b) => format!("{} or {}", render(a, 1), render(b, 1)),
    };
    if precedence(c) < parent {
        format!("({text})")
    } else {
        text
    }
}

/// The reference semantics (README): a field without a value fails every comparison.
fn value(ev: &LogEvent, field: &str) -> Option<String> {
    match field {
        "okta.result" => Some(
            ev.outcome
                .as_ref()
                .and_then(|o| o.result.clone())
                .unwrap_or_default(),
        ),
        "okta.actor.alternateid" => Some(
            ev.actor
                .as_ref()
                .and_then(|a| a.alternate_id.clone())
                .unwrap_or_default(),
        ),
        "okta.client.geo.country" => Some(
            ev.client
                .as_ref()
                .and_then(|c| c.geographical_context.as_ref())
                .and_then(|g| g.country.clone())
                .unwrap_or_default(),
        ),
        "okta.target.user.alternateid" => ev
            .target_of_type("User")
            .and_then(|t| t.alternate_id.clone()),
        "okta.security.asnumber" => ev
            .security_context
            .as_ref()
            .and_then(|s| s.as_number)
            .map(|n| n.to_string()),
        _ => unreachable!(),
    }
}

fn eval(c: &Cond, ev: &LogEvent) -> bool {
    match c {
        Cond::Not(inner) => !eval(inner, ev),
        Cond::And(a, b) => eval(a, ev) && eval(b, ev),
        Cond::Or(a, b) => eval(a, ev) || eval(b, ev),
        Cond::Leaf(l) => {
            let Some(v) = value(ev, l.field) else {
                return false;
            };
            let r = &l.values[0];
            if l.field == "okta.security.asnumber" {
                let (n, r): (u64, u64) = (v.parse().unwrap(), r.parse().unwrap());
                return match l.op {
                    "=" | "in" => n == r,
                    "!=" => n != r,
                    "<" => n < r,
                    ">=" => n >= r,
                    _ => unreachable!(),
                };
            }
            match l.op {
                "=" => &v == r,
                "!=" => &v != r,
                "in" => l.values.contains(&v),
                "contains" => v.contains(r.as_str()),
                "icontains" => v.to_lowercase().contains(&r.to_lowercase()),
                "startswith" => v.starts_with(r.as_str()),
                "endswith" => v.ends_with(r.as_str()),
                "exists" => !v.is_empty(),
                _ => unreachable!(),
            }
        }
    }
}

fn events() -> Vec<LogEvent> {
    vec![
        event(json!({"securityContext": {"asNumber": 100}})),
        event(
            json!({"outcome": {"result": "FAILURE"}, "actor": {"alternateId": "bob"},
            "target": [{"type": "User", "alternateId": "alice@example.com"}], "securityContext": {"asNumber": 300}}),
        ),
        event(
            json!({"client": {"geographicalContext": {"country": "France"}}, "target": [{"type": "UserGroup", "alternateId": "x"}]}),
        ),
        event(json!({"outcome": null, "actor": null, "client": null})),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn compiled_conditions_agree_with_the_reference(c in cond()) {
        let text = render(&c, 0);
        for (i, ev) in events().iter().enumerate() {
            prop_assert_eq!(matches(&text, ev), eval(&c, ev), "event {}: {}", i, text);
        }
    }
}
