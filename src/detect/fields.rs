//! The field vocabulary: every field of the Falco okta plugin (same names, same meaning) and
//! the fields it lacks (all targets, debug data, authentication/security context, IP chain).
//!
//! Absent values follow the plugin: the plugin always sets its plain string fields (Go zero
//! value `""`), so those read as `""` when the event lacks them; fields the plugin sets only
//! conditionally (targets by type, `okta.app`, the MFA counters) and all our extra fields read
//! as *absent*, and every comparison on an absent value is false (Falco's rule).

use std::borrow::Cow;

use crate::okta::LogEvent;
use crate::okta::log_event::Target;

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
}

struct Spec {
    name: &'static str,
    id: FieldId,
    ty: FieldType,
    arg: ArgKind,
    /// The plugin sets this field on every event, `""` when the source is absent.
    empty_when_absent: bool,
    desc: &'static str,
}

const fn plugin(name: &'static str, id: FieldId, desc: &'static str) -> Spec {
    Spec {
        name,
        id,
        ty: FieldType::Str,
        arg: ArgKind::None,
        empty_when_absent: true,
        desc,
    }
}

const fn extra(name: &'static str, id: FieldId, ty: FieldType, desc: &'static str) -> Spec {
    Spec {
        name,
        id,
        ty,
        arg: ArgKind::None,
        empty_when_absent: false,
        desc,
    }
}

const fn with_arg(mut s: Spec, arg: ArgKind) -> Spec {
    s.arg = arg;
    s
}

const fn conditional(mut s: Spec) -> Spec {
    s.empty_when_absent = false;
    s
}

use FieldId as F;
use FieldType as T;

