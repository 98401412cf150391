//! The loader: lists, macros and rules gathered across files, with appends and overrides.

use std::collections::HashMap;

use super::source::CondText;
use crate::detect::limits;
use crate::detect::yaml::{self, Mark, Node};
use crate::detect::{LoadError, Priority};

#[derive(Debug, Clone)]
pub(super) struct ListDef {
    pub(super) items: Vec<(String, bool)>,
}

#[derive(Debug, Clone)]
pub(super) struct MacroDef {
    pub(super) name: String,
    pub(super) cond: CondText,
}

#[derive(Debug, Clone)]
pub(super) struct ExceptionDef {
    pub(super) name: String,
    pub(super) file: usize,
    pub(super) node: Node,
    pub(super) values: Vec<Node>,
}

#[derive(Debug, Clone)]
pub(super) struct RuleDef {
    pub(super) name: String,
    pub(super) desc: String,
    pub(super) cond: CondText,
    pub(super) output: (String, usize, Mark),
    pub(super) priority: Priority,
    pub(super) source: String,
    pub(super) tags: Vec<String>,
    pub(super) enabled: bool,
    pub(super) exceptions: Vec<ExceptionDef>,
    pub(super) stateful: Option<(String, Node, usize)>,
    pub(super) dedup: Option<(Node, usize)>,
}

pub(super) struct Loader<'f> {
    pub(super) files: &'f [(&'f str, &'f str)],
    pub(super) lists: HashMap<String, ListDef>,
    pub(super) macros: Vec<MacroDef>,
    pub(super) rules: Vec<RuleDef>,
    pub(super) items: usize,
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
    "absence",
    "dedup",
];

const STATEFUL_KEYS: &[&str] = &[
    "threshold",
    "first_seen",
    "geo_velocity",
    "sequence",
    "absence",
];

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

    pub(super) fn load_file(&mut self, file: usize, text: &str) -> Result<(), LoadError> {
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
            dedup: None,
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
        if let Some(node) = item.get("dedup") {
            def.dedup = Some((node.clone(), file));
        }
        let stateful: Vec<_> = STATEFUL_KEYS
            .iter()
            .filter(|k| item.get(k).is_some())
            .collect();
        if stateful.len() > 1 {
            return Err(self.err(
                file,
                item.mark,
                "a rule may use only one of threshold, first_seen, geo_velocity, sequence, absence",
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
