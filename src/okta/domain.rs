//! Okta domain parsing and the allow-list that keeps the service from being pointed at
//! arbitrary hosts (SSRF guard). An [`OktaDomain`] is valid by construction.
//!
//! Accepted: an org name (`acme`), a bare domain (`acme.okta.com`), or a URL
//! (`https://acme.okta.com/`). Everything else is rejected with a message that says what to
//! enter instead. Note that this is a syntactic check: it does not resolve DNS.

use std::fmt;
use std::net::Ipv4Addr;

use url::Url;

/// Okta's own domain suffixes; an org is exactly one label below one of them.
pub const OKTA_SUFFIXES: [&str; 5] = [
    "okta.com",
    "oktapreview.com",
    "okta-emea.com",
    "okta-gov.com",
    "okta.mil",
];

const MAX_INPUT_LEN: usize = 512;
const MAX_HOST_LEN: usize = 253;
const MAX_LABEL_LEN: usize = 63;
const ADMIN_SUFFIX: &str = "-admin";
/// The page of the Okta admin console where the admin browses the OIN catalog.
const INSTALL_PATH: &str = "/admin/apps/add-app";

/// What the operator allows besides Okta's own suffixes.
#[derive(Debug, Clone, Default)]
pub struct DomainPolicy {
    /// Lets `http://127.0.0.1:PORT` through (the simulator). Off in production.
    pub allow_loopback: bool,
    /// Exact host names of customers' custom (vanity) Okta domains.
    pub custom_domains: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Kind {
    /// `{org}.{suffix}`; `org` is the first label.
    Okta {
        suffix: &'static str,
    },
    Custom,
    Loopback {
        port: u16,
    },
}

/// A normalized, allow-listed Okta org domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OktaDomain {
    host: String,
    kind: Kind,
    /// `host` or `host:port`.
    display: String,
    base: Url,
}

/// Why an input is not an acceptable Okta domain. Every message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("The Okta domain is empty. Enter your Okta domain, e.g. acme.okta.com.")]
    Empty,
    #[error("The Okta domain is too long. Enter only your Okta domain, e.g. acme.okta.com.")]
    TooLong,
    #[error(
        "The Okta domain contains spaces or control characters. Enter only your Okta domain, \
         e.g. acme.okta.com."
    )]
    Whitespace,
    #[error(
        "The Okta domain contains non-ASCII characters (look-alike letters are not \
         allowed). Type your Okta domain in plain ASCII, e.g. acme.okta.com."
    )]
    NonAscii,
    #[error(
        "The Okta domain contains a punycode (xn--) label, which is not allowed. Enter your \
         Okta domain, e.g. acme.okta.com."
    )]
    Punycode,
    #[error("Only https:// URLs are accepted. Enter your Okta domain as https://acme.okta.com.")]
    NotHttps,
    #[error("The URL scheme is not supported. Enter your Okta domain, e.g. https://acme.okta.com.")]
    UnsupportedScheme,
    #[error(
        "The Okta domain must not contain a user name or password (the part before @). Enter \
         only your Okta domain, e.g. acme.okta.com."
    )]
    Userinfo,
    #[error(
        "The Okta domain must not contain a port. Enter only your Okta domain, e.g. acme.okta.com."
    )]
    Port,
    #[error(
        "The Okta domain must not contain a path. Copy only the domain from your browser's \
         address bar, e.g. acme.okta.com."
    )]
    Path,
    #[error(
        "The Okta domain must not contain a query (?) or fragment (#). Enter only your Okta \
         domain, e.g. acme.okta.com."
    )]
    QueryOrFragment,
    #[error("IP addresses are not accepted. Enter your Okta domain, e.g. acme.okta.com.")]
    IpAddress,
    #[error(
        "Local, private and link-local addresses are not accepted. Enter your Okta domain, \
         e.g. acme.okta.com."
    )]
    PrivateAddress,
    #[error("localhost is not an Okta domain. Enter your Okta domain, e.g. acme.okta.com.")]
    Localhost,
    #[error(
        "The Okta domain contains the character {0:?}, which cannot appear in a domain. Enter \
         your Okta domain, e.g. acme.okta.com."
    )]
    InvalidCharacter(char),
    #[error(
        "The Okta domain has an empty part (two dots in a row, or a leading or trailing dot). \
         Enter your Okta domain, e.g. acme.okta.com."
    )]
    EmptyLabel,
    #[error(
        "A part of the Okta domain is longer than 63 characters. Enter your Okta domain, e.g. \
         acme.okta.com."
    )]
    LabelTooLong,
    #[error(
        "A part of the Okta domain starts or ends with a hyphen. Enter your Okta domain, e.g. \
         acme.okta.com."
    )]
    Hyphen,
    #[error("{0} alone is not an org domain: add your org name in front of it, e.g. acme.{0}.")]
    BareSuffix(&'static str),
    #[error(
        "{0} is not an Okta org domain. Use your org's domain on okta.com, oktapreview.com, \
         okta-emea.com, okta-gov.com or okta.mil (e.g. acme.okta.com), or ask your operator \
         to allow your custom domain."
    )]
    NotOkta(String),
    #[error(
        "{0} has more than one label before the Okta suffix. Use your org's domain, e.g. \
         acme.okta.com (the admin console domain acme-admin.okta.com works too)."
    )]
    NestedSubdomain(String),
    #[error("A loopback Okta domain needs a port, e.g. http://127.0.0.1:8081.")]
    LoopbackPort,
}