static SPECS: &[Spec] = &[
    conditional(plugin(
        "okta.app",
        F::App,
        "application: the segment after /app/ of the request URI",
    )),
    plugin("okta.org", F::Org, "the integration's Okta org"),
    plugin("okta.evt.type", F::EvtType, "eventType"),
    plugin("okta.evt.legacytype", F::EvtLegacyType, "legacyEventType"),
    plugin("okta.severity", F::Severity, "severity"),
    plugin("okta.message", F::Message, "displayMessage"),
    plugin("okta.published", F::Published, "published (RFC 3339)"),
    plugin("okta.requesturi", F::RequestUri, "debugData.requestUri"),
    plugin("okta.behaviors", F::Behaviors, "debugData.behaviors"),
    plugin(
        "okta.logonlysecuritydata",
        F::LogOnlySecurityData,
        "debugData.logOnlySecurityData",
    ),
    plugin("okta.actor.id", F::ActorId, "actor.id"),
    plugin("okta.actor.Type", F::ActorType, "actor.type"),
    plugin(
        "okta.actor.alternateid",
        F::ActorAlternateId,
        "actor.alternateId",
    ),
    plugin("okta.actor.name", F::ActorName, "actor.displayName"),
    plugin("okta.client.zone", F::ClientZone, "client.zone"),
    plugin("okta.client.ip", F::ClientIp, "client.ipAddress"),
    plugin("okta.client.device", F::ClientDevice, "client.device"),
    plugin("okta.client.id", F::ClientId, "client.id"),
    plugin(
        "okta.client.geo.city",
        F::GeoCity,
        "client.geographicalContext.city",
    ),
    plugin(
        "okta.client.geo.state",
        F::GeoState,
        "client.geographicalContext.state",
    ),
    plugin(
        "okta.client.geo.country",
        F::GeoCountry,
        "client.geographicalContext.country",
    ),
    plugin(
        "okta.client.geo.postalcode",
        F::GeoPostalCode,
        "client.geographicalContext.postalCode",
    ),
    plugin(
        "okta.client.geo.lat",
        F::GeoLat,
        "client.geographicalContext.geolocation.lat",
    ),
    plugin(
        "okta.client.geo.lon",
        F::GeoLon,
        "client.geographicalContext.geolocation.lon",
    ),
    plugin("okta.useragent.os", F::UaOs, "client.userAgent.os"),
    plugin(
        "okta.useragent.browser",
        F::UaBrowser,
        "client.userAgent.browser",
    ),
    plugin(
        "okta.useragent.raw",
        F::UaRaw,
        "client.userAgent.rawUserAgent",
    ),
    plugin("okta.result", F::Result, "outcome.result"),
    plugin("okta.reason", F::Reason, "outcome.reason"),
    plugin("okta.transaction.id", F::TransactionId, "transaction.id"),
    plugin(
        "okta.transaction.type",
        F::TransactionType,
        "transaction.type",
    ),
    plugin(
        "okta.principal.id",
        F::PrincipalId,
        "debugData.originalPrincipal.id",
    ),
    plugin(
        "okta.principal.alternateid",
        F::PrincipalAlternateId,
        "debugData.originalPrincipal.alternateId",
    ),
    plugin(
        "okta.principal.type",
        F::PrincipalType,
        "debugData.originalPrincipal.type",
    ),
    plugin(
        "okta.principal.name",
        F::PrincipalName,
        "debugData.originalPrincipal.displayName",
    ),
    plugin(
        "okta.authentication.step",
        F::AuthStep,
        "authenticationContext.authenticationStep",
    ),
    plugin(
        "okta.authentication.sessionid",
        F::AuthSessionId,
        "authenticationContext.externalSessionId",
    ),
    plugin(
        "okta.authentication.provider",
        F::AuthProvider,
        "authenticationContext.authenticationProvider",
    ),
    plugin(
        "okta.authentication.credentialprovider",
        F::AuthCredentialProvider,
        "authenticationContext.credentialProvider",
    ),
    Spec {
        ty: T::U64,
        ..plugin(
            "okta.security.asnumber",
            F::AsNumber,
            "securityContext.asNumber",
        )
    },
    plugin("okta.security.asorg", F::AsOrg, "securityContext.asOrg"),
    plugin("okta.security.isp", F::Isp, "securityContext.isp"),
    plugin("okta.security.domain", F::Domain, "securityContext.domain"),
    plugin(
        "okta.security.isproxy",
        F::IsProxy,
        "securityContext.isProxy (true/false)",
    ),
    conditional(plugin(
        "okta.target.user.id",
        F::TargetUserId,
        "target[type==User].id",
    )),
    conditional(plugin(
        "okta.target.user.alternateid",
        F::TargetUserAlternateId,
        "target[type==User].alternateId",
    )),
    conditional(plugin(
        "okta.target.user.name",
        F::TargetUserName,
        "target[type==User].displayName",
    )),
    conditional(plugin(
        "okta.target.group.id",
        F::TargetGroupId,
        "target[type==UserGroup].id",
    )),
    conditional(plugin(
        "okta.target.group.alternateid",
        F::TargetGroupAlternateId,
        "target[type==UserGroup].alternateId",
    )),
    conditional(plugin(
        "okta.target.group.name",
        F::TargetGroupName,
        "target[type==UserGroup].displayName",
    )),
    conditional(plugin(
        "okta.target.app.alternateid",
        F::TargetAppAlternateId,
        "target[type==AppInstance].alternateId",
    )),
    conditional(with_arg(
        plugin(
            "okta.targets.displayName",
            F::TargetsDisplayName,
            "(all target displayNames), or [i]: target i's displayName",
        ),
        ArgKind::OptIndex,
    )),
    Spec {
        ty: T::U64,
        ..conditional(with_arg(
            plugin(
                "okta.mfa.failure.countlast",
                F::MfaFailureCountLast,
                "on an MFA failure: the actor's MFA failures in the last N seconds",
            ),
            ArgKind::ReqNumber,
        ))
    },
    Spec {
        ty: T::U64,
        ..conditional(with_arg(
            plugin(
                "okta.mfa.deny.countlast",
                F::MfaDenyCountLast,
                "on a denied MFA push: the actor's denials in the last N seconds",
            ),
            ArgKind::ReqNumber,
        ))
    },
    extra("okta.uuid", F::Uuid, T::Str, "uuid"),
    extra("okta.version", F::Version, T::Str, "version"),
    extra(
        "okta.authentication.credentialtype",
        F::AuthCredentialType,
        T::Str,
        "authenticationContext.credentialType",
    ),
    extra(
        "okta.authentication.interface",
        F::AuthInterface,
        T::Str,
        "authenticationContext.interface",
    ),
    extra(
        "okta.authentication.issuer.id",
        F::AuthIssuerId,
        T::Str,
        "authenticationContext.issuer.id",
    ),
    extra(
        "okta.authentication.issuer.type",
        F::AuthIssuerType,
        T::Str,
        "authenticationContext.issuer.type",
    ),
    extra(
        "okta.security.risk.level",
        F::RiskLevel,
        T::Str,
        "securityContext.risk.level, else debugData.risk's level",
    ),
    extra(
        "okta.security.risk.reasons",
        F::RiskReasons,
        T::Str,
        "securityContext.risk.reasons",
    ),
    extra(
        "okta.targets.id",
        F::TargetsId,
        T::List,
        "every target's id",
    ),
    extra(
        "okta.targets.type",
        F::TargetsType,
        T::List,
        "every target's type",
    ),
    extra(
        "okta.targets.alternateid",
        F::TargetsAlternateId,
        T::List,
        "every target's alternateId",
    ),
    with_arg(
        extra(
            "okta.target.id",
            F::TargetIdOf,
            T::Str,
            "[Type]: the (last) target of that type's id",
        ),
        ArgKind::ReqKey,
    ),
    with_arg(
        extra(
            "okta.target.alternateid",
            F::TargetAlternateIdOf,
            T::Str,
            "[Type]: the (last) target of that type's alternateId",
        ),
        ArgKind::ReqKey,
    ),
    with_arg(
        extra(
            "okta.target.name",
            F::TargetNameOf,
            T::Str,
            "[Type]: the (last) target of that type's displayName",
        ),
        ArgKind::ReqKey,
    ),
    with_arg(
        extra(
            "okta.debug",
            F::Debug,
            T::Str,
            "[key]: debugContext.debugData.key",
        ),
        ArgKind::ReqKey,
    ),
    extra(
        "okta.request.ipchain.ip",
        F::IpChainIp,
        T::List,
        "request.ipChain[*].ip",
    ),
    extra(
        "okta.request.ipchain.country",
        F::IpChainCountry,
        T::List,
        "request.ipChain[*].geographicalContext.country",
    ),
];

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

