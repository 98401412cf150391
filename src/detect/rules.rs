//! Loading a Falco rules file: `list`, `macro` and `rule` items with `append`/`override`,
//! `exceptions`, and the stateful extensions; then compiling every rule once.

use std::collections::HashMap;

use super::condition::{self, Ast, Rhs};
use super::eval::{Check, Expr};
use super::fields::{self, Field};
use super::limits::{self, Budget};
use super::output::Template;
use super::stateful::Stateful;
use super::yaml::{self, Mark, Node};
use super::{LoadError, Priority};

/// One compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub desc: String,
    pub priority: Priority,
    pub tags: Vec<String>,
    pub enabled: bool,
    pub(crate) expr: Expr,
    pub(crate) output: Template,
    pub(crate) stateful: Option<Stateful>,
}

impl Rule {
    /// `threshold`, `first_seen`, `geo_velocity`, `sequence`, or `None` for a plain rule.
    pub fn stateful_kind(&self) -> Option<&'static str> {
        self.stateful.as_ref().map(Stateful::kind)
    }
}

/// The compiled rules of one policy (one or more files loaded in order).
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
    by_type: HashMap<Box<str>, Box<[u32]>, super::fxhash::FxBuild>,
    untyped: Box<[u32]>,
    mfa_windows: Vec<(bool, u64)>,
}

impl RuleSet {
    pub fn compile(file_name: &str, source: &str) -> Result<RuleSet, LoadError> {
        Self::compile_files(&[(file_name, source)])
    }

    /// Loads several files as Falco does: later files may append to or override earlier ones.
    pub fn compile_files(files: &[(&str, &str)]) -> Result<RuleSet, LoadError> {
        let mut loader = Loader {
            files,
            lists: HashMap::new(),
            macros: Vec::new(),
            rules: Vec::new(),
            items: 0,
        };
        for (idx, (_, text)) in files.iter().enumerate() {
            loader.load_file(idx, text)?;
        }
        let compiler = Compiler::new(&loader)?;
        let rules = compiler.compile_rules()?;
        Ok(Self::index(rules))
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn rule_names(&self) -> Vec<&str> {
        self.rules.iter().map(|r| r.name.as_str()).collect()
    }

    /// Indices of the rules that can match an event of this type, in file order.
    pub(crate) fn candidates(&self, event_type: &str) -> &[u32] {
        self.by_type.get(event_type).unwrap_or(&self.untyped)
    }

    pub(crate) fn mfa_windows(&self) -> &[(bool, u64)] {
        &self.mfa_windows
    }

    fn index(rules: Vec<Rule>) -> RuleSet {
        let mut typed: HashMap<Box<str>, Vec<u32>> = HashMap::new();
        let mut untyped = Vec::new();
        let mut mfa_windows = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            let i = i as u32;
            let mut note = |f: &Field| {
                if let Some(w) = f.mfa_window().filter(|w| !mfa_windows.contains(w)) {
                    mfa_windows.push(w);
                }
            };
            rule.expr.visit_fields(&mut note);
            rule.output.fields().for_each(&mut note);
            match rule_event_types(rule) {
                Some(types) => types
                    .into_iter()
                    .for_each(|t| typed.entry(t).or_default().push(i)),
                None => untyped.push(i),
            }
        }
        let by_type = typed
            .into_iter()
            .map(|(t, mut idx)| {
                idx.extend(&untyped);
                idx.sort_unstable();
                idx.dedup();
                (t, idx.into_boxed_slice())
            })
            .collect();
        RuleSet {
            rules,
            by_type,
            untyped: untyped.into_boxed_slice(),
            mfa_windows,
        }
    }
}

fn rule_event_types(rule: &Rule) -> Option<Vec<Box<str>>> {
    let mut types = rule.expr.event_types()?;
    if let Some(Stateful::Sequence(seq)) = &rule.stateful {
        types.extend(seq.after.event_types()?);
    }
    Some(types)
}

