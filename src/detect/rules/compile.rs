//! The compiler: macros and lists resolved; conditions, exceptions and rules made into trees.

use std::collections::HashMap;

use super::Rule;
use super::load::{ExceptionDef, ListDef, Loader, RuleDef};
use super::source::CondText;
use crate::detect::LoadError;
use crate::detect::condition::{self, Ast, Rhs};
use crate::detect::dedup::Dedup;
use crate::detect::eval::{Check, Expr};
use crate::detect::fields::{self, Field};
use crate::detect::limits::{self, Budget};
use crate::detect::output::Template;
use crate::detect::stateful::Stateful;
use crate::detect::yaml::{Mark, Node};

/// Resolves lists and macros and compiles rules, once all files are loaded.
pub(in crate::detect) struct Compiler<'l> {
    files: &'l [(&'l str, &'l str)],
    lists: &'l HashMap<String, ListDef>,
    macros: HashMap<&'l str, (Ast, &'l CondText)>,
    rules: &'l [RuleDef],
    budget: Budget,
}

/// Macros within macros, and lists within lists.
const MAX_DEPTH: usize = 64;

impl<'l> Compiler<'l> {
    /// A compiler of the loaded files that gives up past `time_limit`.
    pub(super) fn new(loader: &'l Loader<'l>, time_limit: std::time::Duration) -> Self {
        Compiler {
            files: loader.files,
            lists: &loader.lists,
            macros: HashMap::new(),
            rules: &loader.rules,
            budget: Budget::new(time_limit),
        }
    }

    /// Parses every macro and checks that each compiles.
    pub(super) fn compile_macros(&mut self, loader: &'l Loader<'l>) -> Result<(), LoadError> {
        for m in &loader.macros {
            let ast = self.parse(&m.cond)?;
            self.macros.insert(m.name.as_str(), (ast, &m.cond));
        }
        for m in &loader.macros {
            let (ast, cond) = &self.macros[m.name.as_str()];
            self.compile_ast(ast, cond, &mut vec![m.name.as_str()], 0)?;
        }
        Ok(())
    }

    /// Whether the time limit, not the policy's text, refused it.
    pub(super) fn timed_out(&self) -> bool {
        self.budget.timed_out()
    }

    fn error_at(&self, cond: &CondText, pos: usize, reason: impl Into<String>) -> LoadError {
        let (file, mark) = cond.locate(pos, self.files);
        self.error(file, mark, reason)
    }

    pub(in crate::detect) fn error(
        &self,
        file: usize,
        mark: Mark,
        reason: impl Into<String>,
    ) -> LoadError {
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
    pub(in crate::detect) fn condition(&self, file: usize, node: &Node) -> Result<Expr, LoadError> {
        let text = node
            .as_str()
            .ok_or_else(|| self.error(file, node.mark, "a condition must be text"))?;
        let cond = CondText::new(text, file, node.mark);
        let ast = self.parse(&cond)?;
        self.compile_ast(&ast, &cond, &mut Vec::new(), 0)
    }

    pub(in crate::detect) fn field(&self, file: usize, node: &Node) -> Result<Field, LoadError> {
        let text = node
            .as_str()
            .ok_or_else(|| self.error(file, node.mark, "a field name must be text"))?
            .trim();
        fields::resolve_text(text).map_err(|r| self.error(file, node.mark, r))
    }

    pub(super) fn compile_rules(&self) -> Result<Vec<Rule>, LoadError> {
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
        let dedup = match &def.dedup {
            Some((node, file)) => Some(Dedup::compile(self, node, *file)?),
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
            dedup,
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
                if *op == condition::Op::Regex {
                    self.budget
                        .spend_regex()
                        .map_err(|r| self.error_at(cond, *pos, r))?;
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
                        self.budget
                            .spend(1)
                            .map_err(|r| self.error_at(cond, v.pos, r))?;
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
        if op == condition::Op::Regex {
            for _ in 0..values.len() {
                self.budget
                    .spend_regex()
                    .map_err(|r| self.error(file, at.mark, r))?;
            }
        }
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