impl Field {
    pub fn extract<'a>(&self, ev: &'a LogEvent, org: &'a str, extras: &Extras) -> Val<'a> {
        let v = self.extract_raw(ev, org, extras);
        match v {
            Val::Absent if self.empty_when_absent => Val::Str(Cow::Borrowed("")),
            other => other,
        }
    }

    fn extract_raw<'a>(&self, ev: &'a LogEvent, org: &'a str, extras: &Extras) -> Val<'a> {
        let client = ev.client.as_ref();
        let geo = client.and_then(|c| c.geographical_context.as_ref());
        let ua = client.and_then(|c| c.user_agent.as_ref());
        let actor = ev.actor.as_ref();
        let auth = ev.authentication_context.as_ref();
        let sec = ev.security_context.as_ref();
        match self.id {
            F::App => app(ev),
            F::Org => Val::Str(Cow::Borrowed(org)),
            F::EvtType => s(Some(&ev.event_type)),
            F::EvtLegacyType => s(ev.legacy_event_type.as_ref()),
            F::Severity => s(ev.severity.as_ref()),
            F::Message => s(ev.display_message.as_ref()),
            F::Published => s(ev.published.as_ref()),
            F::RequestUri => debug(ev, "requestUri"),
            F::Behaviors => debug(ev, "behaviors"),
            F::LogOnlySecurityData => debug(ev, "logOnlySecurityData"),
            F::ActorId => s(actor.and_then(|a| a.id.as_ref())),
            F::ActorType => s(actor.and_then(|a| a.kind.as_ref())),
            F::ActorAlternateId => s(actor.and_then(|a| a.alternate_id.as_ref())),
            F::ActorName => s(actor.and_then(|a| a.display_name.as_ref())),
            F::ClientZone => s(client.and_then(|c| c.zone.as_ref())),
            F::ClientIp => s(client.and_then(|c| c.ip_address.as_ref())),
            F::ClientDevice => s(client.and_then(|c| c.device.as_ref())),
            F::ClientId => s(client.and_then(|c| c.id.as_ref())),
            F::GeoCity => s(geo.and_then(|g| g.city.as_ref())),
            F::GeoState => s(geo.and_then(|g| g.state.as_ref())),
            F::GeoCountry => s(geo.and_then(|g| g.country.as_ref())),
            F::GeoPostalCode => s(geo.and_then(|g| g.postal_code.as_ref())),
            F::GeoLat => float(geo.and_then(|g| g.geolocation).and_then(|g| g.lat)),
            F::GeoLon => float(geo.and_then(|g| g.geolocation).and_then(|g| g.lon)),
            F::UaOs => s(ua.and_then(|u| u.os.as_ref())),
            F::UaBrowser => s(ua.and_then(|u| u.browser.as_ref())),
            F::UaRaw => s(ua.and_then(|u| u.raw_user_agent.as_ref())),
            F::Result => s(ev.outcome.as_ref().and_then(|o| o.result.as_ref())),
            F::Reason => s(ev.outcome.as_ref().and_then(|o| o.reason.as_ref())),
            F::TransactionId => s(ev.transaction.as_ref().and_then(|t| t.id.as_ref())),
            F::TransactionType => s(ev.transaction.as_ref().and_then(|t| t.kind.as_ref())),
            F::PrincipalId => principal(ev, "id"),
            F::PrincipalAlternateId => principal(ev, "alternateId"),
            F::PrincipalType => principal(ev, "type"),
            F::PrincipalName => principal(ev, "displayName"),
            F::AuthStep => match auth.and_then(|a| a.authentication_step) {
                Some(n) => Val::Str(Cow::Owned(n.to_string())),
                None => Val::Absent,
            },
            F::AuthSessionId => s(auth.and_then(|a| a.external_session_id.as_ref())),
            F::AuthProvider => s(auth.and_then(|a| a.authentication_provider.as_ref())),
            F::AuthCredentialProvider => s(auth.and_then(|a| a.credential_provider.as_ref())),
            F::AsNumber => sec.and_then(|s| s.as_number).map_or(Val::Absent, Val::U64),
            F::AsOrg => s(sec.and_then(|s| s.as_org.as_ref())),
            F::Isp => s(sec.and_then(|s| s.isp.as_ref())),
            F::Domain => s(sec.and_then(|s| s.domain.as_ref())),
            F::IsProxy => match sec.and_then(|s| s.is_proxy) {
                Some(true) => Val::Str(Cow::Borrowed("true")),
                Some(false) => Val::Str(Cow::Borrowed("false")),
                None => Val::Absent,
            },
            F::TargetUserId => target(ev, "User", |t| t.id.as_ref()),
            F::TargetUserAlternateId => target(ev, "User", |t| t.alternate_id.as_ref()),
            F::TargetUserName => target(ev, "User", |t| t.display_name.as_ref()),
            F::TargetGroupId => target(ev, "UserGroup", |t| t.id.as_ref()),
            F::TargetGroupAlternateId => target(ev, "UserGroup", |t| t.alternate_id.as_ref()),
            F::TargetGroupName => target(ev, "UserGroup", |t| t.display_name.as_ref()),
            F::TargetAppAlternateId => target(ev, "AppInstance", |t| t.alternate_id.as_ref()),
            F::TargetsDisplayName => self.targets_display_name(ev),
            F::MfaFailureCountLast => self.mfa_count(false, extras),
            F::MfaDenyCountLast => self.mfa_count(true, extras),
            F::Uuid => s(Some(&ev.uuid)),
            F::Version => s(ev.version.as_ref()),
            F::AuthCredentialType => s(auth.and_then(|a| a.credential_type.as_ref())),
            F::AuthInterface => s(auth.and_then(|a| a.interface.as_ref())),
            F::AuthIssuerId => s(auth.and_then(|a| a.issuer.as_ref()?.id.as_ref())),
            F::AuthIssuerType => s(auth.and_then(|a| a.issuer.as_ref()?.kind.as_ref())),
            F::RiskLevel => risk(ev, "level"),
            F::RiskReasons => risk(ev, "reasons"),
            F::TargetsId => targets(ev, |t| t.id.as_ref()),
            F::TargetsType => targets(ev, |t| t.kind.as_ref()),
            F::TargetsAlternateId => targets(ev, |t| t.alternate_id.as_ref()),
            F::TargetIdOf => target(ev, self.key(), |t| t.id.as_ref()),
            F::TargetAlternateIdOf => target(ev, self.key(), |t| t.alternate_id.as_ref()),
            F::TargetNameOf => target(ev, self.key(), |t| t.display_name.as_ref()),
            F::Debug => debug(ev, self.key()),
            F::IpChainIp => ip_chain(ev, |e| e.ip.as_ref()),
            F::IpChainCountry => {
                ip_chain(ev, |e| e.geographical_context.as_ref()?.country.as_ref())
            }
        }
    }