/// A condition's text, possibly concatenated by appends, with where each piece came from.
#[derive(Debug, Clone)]
pub(super) struct CondText {
    text: String,
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
    fn new(text: &str, file: usize, mark: Mark) -> Self {
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
    fn append(&mut self, other: &CondText) {
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
    fn locate(&self, pos: usize, files: &[(&str, &str)]) -> (usize, Mark) {
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

#[derive(Debug, Clone)]
struct ListDef {
    items: Vec<(String, bool)>,
}

#[derive(Debug, Clone)]
struct MacroDef {
    name: String,
    cond: CondText,
}

#[derive(Debug, Clone)]
struct ExceptionDef {
    name: String,
    file: usize,
    node: Node,
    values: Vec<Node>,
}

#[derive(Debug, Clone)]
struct RuleDef {
    name: String,
    desc: String,
    cond: CondText,
    output: (String, usize, Mark),
    priority: Priority,
    source: String,
    tags: Vec<String>,
    enabled: bool,
    exceptions: Vec<ExceptionDef>,
    stateful: Option<(String, Node, usize)>,
}

struct Loader<'f> {
    files: &'f [(&'f str, &'f str)],
    lists: HashMap<String, ListDef>,
    macros: Vec<MacroDef>,
    rules: Vec<RuleDef>,
    items: usize,
}

const RULE_KEYS: &[&str] = &[
    "rule",
    "desc",
    "condition",
    "output",
    "priority",
    "source",
    "tags",
    "enabled",
    "exceptions",
    "append",
    "override",
    "warn_evttypes",
    "skip-if-unknown-filter",
    "capture",
    "capture_duration",
    "threshold",
    "first_seen",
    "geo_velocity",
    "sequence",
];

const STATEFUL_KEYS: &[&str] = &["threshold", "first_seen", "geo_velocity", "sequence"];

/// How an item changes an existing one of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Define,
    Append,
    Replace,
}

impl<'f> Loader<'f> {
    fn err(&self, file: usize, mark: Mark, reason: impl Into<String>) -> LoadError {
        LoadError {
            file: self.files[file].0.to_owned(),
            line: mark.line,
            column: mark.column,
            reason: reason.into(),
        }
    }

    fn load_file(&mut self, file: usize, text: &str) -> Result<(), LoadError> {
        let doc = yaml::parse(text).map_err(|e| self.err(file, e.mark, e.reason))?;
        if doc.is_null() {
            return Ok(());
        }
        let items = doc
            .as_seq()
            .ok_or_else(|| self.err(file, doc.mark, "a rules file is a YAML list of items"))?;
        for item in items {
            self.items += 1;
            if self.items > limits::MAX_ITEMS {
                return Err(self.err(
                    file,
                    item.mark,
                    format!("more than {} items in one policy", limits::MAX_ITEMS),
                ));
            }
            self.load_item(file, item)?;
        }
        Ok(())
    }

    fn load_item(&mut self, file: usize, item: &Node) -> Result<(), LoadError> {
        let entries = item
            .as_map()
            .ok_or_else(|| self.err(file, item.mark, "each item must be a mapping (- rule: …)"))?;
        let Some((kind, _)) = entries.first() else {
            return Err(self.err(file, item.mark, "empty item"));
        };
        let has = |k: &str| item.get(k).is_some();
        if has("rule") {
            self.load_rule(file, item)
        } else if has("macro") {
            self.load_macro(file, item)
        } else if has("list") {
            self.load_list(file, item)
        } else if has("required_engine_version") || has("required_plugin_versions") {
            Ok(())
        } else {
            let name = kind.as_str().unwrap_or("?");
            Err(self.err(
                file,
                kind.mark,
                format!("unknown item '{name}': expected rule, macro or list"),
            ))
        }
    }

    fn text<'n>(&self, file: usize, node: &'n Node, what: &str) -> Result<&'n str, LoadError> {
        node.as_str()
            .ok_or_else(|| self.err(file, node.mark, format!("'{what}' must be text")))
    }

    fn name(&self, file: usize, item: &Node, key: &str) -> Result<String, LoadError> {
        let node = item
            .get(key)
            .ok_or_else(|| self.err(file, item.mark, format!("missing '{key}'")))?;
        let name = self.text(file, node, key)?.trim();
        if name.is_empty() {
            return Err(self.err(file, node.mark, format!("'{key}' needs a name")));
        }
        if name.chars().count() > limits::MAX_NAME_LEN {
            return Err(self.err(
                file,
                node.mark,
                format!(
                    "'{key}' names are limited to {} characters",
                    limits::MAX_NAME_LEN
                ),
            ));
        }
        Ok(name.to_owned())
    }

