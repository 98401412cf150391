//! Falco's condition grammar: parsing into an AST with source offsets.
//!
//! ```text
//! expr    := and ("or" and)*
//! and     := not ("and" not)*
//! not     := "not" not | primary
//! primary := "(" expr ")" | field op value | field "exists" | macro_name
//! value   := "quoted" | 'quoted' | bareword | "(" value ("," value)* ")"
//! ```
//! Precedence is Falco's: `not` binds tighter than `and`, which binds tighter than `or`.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Intersects,
    Contains,
    IContains,
    StartsWith,
    EndsWith,
    Glob,
    PMatch,
    Regex,
    Exists,
}

impl Op {
    pub fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "=" | "==" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "in" => Op::In,
            "intersects" => Op::Intersects,
            "contains" => Op::Contains,
            "icontains" => Op::IContains,
            "startswith" => Op::StartsWith,
            "endswith" => Op::EndsWith,
            "glob" => Op::Glob,
            "pmatch" => Op::PMatch,
            "regex" => Op::Regex,
            "exists" => Op::Exists,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::In => "in",
            Op::Intersects => "intersects",
            Op::Contains => "contains",
            Op::IContains => "icontains",
            Op::StartsWith => "startswith",
            Op::EndsWith => "endswith",
            Op::Glob => "glob",
            Op::PMatch => "pmatch",
            Op::Regex => "regex",
            Op::Exists => "exists",
        }
    }

    pub fn takes_list(self) -> bool {
        matches!(self, Op::In | Op::Intersects | Op::PMatch)
    }
}

const WORD_OPS: [&str; 10] = [
    "intersects",
    "icontains",
    "contains",
    "startswith",
    "endswith",
    "exists",
    "pmatch",
    "regex",
    "glob",
    "in",
];