    fn key(&self) -> &str {
        match &self.arg {
            FieldArg::Key(k) => k,
            _ => "",
        }
    }

    fn mfa_count<'a>(&self, deny: bool, extras: &Extras) -> Val<'a> {
        let FieldArg::Number(secs) = self.arg else {
            return Val::Absent;
        };
        extras
            .mfa_counts
            .iter()
            .find(|(d, s, _)| *d == deny && *s == secs)
            .map_or(Val::Absent, |(_, _, n)| Val::U64(*n))
    }

    fn targets_display_name<'a>(&self, ev: &'a LogEvent) -> Val<'a> {
        let Some(targets) = ev.target.as_deref() else {
            return Val::Absent;
        };
        match self.arg {
            FieldArg::Number(i) => targets
                .get(i as usize)
                .and_then(|t| t.display_name.as_ref())
                .map_or(Val::Absent, |n| Val::Str(Cow::Borrowed(n))),
            _ => {
                let names: Vec<&str> = targets
                    .iter()
                    .map(|t| t.display_name.as_deref().unwrap_or(""))
                    .collect();
                Val::Str(Cow::Owned(format!("({})", names.join(","))))
            }
        }
    }

    /// The MFA counter windows (seconds) this field needs, if it is one.
    pub fn mfa_window(&self) -> Option<(bool, u64)> {
        match (self.id, &self.arg) {
            (F::MfaFailureCountLast, FieldArg::Number(n)) => Some((false, *n)),
            (F::MfaDenyCountLast, FieldArg::Number(n)) => Some((true, *n)),
            _ => None,
        }
    }

    pub fn is_event_type(&self) -> bool {
        self.id == F::EvtType
    }
}