    /// Reads `append: true` or `override: {key: append|replace}` for one key.
    fn change(&self, file: usize, item: &Node, key: &str) -> Result<Change, LoadError> {
        if let Some(ov) = item.get("override") {
            let entries = ov.as_map().ok_or_else(|| {
                self.err(
                    file,
                    ov.mark,
                    "'override' must map keys to append or replace",
                )
            })?;
            for (k, v) in entries {
                if k.as_str() == Some(key) {
                    return match v.as_str() {
                        Some("append") => Ok(Change::Append),
                        Some("replace") => Ok(Change::Replace),
                        _ => Err(self.err(file, v.mark, "override must be 'append' or 'replace'")),
                    };
                }
            }
            return Ok(Change::Define);
        }
        match item.get("append").map(|a| (a, a.as_bool())) {
            Some((_, Some(true))) => Ok(Change::Append),
            Some((_, Some(false))) | None => Ok(Change::Define),
            Some((a, None)) => Err(self.err(file, a.mark, "'append' must be true or false")),
        }
    }

    fn is_override(item: &Node) -> bool {
        item.get("override").is_some() || item.get("append").and_then(Node::as_bool) == Some(true)
    }

    fn load_list(&mut self, file: usize, item: &Node) -> Result<(), LoadError> {
        let name = self.name(file, item, "list")?;
        let items_node = item
            .get("items")
            .ok_or_else(|| self.err(file, item.mark, format!("list '{name}': missing 'items'")))?;
        let items = self.scalars(file, items_node, "items")?;
        match self.change(file, item, "items")? {
            Change::Append => {
                let existing = self.lists.get_mut(&name).ok_or_else(|| LoadError {
                    file: self.files[file].0.to_owned(),
                    line: item.mark.line,
                    column: item.mark.column,
                    reason: format!("list '{name}' appended before it is defined"),
                })?;
                existing.items.extend(items);
            }
            Change::Define | Change::Replace => {
                self.lists.insert(name, ListDef { items });
            }
        }
        Ok(())
    }

    fn scalars(
        &self,
        file: usize,
        node: &Node,
        what: &str,
    ) -> Result<Vec<(String, bool)>, LoadError> {
        if node.is_null() {
            return Ok(Vec::new());
        }
        let seq = node
            .as_seq()
            .ok_or_else(|| self.err(file, node.mark, format!("'{what}' must be a list")))?;
        seq.iter()
            .map(|n| match &n.kind {
                yaml::NodeKind::Scalar(s, plain) => Ok((s.clone(), *plain)),
                _ => Err(self.err(file, n.mark, format!("'{what}' items must be text"))),
            })
            .collect()
    }

    fn cond(&self, file: usize, node: &Node, what: &str) -> Result<CondText, LoadError> {
        let text = match &node.kind {
            yaml::NodeKind::Scalar(s, _) => s.as_str(),
            _ => return Err(self.err(file, node.mark, format!("'{what}' must be text"))),
        };
        Ok(CondText::new(text, file, node.mark))
    }

    fn load_macro(&mut self, file: usize, item: &Node) -> Result<(), LoadError> {
        let name = self.name(file, item, "macro")?;
        let node = item.get("condition").ok_or_else(|| {
            self.err(
                file,
                item.mark,
                format!("macro '{name}': missing 'condition'"),
            )
        })?;
        let cond = self.cond(file, node, "condition")?;
        let change = self.change(file, item, "condition")?;
        let existing = self.macros.iter_mut().find(|m| m.name == name);
        match (change, existing) {
            (Change::Append, Some(m)) => m.cond.append(&cond),
            (Change::Append, None) => {
                return Err(self.err(
                    file,
                    item.mark,
                    format!("macro '{name}' appended before it is defined"),
                ));
            }
            (_, Some(m)) => m.cond = cond,
            (_, None) => self.macros.push(MacroDef { name, cond }),
        }
        Ok(())
    }

