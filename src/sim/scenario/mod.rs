//! Realistic System Log events for the demo, the tests and the benchmarks.
//!
//! Shapes follow Okta's LogEvent schema and its sample hook delivery: actor, client (user
//! agent, zone, device, IP, geographical context with geolocation), outcome, typed targets,
//! transaction, `debugContext.debugData` (string values), authenticationContext,
//! securityContext and `request.ipChain`. IP addresses come from the documentation ranges
//! (RFC 5737) so no real host is named; the geography rides in `geographicalContext`, as
//! Okta resolves it.
//!
//! `catalog` holds the demo org's places, user agents, apps and people; `generators`
//! builds each kind of event from one seeded random source; `stories` tells the demo's
//! story (ordinary days and the attacks) with them; `history` the weeks of ordinary life a
//! learned baseline reads from the System Log; `extended` tells the story of the extended
//! subscription's types (identity providers, policies, apps, admin roles, factors).

mod catalog;
mod extended;
mod generators;
mod history;
mod stories;

pub use catalog::{
    BRUTE_FORCE_USER, MFA_FLOOD_USER, NEW_COUNTRY_USER, PRIVILEGE_GRANTEE, PROXY_USER,
};
pub use extended::{PROXY_ADMIN, UNENROLLED_USER, extended_scenario};
pub use generators::random_events;
pub use history::{HISTORY_USERS, SignIn, ordinary_history, sign_in};
pub use stories::demo_scenario;