fn s(v: Option<&String>) -> Val<'_> {
    v.map_or(Val::Absent, |v| Val::Str(Cow::Borrowed(v)))
}

fn float<'a>(v: Option<f64>) -> Val<'a> {
    v.map_or(Val::Absent, |f| Val::Str(Cow::Owned(f.to_string())))
}

fn debug<'a>(ev: &'a LogEvent, key: &str) -> Val<'a> {
    ev.debug_data(key).map_or(Val::Absent, Val::Str)
}

fn app(ev: &LogEvent) -> Val<'_> {
    let Some(uri) = ev.debug_data("requestUri") else {
        return Val::Absent;
    };
    if !uri.starts_with("/app/") {
        return Val::Absent;
    }
    let segment = |u: &str| u.split('/').nth(2).unwrap_or("").to_owned();
    match uri {
        Cow::Borrowed(u) => Val::Str(Cow::Borrowed(u.split('/').nth(2).unwrap_or(""))),
        Cow::Owned(u) => Val::Str(Cow::Owned(segment(&u))),
    }
}

fn principal<'a>(ev: &'a LogEvent, key: &str) -> Val<'a> {
    let value = ev
        .debug_context
        .as_ref()
        .and_then(|d| d.debug_data.as_ref())
        .and_then(|d| d.get("originalPrincipal"))
        .and_then(|p| p.get(key))
        .and_then(|v| v.as_str());
    value.map_or(Val::Absent, |v| Val::Str(Cow::Borrowed(v)))
}

fn risk<'a>(ev: &'a LogEvent, key: &str) -> Val<'a> {
    let from_security = ev
        .security_context
        .as_ref()
        .and_then(|s| s.risk.as_ref())
        .and_then(|r| r.get(key));
    match from_security {
        Some(serde_json::Value::String(v)) => Val::Str(Cow::Borrowed(v)),
        Some(serde_json::Value::Null) | None => risk_from_debug(ev, key),
        Some(other) => Val::Str(Cow::Owned(other.to_string())),
    }
}

/// Okta also writes risk into debugData as `{level=HIGH, reasons=...}`.
fn risk_from_debug<'a>(ev: &'a LogEvent, key: &str) -> Val<'a> {
    let Some(text) = ev.debug_data("risk") else {
        return Val::Absent;
    };
    let needle = format!("{key}=");
    let Some(start) = text.find(&needle) else {
        return Val::Absent;
    };
    let rest = &text[start + needle.len()..];
    let end = if key == "reasons" {
        rest.rfind('}').unwrap_or(rest.len())
    } else {
        rest.find([',', '}']).unwrap_or(rest.len())
    };
    Val::Str(Cow::Owned(rest[..end].trim().to_owned()))
}

fn target<'a>(
    ev: &'a LogEvent,
    kind: &str,
    pick: impl Fn(&'a Target) -> Option<&'a String>,
) -> Val<'a> {
    ev.target_of_type(kind)
        .and_then(pick)
        .map_or(Val::Absent, |v| Val::Str(Cow::Borrowed(v)))
}

fn targets<'a>(ev: &'a LogEvent, pick: impl Fn(&'a Target) -> Option<&'a String>) -> Val<'a> {
    let items: Vec<Cow<'a, str>> = ev
        .target
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter_map(|t| pick(t).map(|v| Cow::Borrowed(v.as_str())))
        .collect();
    if items.is_empty() {
        Val::Absent
    } else {
        Val::List(items)
    }
}

fn ip_chain<'a>(
    ev: &'a LogEvent,
    pick: impl Fn(&'a crate::okta::log_event::IpChainEntry) -> Option<&'a String>,
) -> Val<'a> {
    let items: Vec<Cow<'a, str>> = ev
        .request
        .as_ref()
        .and_then(|r| r.ip_chain.as_deref())
        .unwrap_or_default()
        .iter()
        .filter_map(|e| pick(e).map(|v| Cow::Borrowed(v.as_str())))
        .collect();
    if items.is_empty() {
        Val::Absent
    } else {
        Val::List(items)
    }
}