    fn load_rule(&mut self, file: usize, item: &Node) -> Result<(), LoadError> {
        let name = self.name(file, item, "rule")?;
        for (k, _) in item.as_map().unwrap_or_default() {
            let key = k.as_str().unwrap_or("");
            if !RULE_KEYS.contains(&key) {
                return Err(self.err(file, k.mark, format!("rule '{name}': unknown key '{key}'")));
            }
        }
        let existing = self.rules.iter().position(|r| r.name == name);
        let enabled_only =
            item.as_map().is_some_and(|m| m.len() == 2) && item.get("enabled").is_some();
        match existing {
            Some(idx) if Self::is_override(item) || enabled_only => {
                self.change_rule(file, item, idx)
            }
            None if Self::is_override(item) => Err(self.err(
                file,
                item.mark,
                format!("rule '{name}' appended or overridden before it is defined"),
            )),
            _ => {
                let def = self.define_rule(file, item, name)?;
                match existing {
                    Some(idx) => self.rules[idx] = def,
                    None => self.rules.push(def),
                }
                Ok(())
            }
        }
    }

    fn required<'n>(
        &self,
        file: usize,
        item: &'n Node,
        name: &str,
        key: &str,
    ) -> Result<&'n Node, LoadError> {
        item.get(key)
            .ok_or_else(|| self.err(file, item.mark, format!("rule '{name}': missing '{key}'")))
    }

    fn define_rule(&self, file: usize, item: &Node, name: String) -> Result<RuleDef, LoadError> {
        let desc = self
            .text(file, self.required(file, item, &name, "desc")?, "desc")?
            .to_owned();
        let cond = self.cond(
            file,
            self.required(file, item, &name, "condition")?,
            "condition",
        )?;
        let out_node = self.required(file, item, &name, "output")?;
        let output = (
            self.text(file, out_node, "output")?.trim().to_owned(),
            file,
            out_node.mark,
        );
        let priority = self.priority(file, self.required(file, item, &name, "priority")?)?;
        let source = match item.get("source") {
            Some(s) => self.text(file, s, "source")?.to_owned(),
            None => "okta".to_owned(),
        };
        let mut def = RuleDef {
            name,
            desc,
            cond,
            output,
            priority,
            source,
            tags: Vec::new(),
            enabled: true,
            exceptions: Vec::new(),
            stateful: None,
        };
        self.apply_optional(file, item, &mut def, false)?;
        Ok(def)
    }

    fn priority(&self, file: usize, node: &Node) -> Result<Priority, LoadError> {
        let text = self.text(file, node, "priority")?;
        Priority::parse(text.trim()).ok_or_else(|| {
            self.err(
                file,
                node.mark,
                format!("invalid priority '{text}': use one of EMERGENCY, ALERT, CRITICAL, ERROR, WARNING, NOTICE, INFORMATIONAL, DEBUG"),
            )
        })
    }

    /// Tags, enabled, exceptions and the stateful keys, shared by definitions and overrides.
    fn apply_optional(
        &self,
        file: usize,
        item: &Node,
        def: &mut RuleDef,
        changing: bool,
    ) -> Result<(), LoadError> {
        if let Some(tags) = item.get("tags") {
            let tags: Vec<String> = self
                .scalars(file, tags, "tags")?
                .into_iter()
                .map(|(t, _)| t)
                .collect();
            match (changing, self.change(file, item, "tags")?) {
                (true, Change::Append) => def.tags.extend(tags),
                _ => def.tags = tags,
            }
        }
        if let Some(en) = item.get("enabled") {
            def.enabled = en
                .as_bool()
                .ok_or_else(|| self.err(file, en.mark, "'enabled' must be true or false"))?;
        }
        if let Some(exc) = item.get("exceptions") {
            let parsed = self.exceptions(file, exc)?;
            let append = changing && self.change(file, item, "exceptions")? == Change::Append;
            if append {
                merge_exceptions(&mut def.exceptions, parsed);
            } else {
                def.exceptions = parsed;
            }
        }
        let stateful: Vec<_> = STATEFUL_KEYS
            .iter()
            .filter(|k| item.get(k).is_some())
            .collect();
        if stateful.len() > 1 {
            return Err(self.err(
                file,
                item.mark,
                "a rule may use only one of threshold, first_seen, geo_velocity, sequence",
            ));
        }
        if let Some(key) = stateful.first() {
            let node = item.get(key).cloned().unwrap_or_else(|| item.clone());
            def.stateful = Some(((**key).to_owned(), node, file));
        }
        Ok(())
    }

    fn exceptions(&self, file: usize, node: &Node) -> Result<Vec<ExceptionDef>, LoadError> {
        let seq = node
            .as_seq()
            .ok_or_else(|| self.err(file, node.mark, "'exceptions' must be a list"))?;
        seq.iter()
            .map(|exc| {
                let name = self.name(file, exc, "name")?;
                let values = match exc.get("values") {
                    Some(v) if !v.is_null() => v
                        .as_seq()
                        .ok_or_else(|| {
                            self.err(
                                file,
                                v.mark,
                                format!("exception '{name}': 'values' must be a list"),
                            )
                        })?
                        .to_vec(),
                    _ => Vec::new(),
                };
                Ok(ExceptionDef {
                    name,
                    file,
                    node: exc.clone(),
                    values,
                })
            })
            .collect()
    }

    fn change_rule(&mut self, file: usize, item: &Node, idx: usize) -> Result<(), LoadError> {
        let mut def = self.rules[idx].clone();
        let legacy_append = item.get("append").and_then(Node::as_bool) == Some(true);
        if let Some(node) = item.get("condition") {
            let cond = self.cond(file, node, "condition")?;
            match self.change(file, item, "condition")? {
                Change::Append => def.cond.append(&cond),
                _ => def.cond = cond,
            }
        }
        if let Some(node) = item.get("output") {
            let text = self.text(file, node, "output")?.trim();
            match self.change(file, item, "output")? {
                Change::Append => def.output.0 = format!("{} {}", def.output.0, text),
                _ => def.output = (text.to_owned(), file, node.mark),
            }
        }
        if let Some(node) = item.get("desc") {
            let text = self.text(file, node, "desc")?;
            match self.change(file, item, "desc")? {
                Change::Append if !legacy_append => def.desc = format!("{} {}", def.desc, text),
                Change::Append => {}
                _ => def.desc = text.to_owned(),
            }
        }
        if let Some(node) = item.get("priority") {
            def.priority = self.priority(file, node)?;
        }
        if let Some(node) = item.get("source") {
            def.source = self.text(file, node, "source")?.to_owned();
        }
        self.apply_optional(file, item, &mut def, true)?;
        self.rules[idx] = def;
        Ok(())
    }
}