#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub text: String,
    pub quoted: bool,
    pub pos: usize,
    /// `val(field)`: compare with another field of the same event.
    pub field_ref: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Rhs {
    None,
    Scalar(Value),
    List(Vec<Value>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Ast {
    And(Vec<Ast>),
    Or(Vec<Ast>),
    Not(Box<Ast>),
    Ref {
        name: String,
        pos: usize,
    },
    Check {
        field: String,
        arg: Option<String>,
        pos: usize,
        op: Op,
        rhs: Rhs,
    },
}

use super::limits::MAX_NESTING;

impl Ast {
    /// Where the condition's first field or macro name starts (for errors about a subtree).
    pub fn first_pos(&self) -> usize {
        let mut ast = self;
        loop {
            match ast {
                Ast::And(items) | Ast::Or(items) => match items.first() {
                    Some(first) => ast = first,
                    None => return 0,
                },
                Ast::Not(inner) => ast = inner,
                Ast::Ref { pos, .. } | Ast::Check { pos, .. } => return *pos,
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub pos: usize,
    pub reason: String,
}

pub fn parse(text: &str) -> Result<Ast, ParseError> {
    let mut p = Parser {
        s: text,
        i: 0,
        depth: 0,
    };
    let ast = p.or()?;
    p.ws();
    if p.i < p.s.len() {
        return Err(p.err(format!("unexpected '{}'", p.token_here())));
    }
    Ok(ast)
}

struct Parser<'a> {
    s: &'a str,
    i: usize,
    /// Open parentheses and `not`s around the current position: bounded, so a hostile
    /// condition cannot exhaust the stack of the recursive descent.
    depth: usize,
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

fn is_bare(c: char) -> bool {
    !c.is_whitespace() && !matches!(c, '(' | ')' | ',')
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.s[self.i..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn ws(&mut self) {
        let trimmed = self.rest().trim_start();
        self.i = self.s.len() - trimmed.len();
    }

    fn err(&self, reason: String) -> ParseError {
        ParseError {
            pos: self.i,
            reason,
        }
    }

    fn token_here(&self) -> String {
        self.rest()
            .chars()
            .take_while(|c| !c.is_whitespace())
            .take(30)
            .collect()
    }

    fn keyword(&mut self, kw: &str) -> bool {
        self.ws();
        let rest = self.rest();
        // Prefix first: slicing at kw.len() could split a multi-byte character.
        let matched = rest
            .strip_prefix(kw)
            .is_some_and(|after| after.chars().next().is_none_or(|c| !is_ident(c)));
        if matched {
            self.i += kw.len();
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<Ast, ParseError> {
        self.joined("or", Self::and, Ast::Or)
    }

    fn and(&mut self) -> Result<Ast, ParseError> {
        self.joined("and", Self::not, Ast::And)
    }

    /// `operand (keyword operand)*`: a lone operand as it is, several joined by `join`.
    fn joined(
        &mut self,
        keyword: &str,
        operand: fn(&mut Self) -> Result<Ast, ParseError>,
        join: fn(Vec<Ast>) -> Ast,
    ) -> Result<Ast, ParseError> {
        let mut items = vec![operand(self)?];
        while self.keyword(keyword) {
            items.push(operand(self)?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            join(items)
        })
    }

    fn not(&mut self) -> Result<Ast, ParseError> {
        if self.keyword("not") {
            self.enter()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Ast::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.err(format!(
                "condition nested deeper than {MAX_NESTING} levels of parentheses and 'not'"
            )));
        }
        Ok(())
    }

    fn primary(&mut self) -> Result<Ast, ParseError> {
        self.ws();
        match self.peek() {
            None => Err(self.err("unexpected end of condition".into())),
            Some('(') => {
                self.enter()?;
                self.i += 1;
                let inner = self.or()?;
                self.depth -= 1;
                self.ws();
                if self.peek() != Some(')') {
                    return Err(self.err("expected ')'".into()));
                }
                self.i += 1;
                Ok(inner)
            }
            Some(c) if is_ident(c) => self.check_or_ref(),
            Some(_) => Err(self.err(format!("unexpected '{}'", self.token_here()))),
        }
    }

    fn check_or_ref(&mut self) -> Result<Ast, ParseError> {
        let pos = self.i;
        let len = self
            .rest()
            .find(|c: char| !is_ident(c))
            .unwrap_or(self.rest().len());
        let name = self.rest()[..len].to_owned();
        if matches!(name.as_str(), "and" | "or") {
            return Err(self.err(format!("unexpected '{name}'")));
        }
        self.i += len;
        let arg = self.field_arg()?;
        let Some(op) = self.operator() else {
            if arg.is_some() {
                return Err(self.err(format!("expected an operator after '{name}'")));
            }
            return Ok(Ast::Ref { name, pos });
        };
        let rhs = self.rhs(op)?;
        Ok(Ast::Check {
            field: name,
            arg,
            pos,
            op,
            rhs,
        })
    }

    fn field_arg(&mut self) -> Result<Option<String>, ParseError> {
        if self.peek() != Some('[') {
            return Ok(None);
        }
        let Some(end) = self.rest().find(']') else {
            return Err(self.err("unterminated '[' in field argument".into()));
        };
        let arg = self.rest()[1..end].to_owned();
        self.i += end + 1;
        Ok(Some(arg))
    }

    fn operator(&mut self) -> Option<Op> {
        self.ws();
        for sym in ["==", "!=", "<=", ">=", "=", "<", ">"] {
            if self.rest().starts_with(sym) {
                self.i += sym.len();
                return Op::parse(sym);
            }
        }
        let save = self.i;
        for word in WORD_OPS {
            if self.keyword(word) {
                return Op::parse(word);
            }
            self.i = save;
        }
        None
    }

    fn rhs(&mut self, op: Op) -> Result<Rhs, ParseError> {
        if op == Op::Exists {
            return Ok(Rhs::None);
        }
        self.ws();
        if self.peek() == Some('(') {
            return Ok(Rhs::List(self.list()?));
        }
        Ok(Rhs::Scalar(self.value()?))
    }

    fn list(&mut self) -> Result<Vec<Value>, ParseError> {
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.peek() == Some(')') {
            self.i += 1;
            return Ok(items);
        }
        loop {
            items.push(self.value()?);
            self.ws();
            match self.peek() {
                Some(',') => self.i += 1,
                Some(')') => {
                    self.i += 1;
                    return Ok(items);
                }
                _ => return Err(self.err("expected ',' or ')' in list".into())),
            }
        }
    }

    fn value(&mut self) -> Result<Value, ParseError> {
        self.ws();
        let pos = self.i;
        match self.peek() {
            Some(q @ ('"' | '\'')) => self.quoted(q, pos),
            Some(_) if self.rest().starts_with("val(") => {
                let end = self
                    .rest()
                    .find(')')
                    .ok_or_else(|| self.err("unterminated 'val('".into()))?;
                let text = self.rest()[4..end].trim().to_owned();
                self.i += end + 1;
                Ok(Value {
                    text,
                    quoted: false,
                    pos,
                    field_ref: true,
                })
            }
            Some(c) if is_bare(c) => {
                let len = self
                    .rest()
                    .find(|c: char| !is_bare(c))
                    .unwrap_or(self.rest().len());
                let text = self.rest()[..len].to_owned();
                self.i += len;
                Ok(Value {
                    text,
                    quoted: false,
                    pos,
                    field_ref: false,
                })
            }
            _ => Err(self.err("expected a value".into())),
        }
    }

    fn quoted(&mut self, quote: char, pos: usize) -> Result<Value, ParseError> {
        let mut text = String::new();
        let mut chars = self.rest().char_indices().skip(1);
        while let Some((idx, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, next)) = chars.next() {
                        text.push(next);
                    }
                }
                c if c == quote => {
                    self.i += idx + 1;
                    return Ok(Value {
                        text,
                        quoted: true,
                        pos,
                        field_ref: false,
                    });
                }
                c => text.push(c),
            }
        }
        Err(ParseError {
            pos,
            reason: "unterminated string".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(field: &str, op: Op) -> impl Fn(&Ast) -> bool + '_ {
        move |a| matches!(a, Ast::Check { field: f, op: o, .. } if f == field && *o == op)
    }

    #[test]
    fn precedence_not_and_or() {
        let ast = parse("not a.b = 1 and c.d = 2 or e.f = 3").unwrap();
        let Ast::Or(items) = ast else { panic!() };
        let Ast::And(ands) = &items[0] else { panic!() };
        assert!(matches!(&ands[0], Ast::Not(_)));
        assert!(check("e.f", Op::Eq)(&items[1]));
    }

    #[test]
    fn compact_operators_and_args() {
        let ast = parse("okta.mfa.failure.countlast[300]>=3").unwrap();
        let Ast::Check { arg, op, rhs, .. } = ast else {
            panic!()
        };
        assert_eq!(arg.as_deref(), Some("300"));
        assert_eq!(op, Op::Ge);
        assert!(matches!(rhs, Rhs::Scalar(Value { ref text, .. }) if text == "3"));
    }

    #[test]
    fn lists_quotes_and_macros() {
        let ast = parse(r#"(a.b in ("x y", z, 'q\'r')) and my_macro"#).unwrap();
        let Ast::And(items) = ast else { panic!() };
        let Ast::Check {
            rhs: Rhs::List(vals),
            ..
        } = &items[0]
        else {
            panic!()
        };
        let texts: Vec<_> = vals.iter().map(|v| v.text.as_str()).collect();
        assert_eq!(texts, ["x y", "z", "q'r"]);
        assert!(matches!(&items[1], Ast::Ref { name, .. } if name == "my_macro"));
    }

    #[test]
    fn words_are_not_operators_inside_identifiers() {
        assert!(matches!(parse("notify").unwrap(), Ast::Ref { .. }));
        assert!(check("a.b", Op::Exists)(&parse("a.b exists").unwrap()));
        assert!(check("a.b", Op::In)(&parse("a.b in(x)").unwrap()));
    }

    #[test]
    fn errors_have_positions() {
        let e = parse("a.b = ").unwrap_err();
        assert_eq!(e.pos, 6);
        let e = parse("a.b = 1 and (c.d = 2").unwrap_err();
        assert!(e.reason.contains("')'"));
        let e = parse("a.b = 1 c").unwrap_err();
        assert_eq!(e.pos, 8);
        assert!(parse(r#"a.b = "open"#).is_err());
        assert!(parse("and").is_err());
        assert!(parse("a.b in (x").is_err());
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = |n: usize| format!("{}a.b = 1{}", "(".repeat(n), ")".repeat(n));
        assert!(parse(&deep(MAX_NESTING)).is_ok());
        let e = parse(&deep(10_000)).unwrap_err();
        assert!(e.reason.contains("nested deeper"), "{e:?}");
        assert_eq!(e.pos, MAX_NESTING);
        let nots = format!("{}a.b = 1", "not ".repeat(3_000));
        assert!(parse(&nots).unwrap_err().reason.contains("nested deeper"));
    }
}
