//! Data table: the demo org's places, user agents, apps and people (the cast of the stories),
//! and the kinds of event the stories tell.

use serde_json::{Value, json};

/// Who the demo's stories are about (`actor.alternateId`), for assertions on detections.
pub const BRUTE_FORCE_USER: &str = "carol.schmidt@acme.example";
/// Rejects seven Okta Verify pushes, then accepts one.
pub const MFA_FLOOD_USER: &str = "dave.okafor@acme.example";
/// Signs in from Romania after six days of sign-ins from the United States.
pub const NEW_COUNTRY_USER: &str = "alice.nguyen@acme.example";
/// Granted Super administrator, then creates an API token.
pub const PRIVILEGE_GRANTEE: &str = "erin.kowalski@acme.example";
/// Signs in through an anonymizing proxy (`securityContext.isProxy`).
pub const PROXY_USER: &str = "bob.martin@acme.example";

#[derive(Clone, Copy)]
pub(super) struct Place {
    pub(super) city: &'static str,
    pub(super) state: &'static str,
    pub(super) country: &'static str,
    pub(super) postal: &'static str,
    pub(super) lat: f64,
    pub(super) lon: f64,
    pub(super) asn: u64,
    pub(super) as_org: &'static str,
    pub(super) isp: &'static str,
    pub(super) domain: &'static str,
    pub(super) proxy: bool,
}