fn merge_exceptions(into: &mut Vec<ExceptionDef>, new: Vec<ExceptionDef>) {
    for exc in new {
        match into.iter_mut().find(|e| e.name == exc.name) {
            Some(existing) => existing.values.extend(exc.values),
            None => into.push(exc),
        }
    }
}

/// Resolves lists and macros and compiles rules, once all files are loaded.
pub(super) struct Compiler<'l> {
    files: &'l [(&'l str, &'l str)],
    lists: &'l HashMap<String, ListDef>,
    macros: HashMap<&'l str, (Ast, &'l CondText)>,
    rules: &'l [RuleDef],
    budget: Budget,
}

/// Macros within macros, and lists within lists.
const MAX_DEPTH: usize = 64;

impl<'l> Compiler<'l> {
    fn new(loader: &'l Loader<'l>) -> Result<Self, LoadError> {
        let mut compiler = Compiler {
            files: loader.files,
            lists: &loader.lists,
            macros: HashMap::new(),
            rules: &loader.rules,
            budget: Budget::new(),
        };
        for m in &loader.macros {
            let ast = compiler.parse(&m.cond)?;
            compiler.macros.insert(m.name.as_str(), (ast, &m.cond));
        }
        for m in &loader.macros {
            let (ast, cond) = &compiler.macros[m.name.as_str()];
            compiler.compile_ast(ast, cond, &mut vec![m.name.as_str()], 0)?;
        }
        Ok(compiler)
    }

    fn error_at(&self, cond: &CondText, pos: usize, reason: impl Into<String>) -> LoadError {
        let (file, mark) = cond.locate(pos, self.files);
        self.error(file, mark, reason)
    }

