//! The field vocabulary: every field of the Falco okta plugin (same names, same meaning) and
//! the fields it lacks (all targets, debug data, authentication/security context, IP chain).
//!
//! Absent values follow the plugin: the plugin always sets its plain string fields (Go zero
//! value `""`), so those read as `""` when the event lacks them; fields the plugin sets only
//! conditionally (targets by type, `okta.app`, the MFA counters) and all our extra fields read
//! as *absent*, and every comparison on an absent value is false (Falco's rule).

use std::borrow::Cow;

use crate::okta::LogEvent;
use crate::okta::log_event::GeographicalContext;

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    Str,
    U64,
    /// Several strings (e.g. every target's id); `in` means all of them, other operators any.
    List,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArgKind {
    None,
    /// `[N]` optional index.
    OptIndex,
    /// `[N]` required number (seconds for the MFA counters).
    ReqNumber,
    /// `[key]` required text.
    ReqKey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldId {
    App,
    Org,
    EvtType,
    EvtLegacyType,
    Severity,
    Message,
    Published,
    RequestUri,
    Behaviors,
    LogOnlySecurityData,
    ActorId,
    ActorType,
    ActorAlternateId,
    ActorName,
    ClientZone,
    ClientIp,
    ClientDevice,
    ClientId,
    GeoCity,
    GeoState,
    GeoCountry,
    GeoPostalCode,
    GeoLat,
    GeoLon,
    UaOs,
    UaBrowser,
    UaRaw,
    Result,
    Reason,
    TransactionId,
    TransactionType,
    PrincipalId,
    PrincipalAlternateId,
    PrincipalType,
    PrincipalName,
    AuthStep,
    AuthSessionId,
    AuthProvider,
    AuthCredentialProvider,
    AsNumber,
    AsOrg,
    Isp,
    Domain,
    IsProxy,
    TargetUserId,
    TargetUserAlternateId,
    TargetUserName,
    TargetGroupId,
    TargetGroupAlternateId,
    TargetGroupName,
    TargetAppAlternateId,
    TargetsDisplayName,
    MfaFailureCountLast,
    MfaDenyCountLast,
    // Beyond the plugin.
    Uuid,
    Version,
    AuthCredentialType,
    AuthInterface,
    AuthIssuerId,
    AuthIssuerType,
    RiskLevel,
    RiskReasons,
    TargetsId,
    TargetsType,
    TargetsAlternateId,
    TargetIdOf,
    TargetAlternateIdOf,
    TargetNameOf,
    Debug,
    IpChainIp,
    IpChainCountry,
    DtHash,
    ThreatSuspected,
    BehaviorsPositive,
    Behavior,
}

mod extract;
mod signals;
mod specs;

use specs::SPECS;

/// A resolved field reference, e.g. `okta.mfa.failure.countlast[300]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Field {
    pub id: FieldId,
    pub arg: FieldArg,
    pub ty: FieldType,
    empty_when_absent: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FieldArg {
    None,
    Number(u64),
    Key(Box<str>),
}

/// Every field name with its description, for docs and the policies API.
pub fn catalog() -> impl Iterator<Item = (&'static str, &'static str)> {
    SPECS.iter().map(|s| (s.name, s.desc))
}

/// Resolves a field name and its optional `[arg]`; the error says why.
pub fn resolve(name: &str, arg: Option<&str>) -> Result<Field, String> {
    let spec = SPECS
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| format!("unknown field '{name}'"))?;
    let arg = match (spec.arg, arg) {
        (ArgKind::None, None) | (ArgKind::OptIndex, None) => FieldArg::None,
        (ArgKind::None, Some(_)) => return Err(format!("field '{name}' takes no argument")),
        (ArgKind::ReqNumber | ArgKind::ReqKey, None) => {
            return Err(format!(
                "field '{name}' requires an argument, e.g. {name}[...]"
            ));
        }
        (ArgKind::OptIndex | ArgKind::ReqNumber, Some(a)) => FieldArg::Number(
            a.trim()
                .parse()
                .map_err(|_| format!("field '{name}' needs a number argument, got '{a}'"))?,
        ),
        (ArgKind::ReqKey, Some(a)) => FieldArg::Key(a.trim().trim_matches('"').into()),
    };
    Ok(Field {
        id: spec.id,
        arg,
        ty: spec.ty,
        empty_when_absent: spec.empty_when_absent,
    })
}

/// Resolves `name` or `name[arg]` written as one piece of text.
pub fn resolve_text(text: &str) -> Result<Field, String> {
    let text = text.trim();
    match text.split_once('[') {
        Some((name, rest)) => resolve(name, Some(rest.trim_end_matches(']'))),
        None => resolve(text, None),
    }
}

/// A field's value on one event. Borrowed from the event wherever possible.
#[derive(Debug, Clone, PartialEq)]
pub enum Val<'a> {
    Absent,
    Str(Cow<'a, str>),
    U64(u64),
    List(Vec<Cow<'a, str>>),
}

impl Val<'_> {
    /// Text for output templates; Falco prints `<NA>` for a field without a value.
    pub fn render(&self, out: &mut String) {
        match self {
            Val::Absent => out.push_str("<NA>"),
            Val::Str(s) => out.push_str(s),
            Val::U64(n) => {
                use std::fmt::Write;
                let _ = write!(out, "{n}");
            }
            Val::List(items) => {
                out.push('(');
                for (i, s) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(s);
                }
                out.push(')');
            }
        }
    }

    pub fn as_text(&self) -> Option<Cow<'_, str>> {
        match self {
            Val::Absent => None,
            Val::Str(s) => Some(Cow::Borrowed(s.as_ref())),
            Val::U64(n) => Some(Cow::Owned(n.to_string())),
            Val::List(_) => {
                let mut s = String::new();
                self.render(&mut s);
                Some(Cow::Owned(s))
            }
        }
    }
}

/// The per-event inputs to field extraction beyond the event itself.
#[derive(Debug, Default)]
pub struct Extras {
    /// Precomputed MFA counters: (deny?, seconds, count).
    pub mfa_counts: Vec<(bool, u64, u64)>,
}

/// Where the client was: `client.geographicalContext`, or, when Okta left it out (as it
/// does on many events), the first `request.ipChain` entry that has one.
pub fn geo(ev: &LogEvent) -> Option<&GeographicalContext> {
    ev.client
        .as_ref()
        .and_then(|c| c.geographical_context.as_ref())
        .or_else(|| {
            ev.request
                .as_ref()?
                .ip_chain
                .as_deref()?
                .iter()
                .find_map(|e| e.geographical_context.as_ref())
        })
}

/// What kind of MFA event the plugin's counters track, if any.
pub fn mfa_kind(ev: &LogEvent) -> Option<MfaKind> {
    let result = ev.outcome.as_ref().and_then(|o| o.result.as_deref());
    match (ev.event_type.as_str(), result) {
        ("user.mfa.okta_verify.deny_push", _) => Some(MfaKind::Deny),
        ("user.authentication.auth_via_mfa", Some("DENY")) => Some(MfaKind::Deny),
        ("user.authentication.auth_via_mfa", Some("FAILURE")) => Some(MfaKind::Failure),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaKind {
    Failure,
    Deny,
}

impl MfaKind {
    pub fn state_key(self) -> &'static str {
        match self {
            MfaKind::Failure => "okta.mfa.failure",
            MfaKind::Deny => "okta.mfa.deny",
        }
    }
}