impl DomainError {
    /// The wizard's error code for every domain problem.
    pub fn code(&self) -> &'static str {
        "invalid_domain"
    }
}

impl OktaDomain {
    /// Parses and allow-lists user input (org name, domain or `https://` URL).
    pub fn parse(input: &str, policy: &DomainPolicy) -> Result<OktaDomain, DomainError> {
        let input = precheck(input)?;
        let parts = split_url(input)?;
        if parts.scheme == Some(Scheme::Http) {
            return parse_loopback(&parts, policy);
        }
        if parts.port.is_some() {
            return Err(DomainError::Port);
        }
        let host = parts.host.to_ascii_lowercase();
        check_host_syntax(&host)?;
        if !host.contains('.') && parts.scheme.is_none() {
            return Self::okta(&host, "okta.com");
        }
        classify(&host, policy)
    }

    /// The form the database keeps: the host, or `http://127.0.0.1:PORT` for loopback, so
    /// that [`OktaDomain::from_stored`] reads back the same domain.
    pub fn stored(&self) -> String {
        match self.kind {
            Kind::Loopback { .. } => format!("http://{}", self.display),
            _ => self.display.clone(),
        }
    }

    /// Reads back a [`OktaDomain::stored`] value. It passed the allow-list when it was
    /// written; whether a loopback domain may still be called is the caller's policy.
    pub fn from_stored(text: &str) -> Result<OktaDomain, DomainError> {
        let okta_or_loopback = DomainPolicy {
            allow_loopback: true,
            custom_domains: Vec::new(),
        };
        Self::parse(text, &okta_or_loopback).or_else(|_| {
            let custom = DomainPolicy {
                allow_loopback: false,
                custom_domains: vec![text.to_owned()],
            };
            Self::parse(text, &custom)
        })
    }

    /// The host, or `host:port` for a loopback domain.
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The host name without port.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `https://host` (or `http://127.0.0.1:port`), the base of every API call.
    pub fn base_url(&self) -> Url {
        self.base.clone()
    }

    /// The org name (the first label), or the whole host for custom and loopback domains.
    pub fn org_name(&self) -> &str {
        match self.kind {
            Kind::Okta { .. } => self.host.split('.').next().unwrap_or(&self.host),
            Kind::Custom | Kind::Loopback { .. } => &self.display,
        }
    }