const fn place(
    city: &'static str,
    state: &'static str,
    country: &'static str,
    postal: &'static str,
    (lat, lon): (f64, f64),
    (asn, as_org, isp, domain): (u64, &'static str, &'static str, &'static str),
) -> Place {
    Place {
        city,
        state,
        country,
        postal,
        lat,
        lon,
        asn,
        as_org,
        isp,
        domain,
        proxy: false,
    }
}

pub(super) const SAN_FRANCISCO: Place = place(
    "San Francisco",
    "California",
    "United States",
    "94105",
    (37.7898, -122.3942),
    (
        7922,
        "comcast",
        "Comcast Cable Communications, LLC",
        "comcast.net",
    ),
);
pub(super) const CHICAGO: Place = place(
    "Chicago",
    "Illinois",
    "United States",
    "60601",
    (41.8858, -87.6181),
    (7018, "at&t services", "AT&T Services, Inc.", "att.net"),
);
const AUSTIN: Place = place(
    "Austin",
    "Texas",
    "United States",
    "78701",
    (30.2711, -97.7437),
    (11427, "charter communications", "Spectrum", "rr.com"),
);
const PARIS: Place = place(
    "Paris",
    "Ile-de-France",
    "France",
    "75008",
    (48.8763, 2.3183),
    (3215, "orange", "Orange S.A.", "orange.fr"),
);
const BERLIN: Place = place(
    "Berlin",
    "Land Berlin",
    "Germany",
    "10117",
    (52.5170, 13.3889),
    (
        3320,
        "deutsche telekom ag",
        "Deutsche Telekom AG",
        "telekom.de",
    ),
);
const LONDON: Place = place(
    "London",
    "England",
    "United Kingdom",
    "EC2V",
    (51.5145, -0.0930),
    (2856, "british telecommunications plc", "BT", "bt.com"),
);
const TORONTO: Place = place(
    "Toronto",
    "Ontario",
    "Canada",
    "M5H",
    (43.6505, -79.3845),
    (
        812,
        "rogers communications canada inc.",
        "Rogers",
        "rogers.com",
    ),
);
pub(super) const AMSTERDAM_VPS: Place = place(
    "Amsterdam",
    "North Holland",
    "Netherlands",
    "1012",
    (52.3740, 4.8897),
    (9009, "m247 europe srl", "M247 Europe SRL", "m247.com"),
);
pub(super) const LAGOS: Place = place(
    "Lagos",
    "Lagos",
    "Nigeria",
    "100001",
    (6.4541, 3.3947),
    (
        29465,
        "mtn nigeria",
        "MTN Nigeria Communication limited",
        "mtnnigeria.net",
    ),
);
pub(super) const BUCHAREST: Place = place(
    "Bucharest",
    "Bucuresti",
    "Romania",
    "010011",
    (44.4323, 26.1063),
    (8708, "rcs & rds", "RCS & RDS", "rcs-rds.ro"),
);
pub(super) const TOR_EXIT: Place = Place {
    proxy: true,
    ..place(
        "Frankfurt am Main",
        "Hesse",
        "Germany",
        "60313",
        (50.1155, 8.6842),
        (
            60729,
            "stiftung erneuerbare freiheit",
            "Stiftung Erneuerbare Freiheit",
            "tor-exit.invalid",
        ),
    )
};

pub(super) const USUAL_PLACES: [Place; 7] = [
    SAN_FRANCISCO,
    CHICAGO,
    AUSTIN,
    PARIS,
    BERLIN,
    LONDON,
    TORONTO,
];

#[derive(Clone, Copy)]
pub(super) struct Agent {
    pub(super) raw: &'static str,
    pub(super) os: &'static str,
    pub(super) browser: &'static str,
    pub(super) device: &'static str,
}

pub(super) const CHROME_MAC: Agent = Agent {
    raw: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    os: "Mac OS X",
    browser: "CHROME",
    device: "Computer",
};
const EDGE_WINDOWS: Agent = Agent {
    raw: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    os: "Windows 10",
    browser: "EDGE_CHROMIUM",
    device: "Computer",
};
pub(super) const FIREFOX_WINDOWS: Agent = Agent {
    raw: "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    os: "Windows 10",
    browser: "FIREFOX",
    device: "Computer",
};
pub(super) const SAFARI_IPHONE: Agent = Agent {
    raw: "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    os: "iOS",
    browser: "SAFARI",
    device: "Mobile",
};
pub(super) const PYTHON_REQUESTS: Agent = Agent {
    raw: "python-requests/2.32.3",
    os: "Unknown",
    browser: "UNKNOWN",
    device: "Unknown",
};
pub(super) const AGENTS: [Agent; 4] = [CHROME_MAC, EDGE_WINDOWS, FIREFOX_WINDOWS, SAFARI_IPHONE];

/// A user of the demo org, with where and how they usually sign in.
#[derive(Clone)]
pub(super) struct Person {
    id: String,
    pub(super) login: String,
    pub(super) name: String,
    pub(super) ip: String,
    place: Place,
    agent: Agent,
}

impl Person {
    pub(super) fn new(
        id: &str,
        login: &str,
        name: &str,
        ip: &str,
        place: Place,
        agent: Agent,
    ) -> Self {
        Self {
            id: id.to_owned(),
            login: login.to_owned(),
            name: name.to_owned(),
            ip: ip.to_owned(),
            place,
            agent,
        }
    }

    pub(super) fn usual(&self) -> Client {
        Client::new(&self.ip, self.place, self.agent)
    }

    pub(super) fn actor(&self) -> Value {
        json!({ "id": self.id, "type": "User", "alternateId": self.login, "displayName": self.name, "detailEntry": null })
    }

    /// A user named as a target has the same shape as a user acting.
    pub(super) fn target(&self) -> Value {
        self.actor()
    }
}

/// Where a request came from.
#[derive(Clone)]
pub(super) struct Client {
    pub(super) ip: String,
    pub(super) place: Place,
    pub(super) agent: Agent,
}

impl Client {
    pub(super) fn new(ip: &str, place: Place, agent: Agent) -> Self {
        Self {
            ip: ip.to_owned(),
            place,
            agent,
        }
    }
}

#[derive(Clone, Copy)]
pub(super) struct App {
    pub(super) id: &'static str,
    pub(super) name: &'static str,
    pub(super) label: &'static str,
    pub(super) sign_on: &'static str,
}

pub(super) const APPS: [App; 4] = [
    App {
        id: "0oa1sfdc7h2KxPq3a0h8",
        name: "salesforce",
        label: "Salesforce.com",
        sign_on: "SAML_2_0",
    },
    App {
        id: "0oa1slck9m4TyRw5b0h8",
        name: "slack",
        label: "Slack",
        sign_on: "SAML_2_0",
    },
    App {
        id: "0oa1ghub3n6UzSx7c0h8",
        name: "githubcloud",
        label: "GitHub Enterprise Cloud",
        sign_on: "SAML_2_0",
    },
    App {
        id: "0oa1goog5p8VaTy9d0h8",
        name: "google",
        label: "Google Workspace",
        sign_on: "OPENID_CONNECT",
    },
];

pub(super) struct Cast {
    pub(super) alice: Person,
    pub(super) bob: Person,
    pub(super) carol: Person,
    pub(super) dave: Person,
    pub(super) erin: Person,
    pub(super) frank: Person,
    pub(super) grace: Person,
    pub(super) henry: Person,
    pub(super) olivia: Person,
}

pub(super) fn cast() -> Cast {
    let p = Person::new;
    Cast {
        alice: p(
            "00u1alc4Nq2Wx8Ez0h8",
            NEW_COUNTRY_USER,
            "Alice Nguyen",
            "192.0.2.10",
            SAN_FRANCISCO,
            CHROME_MAC,
        ),
        bob: p(
            "00u1bob7Rt3Yz9Fa0h8",
            PROXY_USER,
            "Bob Martin",
            "192.0.2.21",
            PARIS,
            FIREFOX_WINDOWS,
        ),
        carol: p(
            "00u1crl2Su4Ab1Gb0h8",
            BRUTE_FORCE_USER,
            "Carol Schmidt",
            "192.0.2.32",
            BERLIN,
            EDGE_WINDOWS,
        ),
        dave: p(
            "00u1dav5Tv6Bc2Hc0h8",
            MFA_FLOOD_USER,
            "Dave Okafor",
            "192.0.2.43",
            LONDON,
            SAFARI_IPHONE,
        ),
        erin: p(
            "00u1ern8Uw7Cd3Id0h8",
            PRIVILEGE_GRANTEE,
            "Erin Kowalski",
            "192.0.2.54",
            CHICAGO,
            CHROME_MAC,
        ),
        frank: p(
            "00u1frk1Vx8De4Je0h8",
            "frank.admin@acme.example",
            "Frank Admin",
            "192.0.2.65",
            AUSTIN,
            CHROME_MAC,
        ),
        grace: p(
            "00u1grc3Wy9Ef5Kf0h8",
            "grace.lee@acme.example",
            "Grace Lee",
            "192.0.2.76",
            TORONTO,
            EDGE_WINDOWS,
        ),
        henry: p(
            "00u1hnr6Xz1Fg6Lg0h8",
            "henry.adams@acme.example",
            "Henry Adams",
            "192.0.2.87",
            CHICAGO,
            FIREFOX_WINDOWS,
        ),
        olivia: p(
            "00u1olv9Ya2Gh7Mh0h8",
            "olivia.former@acme.example",
            "Olivia Former",
            "192.0.2.98",
            SAN_FRANCISCO,
            CHROME_MAC,
        ),
    }
}

/// An event as the System Log names it: `eventType`, `legacyEventType`, `displayMessage`.
pub(super) type EventKind = (&'static str, Option<&'static str>, &'static str);

pub(super) const SIGN_IN: EventKind = (
    "user.session.start",
    Some("core.user_auth.login_success"),
    "User login to Okta",
);
pub(super) const SIGN_IN_FAILED: EventKind = (
    "user.session.start",
    Some("core.user_auth.login_failed"),
    "User login to Okta",
);
pub(super) const SSO: EventKind = (
    "user.authentication.sso",
    Some("app.auth.sso"),
    "User single sign on to app",
);
pub(super) const MFA_PUSH: EventKind = (
    "user.authentication.auth_via_mfa",
    Some("core.user.factor.attempt_success"),
    "Authentication of user via MFA",
);
pub(super) const MFA_PUSH_FAILED: EventKind = (
    "user.authentication.auth_via_mfa",
    Some("core.user.factor.attempt_fail"),
    "Authentication of user via MFA",
);
pub(super) const PASSWORD_UPDATE: EventKind = (
    "user.account.update_password",
    Some("core.user.config.password_update.success"),
    "User update password for Okta",
);
pub(super) const PASSWORD_RESET: EventKind = (
    "user.account.reset_password",
    Some("core.user.config.password_reset"),
    "Fired when the user's Okta password is reset",
);
pub(super) const USER_CREATE: EventKind = (
    "user.lifecycle.create",
    Some("core.user.config.user_creation.success"),
    "Create Okta user",
);
pub(super) const APP_MEMBERSHIP_ADD: EventKind = (
    "application.user_membership.add",
    Some("app.generic.provision.assign_user_to_app"),
    "Add user to application membership",
);
pub(super) const GROUP_MEMBERSHIP_ADD: EventKind = (
    "group.user_membership.add",
    Some("core.user_group_member.user_add"),
    "Add user to group membership",
);
pub(super) const FACTOR_ACTIVATE: EventKind = (
    "user.mfa.factor.activate",
    Some("core.user.factor.activate"),
    "Activate factor for user",
);
pub(super) const FACTOR_DEACTIVATE: EventKind = (
    "user.mfa.factor.deactivate",
    Some("core.user.factor.deactivate"),
    "Reset factor for user",
);
pub(super) const ACCOUNT_LOCK: EventKind = (
    "user.account.lock",
    Some("core.user_auth.account_locked"),
    "Max sign in attempts exceeded",
);
pub(super) const PRIVILEGE_GRANT: EventKind = (
    "user.account.privilege.grant",
    Some("core.user.admin_privilege.granted"),
    "Grant user privilege",
);
pub(super) const API_TOKEN_CREATE: EventKind = (
    "system.api_token.create",
    Some("api.token.create"),
    "Create API token",
);
pub(super) const USER_ACTIVATE: EventKind = (
    "user.lifecycle.activate",
    Some("core.user.config.user_activated"),
    "Activate Okta user",
);
pub(super) const USER_DEACTIVATE: EventKind = (
    "user.lifecycle.deactivate",
    Some("core.user.config.user_deactivated"),
    "Deactivate Okta user",
);
pub(super) const USER_SUSPEND: EventKind = (
    "user.lifecycle.suspend",
    Some("core.user.config.user_status.suspended"),
    "Suspend Okta user",
);
pub(super) const USER_UNSUSPEND: EventKind = (
    "user.lifecycle.unsuspend",
    Some("core.user.config.user_status.unsuspended"),
    "Unsuspend Okta user",
);
pub(super) const FACTORS_RESET_ALL: EventKind = (
    "user.mfa.factor.reset_all",
    Some("core.user.factor.reset_all"),
    "Reset all factors for user",
);
pub(super) const OKTA_VERIFY_DENY_PUSH: EventKind = (
    "user.mfa.okta_verify.deny_push",
    Some("core.user.factor.attempt_fail"),
    "User rejected Okta push verify",
);
pub(super) const IDP_CREATE: EventKind = ("system.idp.lifecycle.create", None, "Create IdP");
pub(super) const IDP_ACTIVATE: EventKind = ("system.idp.lifecycle.activate", None, "Activate IdP");
pub(super) const APP_CREATE: EventKind =
    ("application.lifecycle.create", None, "Create application");
pub(super) const APP_ACTIVATE: EventKind = (
    "application.lifecycle.activate",
    None,
    "Activate application",
);
pub(super) const APP_UPDATE: EventKind =
    ("application.lifecycle.update", None, "Update application");
pub(super) const POLICY_RULE_DEACTIVATE: EventKind = (
    "policy.rule.deactivate",
    Some("policy.rule.deactivate"),
    "Deactivate policy rule",
);
pub(super) const POLICY_RULE_UPDATE: EventKind = (
    "policy.rule.update",
    Some("policy.rule.update"),
    "Update policy rule",
);
pub(super) const GROUP_PRIVILEGE_GRANT: EventKind = (
    "group.privilege.grant",
    Some("group.privilege.grant"),
    "Group Privilege granted",
);
pub(super) const API_TOKEN_REVOKE: EventKind = (
    "system.api_token.revoke",
    Some("api.token.revoke"),
    "Revoke API token",
);
pub(super) const RESOURCE_SET_BINDING_ADD: EventKind = (
    "iam.resourceset.bindings.add",
    None,
    "Admin role assignment is created",
);
pub(super) const FACTOR_SUSPEND: EventKind = (
    "user.mfa.factor.suspend",
    Some("core.user.factor.suspend"),
    "Suspend factor for user",
);
pub(super) const SUSPICIOUS_ACTIVITY_REPORT: EventKind = (
    "user.account.report_suspicious_activity_by_enduser",
    Some("core.user.account.report_suspicious_activity_by_enduser"),
    "User report suspicious activity",
);
pub(super) const RATE_LIMIT_VIOLATION: EventKind = (
    "system.org.rate_limit.violation",
    None,
    "Rate limit violation",
);
