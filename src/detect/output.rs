//! Output templates: text with `%field` (and `%field[arg]`) references, as in Falco, plus
//! `%state.*` values that stateful rules compute (`%state.count`, `%state.speed_kmh`, …).

use super::eval::Ctx;
use super::fields::{self, Field};
use super::state::GeoPoint;

/// What a stateful rule computed, for `%state.*` in its output.
#[derive(Debug, Clone, Default)]
pub struct StateOut {
    pub count: u64,
    pub distinct: u64,
    pub value: String,
    pub speed_kmh: f64,
    pub distance_km: f64,
    pub prev: Option<GeoPoint>,
}

#[derive(Debug, Clone)]
enum Piece {
    Lit(String),
    Field(Field),
    State(StateVar),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateVar {
    Count,
    Distinct,
    Value,
    SpeedKmh,
    DistanceKm,
    PrevCountry,
    PrevCity,
    PrevIp,
    PrevPublished,
}

const STATE_VARS: [(&str, StateVar); 9] = [
    ("state.count", StateVar::Count),
    ("state.distinct", StateVar::Distinct),
    ("state.value", StateVar::Value),
    ("state.speed_kmh", StateVar::SpeedKmh),
    ("state.distance_km", StateVar::DistanceKm),
    ("state.prev_country", StateVar::PrevCountry),
    ("state.prev_city", StateVar::PrevCity),
    ("state.prev_ip", StateVar::PrevIp),
    ("state.prev_published", StateVar::PrevPublished),
];

#[derive(Debug, Clone, Default)]
pub struct Template {
    pieces: Vec<Piece>,
}

/// A template error: byte offset in the template text and the reason.
pub type TemplateError = (usize, String);

impl Template {
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        while let Some(at) = rest.find('%') {
            lit.push_str(&rest[..at]);
            let offset = text.len() - rest.len() + at;
            let after = &rest[at + 1..];
            let Some((piece, used)) = reference(after).map_err(|r| (offset, r))? else {
                lit.push('%');
                rest = after;
                continue;
            };
            if !lit.is_empty() {
                pieces.push(Piece::Lit(std::mem::take(&mut lit)));
            }
            pieces.push(piece);
            rest = &after[used..];
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            pieces.push(Piece::Lit(lit));
        }
        Ok(Template { pieces })
    }

    pub fn render(&self, ctx: &Ctx<'_>, state: Option<&StateOut>) -> String {
        let mut out = String::with_capacity(128);
        for piece in &self.pieces {
            match piece {
                Piece::Lit(s) => out.push_str(s),
                Piece::Field(f) => f
                    .extract_for_output(ctx.event, ctx.org, ctx.extras)
                    .render(&mut out),
                Piece::State(var) => render_state(*var, state, &mut out),
            }
        }
        out
    }

    pub fn fields(&self) -> impl Iterator<Item = &Field> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Field(f) => Some(f),
            _ => None,
        })
    }
}

/// Parses the reference after a `%`; `None` when no name follows (a literal `%`).
/// A trailing `.` ends a sentence rather than belonging to the field name.
fn reference(after: &str) -> Result<Option<(Piece, usize)>, String> {
    let mut len = after
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(after.len());
    while len > 0 && after[..len].ends_with('.') {
        len -= 1;
    }
    if len == 0 {
        return Ok(None);
    }
    let name = &after[..len];
    if let Some((_, var)) = STATE_VARS.iter().find(|(n, _)| *n == name) {
        return Ok(Some((Piece::State(*var), len)));
    }
    let (arg, used) = match after[len..].strip_prefix('[') {
        Some(tail) => {
            let end = tail.find(']').ok_or("unterminated '[' in output field")?;
            (Some(&tail[..end]), len + end + 2)
        }
        None => (None, len),
    };
    let field = fields::resolve(name, arg)?;
    Ok(Some((Piece::Field(field), used)))
}

fn render_state(var: StateVar, state: Option<&StateOut>, out: &mut String) {
    use std::fmt::Write;
    let Some(st) = state else {
        out.push_str("<NA>");
        return;
    };
    let prev = st.prev.as_ref();
    let _ = match var {
        StateVar::Count => write!(out, "{}", st.count),
        StateVar::Distinct => write!(out, "{}", st.distinct),
        StateVar::Value => write!(out, "{}", st.value),
        StateVar::SpeedKmh => write!(out, "{:.0}", st.speed_kmh),
        StateVar::DistanceKm => write!(out, "{:.0}", st.distance_km),
        StateVar::PrevCountry => write!(out, "{}", prev.map_or("<NA>", |p| p.country.as_str())),
        StateVar::PrevCity => write!(out, "{}", prev.map_or("<NA>", |p| p.city.as_str())),
        StateVar::PrevIp => write!(out, "{}", prev.map_or("<NA>", |p| p.ip.as_str())),
        StateVar::PrevPublished => match prev {
            Some(p) => write!(out, "{}", format_ms(p.at_ms)),
            None => write!(out, "<NA>"),
        },
    };
}

fn format_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}