    /// Whether this is the simulator's loopback domain.
    pub fn is_loopback(&self) -> bool {
        matches!(self.kind, Kind::Loopback { .. })
    }

    /// The admin console page where the admin installs our OIN API Service integration.
    ///
    /// Okta's admin console lives on `{org}-admin.{suffix}`; `/admin/apps/add-app` is its
    /// OIN catalog ("Browse App Catalog"), where the "Sysdig" integration is found. A custom
    /// domain does not reveal the org's `-admin` host, so the same path on the custom host is
    /// a best effort; loopback points at the same path on the simulator.
    pub fn install_url(&self) -> String {
        match self.kind {
            Kind::Okta { suffix } => {
                format!(
                    "https://{}{ADMIN_SUFFIX}.{suffix}{INSTALL_PATH}",
                    self.org_name()
                )
            }
            Kind::Custom => format!("https://{}{INSTALL_PATH}", self.host),
            Kind::Loopback { .. } => format!("http://{}{INSTALL_PATH}", self.display),
        }
    }

    /// Whether `url` has exactly this domain's origin (scheme, host, port).
    pub fn same_origin(&self, url: &Url) -> bool {
        url.origin() == self.base.origin()
    }

    fn okta(org: &str, suffix: &'static str) -> Result<OktaDomain, DomainError> {
        let org = strip_admin(org);
        Self::build(format!("{org}.{suffix}"), Kind::Okta { suffix })
    }

    fn build(host: String, kind: Kind) -> Result<OktaDomain, DomainError> {
        let display = match kind {
            Kind::Loopback { port } => format!("{host}:{port}"),
            _ => host.clone(),
        };
        let scheme = if matches!(kind, Kind::Loopback { .. }) {
            "http"
        } else {
            "https"
        };
        let base = Url::parse(&format!("{scheme}://{display}"))
            .map_err(|_| DomainError::NotOkta(host.clone()))?;
        Ok(OktaDomain {
            host,
            kind,
            display,
            base,
        })
    }
}

impl fmt::Display for OktaDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

impl serde::Serialize for OktaDomain {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.display)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Https,
    Http,
}

struct Parts<'a> {
    scheme: Option<Scheme>,
    host: &'a str,
    port: Option<&'a str>,
}

/// `acme-admin` (the admin console host's label) → `acme`.
fn strip_admin(org: &str) -> &str {
    org.strip_suffix(ADMIN_SUFFIX)
        .filter(|o| !o.is_empty() && !o.ends_with('-'))
        .unwrap_or(org)
}

/// Length, whitespace and charset checks on the raw input; returns it trimmed.
fn precheck(input: &str) -> Result<&str, DomainError> {
    if input.len() > MAX_INPUT_LEN {
        return Err(DomainError::TooLong);
    }
    let input = input.trim_matches(' ');
    if input.is_empty() {
        return Err(DomainError::Empty);
    }
    if !input.is_ascii() {
        return Err(DomainError::NonAscii);
    }
    if input
        .chars()
        .any(|c| c.is_ascii_whitespace() || c.is_ascii_control())
    {
        return Err(DomainError::Whitespace);
    }
    Ok(input)
}

/// Splits `[scheme://][userinfo@]host[:port][/path][?query][#fragment]`, rejecting every
/// part we do not accept.
fn split_url(input: &str) -> Result<Parts<'_>, DomainError> {
    let (scheme, rest) = match input.split_once("://") {
        Some((scheme, rest)) => (Some(parse_scheme(scheme)?), rest),
        None => (None, input),
    };
    let end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    check_tail(tail)?;
    if authority.contains('@') {
        return Err(DomainError::Userinfo);
    }
    if authority.starts_with('[') {
        return Err(DomainError::IpAddress);
    }
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    if host.is_empty() {
        return Err(DomainError::Empty);
    }
    Ok(Parts { scheme, host, port })
}

fn parse_scheme(scheme: &str) -> Result<Scheme, DomainError> {
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(Scheme::Https),
        "http" => Ok(Scheme::Http),
        _ => Err(DomainError::UnsupportedScheme),
    }
}

