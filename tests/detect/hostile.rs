//! Hostile policies: a tenant admin writes rules, so no policy may overflow the stack,
//! exhaust memory or take long to compile. Each is refused with the place and the bound.

use std::time::{Duration, Instant};

use okta_ingest::detect::{LoadError, RuleSet, limits};

fn rule(condition: &str) -> String {
    format!("- rule: r\n  desc: d\n  condition: {condition}\n  output: o\n  priority: WARNING\n")
}

/// Compiles on a fresh thread so a regression shows as a failed test, not a dead runner;
/// it must also answer quickly.
fn refused(source: String) -> LoadError {
    let started = Instant::now();
    let result = std::thread::spawn(move || RuleSet::compile("hostile.yaml", &source))
        .join()
        .expect("compiling must not panic");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    result.expect_err("a hostile policy must be refused")
}

#[test]
fn thousands_of_nots_are_refused_at_their_line() {
    let error = refused(rule(&format!("{}okta.evt.type = x", "not ".repeat(3_000))));
    assert!(error.reason.contains("nested deeper"), "{error}");
    assert_eq!(error.line, 3);
}

#[test]
fn deep_parentheses_are_refused() {
    for depth in [2_000, 10_000] {
        let condition = format!(
            "{}okta.evt.type = x{}",
            "(".repeat(depth),
            ")".repeat(depth)
        );
        let error = refused(rule(&condition));
        assert!(error.reason.contains("nested deeper"), "{error}");
    }
    let fine = format!("{}okta.evt.type = x{}", "(".repeat(50), ")".repeat(50));
    RuleSet::compile("fine.yaml", &rule(&fine)).expect("50 levels are fine");
}

#[test]
fn inline_list_items_count_towards_the_expanded_bound() {
    let items = "a, ".repeat(limits::MAX_EXPANDED);
    let error = refused(rule(&format!("okta.evt.type in ({items}b)")));
    assert!(error.reason.contains("expands to more than"), "{error}");
    assert_eq!(error.line, 3);
}

#[test]
fn doubling_macros_are_refused_before_they_expand() {
    let mut source = String::from("- macro: m0\n  condition: okta.evt.type = x\n");
    for i in 1..=26 {
        source.push_str(&format!(
            "- macro: m{i}\n  condition: m{prev} or m{prev}\n",
            prev = i - 1
        ));
    }
    source.push_str(&rule("m26"));
    let error = refused(source);
    assert!(error.reason.contains("expands to more than"), "{error}");
    assert!(error.line > 1, "{error}");
}

#[test]
fn doubling_lists_are_refused() {
    let mut source = String::from("- list: l0\n  items: [a, b]\n");
    for i in 1..=26 {
        source.push_str(&format!(
            "- list: l{i}\n  items: [l{prev}, l{prev}]\n",
            prev = i - 1
        ));
    }
    source.push_str(&rule("okta.evt.type in (l26)"));
    let error = refused(source);
    assert!(error.reason.contains("expands to more than"), "{error}");
}

#[test]
fn macro_chains_are_refused_past_the_tree_depth() {
    let mut source = String::from("- macro: m0\n  condition: okta.evt.type = x\n");
    for i in 1..=60 {
        source.push_str(&format!(
            "- macro: m{i}\n  condition: okta.evt.type = a or not (okta.evt.type = b and not m{prev})\n",
            prev = i - 1
        ));
    }
    source.push_str(&rule("m60"));
    let error = refused(source);
    assert!(error.reason.contains("macros are substituted"), "{error}");
}

#[test]
fn huge_item_counts_and_names_are_refused() {
    let many: String = (0..=limits::MAX_ITEMS)
        .map(|i| format!("- list: l{i}\n  items: [a]\n"))
        .collect();
    assert!(refused(many).reason.contains("items in one policy"));
    let long_name = format!(
        "- rule: {}\n  desc: d\n  condition: okta.evt.type = x\n  output: o\n  priority: INFO\n",
        "n".repeat(limits::MAX_NAME_LEN + 1)
    );
    assert!(refused(long_name).reason.contains("limited to"));
}

#[test]
fn deep_yaml_and_aliases_are_harmless() {
    let error = refused(format!("{}x", "- ".repeat(100_000)));
    assert!(error.reason.contains("nested deeper"), "{error}");
    // Aliases are not expanded (a billion-laughs file stays small).
    let laughs = "- list: a\n  items: &x [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n\
                  - list: b\n  items: [*x, *x, *x, *x, *x, *x, *x, *x, *x]\n";
    RuleSet::compile("laughs.yaml", laughs).expect("aliases load as empty values");
}

#[test]
fn regexes_are_bounded_in_size_and_number() {
    let big = refused(rule(r#"okta.message regex "\\w{300}\\w{300}""#));
    assert!(big.reason.contains("KiB"), "{big}");
    let many: Vec<String> = (0..=limits::MAX_REGEXES)
        .map(|i| format!("okta.message regex \"a{i}.*\""))
        .collect();
    let error = refused(rule(&many.join(" or ")));
    assert!(error.reason.contains("regex comparisons"), "{error}");
    let within: Vec<String> = (0..limits::MAX_REGEXES)
        .map(|i| format!("okta.message regex \"a{i}.*\""))
        .collect();
    RuleSet::compile("ok.yaml", &rule(&within.join(" or "))).expect("within the bound");
}

/// The time limit tells its refusal apart from the text's: the worker tries again later a
/// policy that a busy moment refused, never one whose text is wrong.
#[test]
fn a_refusal_for_the_time_limit_is_told_apart_from_an_invalid_text() {
    use okta_ingest::detect::CompileError;
    let items: Vec<String> = (0..1_500).map(|i| format!("u{i}")).collect();
    let long = rule(&format!("okta.actor.alternateid in ({})", items.join(", ")));
    assert!(RuleSet::compile_within("p.yaml", &long, limits::MAX_COMPILE_TIME).is_ok());
    let slow = RuleSet::compile_within("p.yaml", &long, Duration::ZERO);
    assert!(
        matches!(&slow, Err(CompileError::TimeLimit(e)) if e.reason.contains("to compile")),
        "{slow:?}"
    );
    let wrong = RuleSet::compile_within("p.yaml", &rule("okta.no.such.field = x"), Duration::ZERO);
    assert!(matches!(wrong, Err(CompileError::Invalid(_))), "{wrong:?}");
}