    pub(super) fn error(&self, file: usize, mark: Mark, reason: impl Into<String>) -> LoadError {
        LoadError {
            file: self.files[file].0.to_owned(),
            line: mark.line,
            column: mark.column,
            reason: reason.into(),
        }
    }

    fn parse(&self, cond: &CondText) -> Result<Ast, LoadError> {
        condition::parse(&cond.text).map_err(|e| self.error_at(cond, e.pos, e.reason))
    }

    /// Compiles a condition written in a stateful rule's settings (e.g. a sequence step).
    pub(super) fn condition(&self, file: usize, node: &Node) -> Result<Expr, LoadError> {
        let text = node
            .as_str()
            .ok_or_else(|| self.error(file, node.mark, "a condition must be text"))?;
        let cond = CondText::new(text, file, node.mark);
        let ast = self.parse(&cond)?;
        self.compile_ast(&ast, &cond, &mut Vec::new(), 0)
    }

    pub(super) fn field(&self, file: usize, node: &Node) -> Result<Field, LoadError> {
        let text = node
            .as_str()
            .ok_or_else(|| self.error(file, node.mark, "a field name must be text"))?
            .trim();
        fields::resolve_text(text).map_err(|r| self.error(file, node.mark, r))
    }

    fn compile_rules(&self) -> Result<Vec<Rule>, LoadError> {
        self.rules
            .iter()
            .filter(|r| r.source == "okta")
            .map(|r| self.compile_rule(r))
            .collect()
    }

    fn compile_rule(&self, def: &RuleDef) -> Result<Rule, LoadError> {
        let ast = self.parse(&def.cond)?;
        let mut expr = self.compile_ast(&ast, &def.cond, &mut Vec::new(), 0)?;
        if let Some(exc) = self.compile_exceptions(def)? {
            expr = Expr::And(vec![expr, Expr::Not(Box::new(exc))].into());
        }
        let (text, file, mark) = &def.output;
        let output = Template::parse(text).map_err(|(_, reason)| {
            self.error(
                *file,
                *mark,
                format!("rule '{}': output: {reason}", def.name),
            )
        })?;
        let stateful = match &def.stateful {
            Some((kind, node, file)) => Some(Stateful::compile(self, kind, node, *file)?),
            None => None,
        };
        Ok(Rule {
            name: def.name.clone(),
            desc: def.desc.clone(),
            priority: def.priority,
            tags: def.tags.clone(),
            enabled: def.enabled,
            expr,
            output,
            stateful,
        })
    }

    /// `depth` is the nesting of `ast` in the compiled tree, macros inlined.
    fn compile_ast(
        &self,
        ast: &Ast,
        cond: &CondText,
        stack: &mut Vec<&'l str>,
        depth: usize,
    ) -> Result<Expr, LoadError> {
        if depth > limits::MAX_TREE_DEPTH {
            let reason = format!(
                "condition nested deeper than {} levels once macros are substituted",
                limits::MAX_TREE_DEPTH
            );
            return Err(self.error_at(cond, ast.first_pos(), reason));
        }
        self.budget
            .spend(1)
            .map_err(|r| self.error_at(cond, ast.first_pos(), r))?;
        let depth = depth + 1;
        Ok(match ast {
            Ast::And(items) => Expr::And(self.compile_all(items, cond, stack, depth)?),
            Ast::Or(items) => Expr::Or(self.compile_all(items, cond, stack, depth)?),
            Ast::Not(inner) => Expr::Not(Box::new(self.compile_ast(inner, cond, stack, depth)?)),
            Ast::Ref { name, pos } => self.expand_macro(name, *pos, cond, stack, depth)?,
            Ast::Check {
                field,
                arg,
                pos,
                op,
                rhs,
            } => {
                let field = fields::resolve(field, arg.as_deref())
                    .map_err(|r| self.error_at(cond, *pos, r))?;
                if let Rhs::Scalar(v) = rhs
                    && v.field_ref
                {
                    let other =
                        fields::resolve_text(&v.text).map_err(|r| self.error_at(cond, v.pos, r))?;
                    let check = Check::with_field(field, *op, other)
                        .map_err(|r| self.error_at(cond, *pos, r))?;
                    return Ok(Expr::Check(Box::new(check)));
                }
                let (values, is_list) = self.operand(rhs, op.takes_list(), cond)?;
                let check = Check::new(field, *op, values, is_list)
                    .map_err(|r| self.error_at(cond, *pos, r))?;
                Expr::Check(Box::new(check))
            }
        })
    }

