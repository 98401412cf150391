//! Data table of the fields: each one's name, what it reads, its type and argument, and whether
//! the plugin sets it to "" when the source is absent.

use super::{ArgKind, FieldId, FieldType};

pub(super) struct Spec {
    pub(super) name: &'static str,
    pub(super) id: FieldId,
    pub(super) ty: FieldType,
    pub(super) arg: ArgKind,
    /// The plugin sets this field on every event, `""` when the source is absent.
    pub(super) empty_when_absent: bool,
    pub(super) desc: &'static str,
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

pub(super) static SPECS: &[Spec] = &[
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
        "securityContext.risk.level, else debugData.risk, else logOnlySecurityData.risk",
    ),
    extra(
        "okta.security.risk.reasons",
        F::RiskReasons,
        T::Str,
        "securityContext.risk.reasons, else debugData.risk, else logOnlySecurityData.risk",
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
    extra(
        "okta.dthash",
        F::DtHash,
        T::Str,
        "debugData.dtHash: the device token's hash",
    ),
    extra(
        "okta.threatsuspected",
        F::ThreatSuspected,
        T::Str,
        "debugData.threatSuspected (ThreatInsight) as true/false",
    ),
    extra(
        "okta.behaviors.positive",
        F::BehaviorsPositive,
        T::List,
        "names of the behaviors Okta rated POSITIVE (debugData.behaviors, else logOnlySecurityData)",
    ),
    with_arg(
        extra(
            "okta.behavior",
            F::Behavior,
            T::Str,
            "[name]: that behavior's rating, e.g. okta.behavior[New Device] = POSITIVE",
        ),
        ArgKind::ReqKey,
    ),
];
