//! Data table (the match in `extract_raw`): where in a LogEvent each field reads its value, one
//! arm a field; below it, the readers that take more than a path.

use std::borrow::Cow;

use super::{Extras, Field, FieldArg, FieldId as F, Val, signals};
use crate::okta::LogEvent;
use crate::okta::log_event::Target;

impl Field {
    pub fn extract<'a>(&self, ev: &'a LogEvent, org: &'a str, extras: &Extras) -> Val<'a> {
        let v = self.extract_raw(ev, org, extras);
        match v {
            Val::Absent if self.empty_when_absent => Val::Str(Cow::Borrowed("")),
            other => other,
        }
    }

    /// The value as outputs show it: absent whenever the event lacks the source, even for the
    /// plugin fields that conditions read as `""`, so an output says `<NA>` rather than
    /// leaving a blank a reader could take for an empty value (Falco's `<NA>`).
    pub fn extract_for_output<'a>(
        &self,
        ev: &'a LogEvent,
        org: &'a str,
        extras: &Extras,
    ) -> Val<'a> {
        self.extract_raw(ev, org, extras)
    }

    fn extract_raw<'a>(&self, ev: &'a LogEvent, org: &'a str, extras: &Extras) -> Val<'a> {
        let client = ev.client.as_ref();
        let geo = super::geo(ev);
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
            F::RiskLevel => owned(signals::risk(ev, "level")),
            F::RiskReasons => owned(signals::risk(ev, "reasons")),
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
            F::DtHash => debug(ev, "dtHash"),
            F::ThreatSuspected => {
                signals::threat_suspected(ev).map_or(Val::Absent, |v| Val::Str(Cow::Borrowed(v)))
            }
            F::BehaviorsPositive => positive_behaviors(ev),
            F::Behavior => owned(
                signals::behaviors(ev)
                    .into_iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(self.key()))
                    .map(|(_, v)| v),
            ),
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

fn owned<'a>(v: Option<String>) -> Val<'a> {
    v.map_or(Val::Absent, |v| Val::Str(Cow::Owned(v)))
}

fn positive_behaviors<'a>(ev: &LogEvent) -> Val<'a> {
    list(
        signals::behaviors(ev)
            .into_iter()
            .filter(|(_, v)| v.eq_ignore_ascii_case("POSITIVE"))
            .map(|(k, _)| Cow::Owned(k))
            .collect(),
    )
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
    picked(ev.target.as_deref().unwrap_or_default(), pick)
}

fn ip_chain<'a>(
    ev: &'a LogEvent,
    pick: impl Fn(&'a crate::okta::log_event::IpChainEntry) -> Option<&'a String>,
) -> Val<'a> {
    let chain = ev.request.as_ref().and_then(|r| r.ip_chain.as_deref());
    picked(chain.unwrap_or_default(), pick)
}

/// The list of what `pick` finds in `items`.
fn picked<'a, T>(items: &'a [T], pick: impl Fn(&'a T) -> Option<&'a String>) -> Val<'a> {
    list(
        items
            .iter()
            .filter_map(|item| pick(item).map(|v| Cow::Borrowed(v.as_str())))
            .collect(),
    )
}

/// A list value; absent when empty.
fn list(items: Vec<Cow<'_, str>>) -> Val<'_> {
    if items.is_empty() {
        Val::Absent
    } else {
        Val::List(items)
    }
}