    fn compile_all(
        &self,
        items: &[Ast],
        cond: &CondText,
        stack: &mut Vec<&'l str>,
        depth: usize,
    ) -> Result<Box<[Expr]>, LoadError> {
        items
            .iter()
            .map(|a| self.compile_ast(a, cond, stack, depth))
            .collect()
    }

    fn expand_macro(
        &self,
        name: &str,
        pos: usize,
        cond: &CondText,
        stack: &mut Vec<&'l str>,
        depth: usize,
    ) -> Result<Expr, LoadError> {
        let Some((key, (ast, mcond))) = self.macros.get_key_value(name) else {
            let reason = if self.lists.contains_key(name) {
                format!("'{name}' is a list, not a condition")
            } else if name.contains('.') {
                format!("unknown field '{name}' (or a field without an operator)")
            } else {
                format!("undefined macro '{name}'")
            };
            return Err(self.error_at(cond, pos, reason));
        };
        if stack.contains(key) {
            return Err(self.error_at(cond, pos, format!("macro '{name}' refers to itself")));
        }
        if stack.len() > MAX_DEPTH {
            let reason = format!("macros nested more than {MAX_DEPTH} deep at '{name}'");
            return Err(self.error_at(cond, pos, reason));
        }
        stack.push(key);
        let expr = self.compile_ast(ast, mcond, stack, depth);
        stack.pop();
        expr
    }

    /// Operand values, with list names expanded (Falco substitutes them anywhere a list may be).
    fn operand(
        &self,
        rhs: &Rhs,
        wants_list: bool,
        cond: &CondText,
    ) -> Result<(Option<Vec<String>>, bool), LoadError> {
        match rhs {
            Rhs::None => Ok((None, false)),
            Rhs::Scalar(v) if wants_list && !v.quoted && self.lists.contains_key(&v.text) => {
                let mut out = Vec::new();
                self.expand_list(&v.text, &mut out, 0)
                    .map_err(|r| self.error_at(cond, v.pos, r))?;
                Ok((Some(out), true))
            }
            Rhs::Scalar(v) => Ok((Some(vec![v.text.clone()]), false)),
            Rhs::List(items) => {
                let mut out = Vec::new();
                for v in items {
                    if !v.quoted && self.lists.contains_key(&v.text) {
                        self.expand_list(&v.text, &mut out, 0)
                            .map_err(|r| self.error_at(cond, v.pos, r))?;
                    } else {
                        out.push(v.text.clone());
                    }
                }
                Ok((Some(out), true))
            }
        }
    }