/// Only an empty tail or a single `/` may follow the host.
fn check_tail(tail: &str) -> Result<(), DomainError> {
    if tail.contains(['?', '#']) {
        return Err(DomainError::QueryOrFragment);
    }
    match tail {
        "" | "/" => Ok(()),
        _ if tail.starts_with('\\') => Err(DomainError::InvalidCharacter('\\')),
        _ => Err(DomainError::Path),
    }
}

/// `http://` is only for the simulator: `http://127.0.0.1:PORT` with `allow_loopback`.
fn parse_loopback(parts: &Parts<'_>, policy: &DomainPolicy) -> Result<OktaDomain, DomainError> {
    if !policy.allow_loopback || parts.host != "127.0.0.1" {
        return Err(DomainError::NotHttps);
    }
    let port: u16 = parts
        .port
        .and_then(|p| p.parse().ok())
        .filter(|p| *p != 0)
        .ok_or(DomainError::LoopbackPort)?;
    OktaDomain::build(parts.host.to_string(), Kind::Loopback { port })
}

/// Label syntax (RFC 1123 letters-digits-hyphens), IP literals in any notation, localhost.
fn check_host_syntax(host: &str) -> Result<(), DomainError> {
    if host.len() > MAX_HOST_LEN {
        return Err(DomainError::TooLong);
    }
    if let Some(c) = host
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
    {
        return Err(DomainError::InvalidCharacter(c));
    }
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Err(ip_error(ip));
    }
    if looks_numeric(host) {
        return Err(DomainError::IpAddress);
    }
    if host == "localhost" || host.ends_with(".localhost") {
        return Err(DomainError::Localhost);
    }
    host.split('.').try_for_each(check_label)
}

fn ip_error(ip: Ipv4Addr) -> DomainError {
    if ip.is_loopback() || ip.is_private() || ip.is_link_local() || ip.is_unspecified() {
        DomainError::PrivateAddress
    } else {
        DomainError::IpAddress
    }
}

/// Decimal (`2130706433`), hex (`0x7f.1`) and octal (`0177.0.0.1`) IPv4 forms: a host whose
/// last label is a number is an address to some resolver, never an Okta org.
fn looks_numeric(host: &str) -> bool {
    let last = host.rsplit('.').find(|l| !l.is_empty()).unwrap_or(host);
    let is_hex = last
        .strip_prefix("0x")
        .is_some_and(|h| h.chars().all(|c| c.is_ascii_hexdigit()));
    is_hex || (!last.is_empty() && last.chars().all(|c| c.is_ascii_digit()))
}

fn check_label(label: &str) -> Result<(), DomainError> {
    if label.is_empty() {
        return Err(DomainError::EmptyLabel);
    }
    if label.len() > MAX_LABEL_LEN {
        return Err(DomainError::LabelTooLong);
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(DomainError::Hyphen);
    }
    if label.starts_with("xn--") {
        return Err(DomainError::Punycode);
    }
    Ok(())
}

/// Matches a syntactically valid host against Okta's suffixes and the custom domains.
fn classify(host: &str, policy: &DomainPolicy) -> Result<OktaDomain, DomainError> {
    if policy
        .custom_domains
        .iter()
        .any(|d| d.trim().eq_ignore_ascii_case(host))
    {
        return OktaDomain::build(host.to_string(), Kind::Custom);
    }
    for suffix in OKTA_SUFFIXES {
        if host == suffix {
            return Err(DomainError::BareSuffix(suffix));
        }
        let Some(org) = host.strip_suffix(suffix).and_then(|o| o.strip_suffix('.')) else {
            continue;
        };
        if org.contains('.') {
            return Err(DomainError::NestedSubdomain(host.to_string()));
        }
        return OktaDomain::okta(org, suffix);
    }
    Err(DomainError::NotOkta(host.to_string()))
}

#[cfg(test)]
mod tests;