    fn expand_list(&self, name: &str, out: &mut Vec<String>, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "list '{name}' refers to itself, or lists nest more than {MAX_DEPTH} deep"
            ));
        }
        let Some(list) = self.lists.get(name) else {
            out.push(name.to_owned());
            return Ok(());
        };
        for (item, plain) in &list.items {
            if *plain && self.lists.contains_key(item) {
                self.expand_list(item, out, depth + 1)?;
            } else {
                self.budget.spend(1)?;
                out.push(item.clone());
            }
        }
        Ok(())
    }

    /// `cond and not (exception_1 or exception_2 …)`, each exception an `or` of value tuples.
    fn compile_exceptions(&self, def: &RuleDef) -> Result<Option<Expr>, LoadError> {
        let mut alternatives = Vec::new();
        for exc in &def.exceptions {
            alternatives.extend(self.compile_exception(exc)?);
        }
        Ok((!alternatives.is_empty()).then(|| Expr::Or(alternatives.into())))
    }

    fn compile_exception(&self, exc: &ExceptionDef) -> Result<Vec<Expr>, LoadError> {
        let file = exc.file;
        let fields_node = exc.node.get("fields").ok_or_else(|| {
            self.error(
                file,
                exc.node.mark,
                format!("exception '{}': missing 'fields'", exc.name),
            )
        })?;
        let comps_node = exc.node.get("comps");
        if let Some(single) = fields_node.as_str() {
            let comp = match comps_node.and_then(Node::as_str) {
                Some(c) => c.to_owned(),
                None => "in".to_owned(),
            };
            let values: Vec<String> = exc
                .values
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            if values.is_empty() {
                return Ok(Vec::new());
            }
            return Ok(vec![self.exception_check(
                file,
                fields_node,
                single,
                &comp,
                values,
                true,
                fields_node,
            )?]);
        }
        let field_nodes = fields_node.as_seq().ok_or_else(|| {
            self.error(
                file,
                fields_node.mark,
                "'fields' must be a field or a list of fields",
            )
        })?;
        let comps: Vec<String> = match comps_node {
            Some(c) => c
                .as_seq()
                .ok_or_else(|| self.error(file, c.mark, "'comps' must be a list like 'fields'"))?
                .iter()
                .map(|n| n.as_str().unwrap_or("=").to_owned())
                .collect(),
            None => vec!["=".to_owned(); field_nodes.len()],
        };
        if comps.len() != field_nodes.len() {
            return Err(self.error(
                file,
                exc.node.mark,
                format!(
                    "exception '{}': 'comps' and 'fields' differ in length",
                    exc.name
                ),
            ));
        }
        exc.values
            .iter()
            .map(|tuple| self.exception_tuple(file, exc, field_nodes, &comps, tuple))
            .collect()
    }

    fn exception_tuple(
        &self,
        file: usize,
        exc: &ExceptionDef,
        fields: &[Node],
        comps: &[String],
        tuple: &Node,
    ) -> Result<Expr, LoadError> {
        let values = tuple
            .as_seq()
            .filter(|v| v.len() == fields.len())
            .ok_or_else(|| {
                self.error(
                    file,
                    tuple.mark,
                    format!(
                        "exception '{}': each value must list one item per field",
                        exc.name
                    ),
                )
            })?;
        let mut checks = Vec::new();
        for ((field, comp), value) in fields.iter().zip(comps).zip(values) {
            let name = field.as_str().unwrap_or("");
            let (items, is_list) = match value.as_seq() {
                Some(seq) => (
                    seq.iter()
                        .filter_map(|n| n.as_str().map(str::to_owned))
                        .collect(),
                    true,
                ),
                None => (vec![value.as_str().unwrap_or("").to_owned()], false),
            };
            checks.push(self.exception_check(file, field, name, comp, items, is_list, value)?);
        }
        Ok(Expr::And(checks.into()))
    }

    #[allow(clippy::too_many_arguments)]
    fn exception_check(
        &self,
        file: usize,
        field_node: &Node,
        name: &str,
        comp: &str,
        values: Vec<String>,
        is_list: bool,
        at: &Node,
    ) -> Result<Expr, LoadError> {
        let field = self.field(file, field_node)?;
        self.budget
            .spend(values.len())
            .map_err(|r| self.error(file, at.mark, r))?;
        let op = condition::Op::parse(comp).ok_or_else(|| {
            self.error(
                file,
                at.mark,
                format!("unknown comparison '{comp}' for '{name}'"),
            )
        })?;
        let mut expanded = Vec::new();
        for v in values {
            if op.takes_list() && self.lists.contains_key(&v) {
                self.expand_list(&v, &mut expanded, 0)
                    .map_err(|r| self.error(file, at.mark, r))?;
            } else {
                expanded.push(v);
            }
        }
        let is_list = is_list || op.takes_list();
        if !is_list || !op.takes_list() {
            let alts: Result<Vec<Expr>, LoadError> = expanded
                .into_iter()
                .map(|v| {
                    Check::new(field.clone(), op, Some(vec![v]), false)
                        .map(|c| Expr::Check(Box::new(c)))
                        .map_err(|r| self.error(file, at.mark, r))
                })
                .collect();
            return Ok(Expr::Or(alts?.into()));
        }
        let check = Check::new(field, op, Some(expanded), true)
            .map_err(|r| self.error(file, at.mark, r))?;
        Ok(Expr::Check(Box::new(check)))
    }
}
