//! `okta-ingest-bench`: capacity figures. `detect` runs every managed rule over generated
//! Okta events on one thread (one core) and compares with parsing the same JSON alone;
//! `ingest` drives real `serve` processes; `state` weighs the detection state in memory.
//! The last line printed is one JSON object of figures.

use std::hint::black_box;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

#[path = "bench/gapfill.rs"]
mod gapfill;
#[path = "bench/ingest.rs"]
mod ingest;
#[path = "bench/state.rs"]
mod state;
use okta_ingest::detect::{MemoryState, managed_engine};
use okta_ingest::okta::{EVENT_TYPES, LogEvent};
use serde_json::json;

#[derive(Parser)]
#[command(name = "okta-ingest-bench", about = "okta-ingest capacity benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The service end to end on the local Postgres: hook acknowledgements and worker
    /// throughput, beside a COPY floor measured in the same run.
    Ingest(ingest::Load),
    /// Managed detection rules over generated events on one core, against a parse-only baseline.
    Detect {
        /// Seconds to run each of the two measurements.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
        seconds: u64,
        /// Distinct generated events, cycled through.
        #[arg(long, default_value_t = 50_000, value_parser = at_least_one)]
        events: usize,
    },
    /// Memory of the detection state of many tenants, as the worker holds it (no Postgres).
    State(state::Load),
    /// Gap fill polling every org once, claimed by two replicas, against the one-at-a-time
    /// loop it replaced.
    Gapfill(gapfill::Load),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Ingest(load) => {
            let runtime = tokio::runtime::Runtime::new()?;
            let figures = runtime.block_on(ingest::run(load))?;
            println!("{figures}");
            Ok(())
        }
        Command::Detect { seconds, events } => detect(Duration::from_secs(seconds), events),
        Command::Gapfill(load) => {
            let runtime = tokio::runtime::Runtime::new()?;
            println!("{}", runtime.block_on(gapfill::run(load))?);
            Ok(())
        }
        Command::State(load) => {
            println!("{}", state::run(&load)?);
            Ok(())
        }
    }
}

/// A count flag: 1 or more.
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("a whole number, 1 or more".into()),
    }
}

fn detect(duration: Duration, count: usize) -> anyhow::Result<()> {
    let payloads = generate(count);
    let avg_bytes = payloads.iter().map(String::len).sum::<usize>() / payloads.len();
    let engine = managed_engine();
    let rules: usize = engine
        .policies()
        .iter()
        .map(|(_, set)| set.rules().len())
        .sum();

    let mut state = MemoryState::new();
    // The two measurements alternate chunk by chunk, so both see the same machine load.
    let (parse_only, full) = measure_interleaved(
        duration,
        &payloads,
        |json| {
            let event: LogEvent = serde_json::from_str(json)?;
            black_box(&event);
            Ok(0)
        },
        |json| {
            let event: LogEvent = serde_json::from_str(json)?;
            Ok(engine.evaluate_in_memory(&event, "bench", &mut state).len())
        },
    )?;

    let ratio = full.per_second / parse_only.per_second;
    println!(
        "detect: {rules} managed rules, {} distinct events of ~{avg_bytes} bytes, {:.0} events/s with detection ({} detections), {:.0} events/s parse only",
        payloads.len(),
        full.per_second,
        full.detections,
        parse_only.per_second
    );
    let figures = json!({
        "events_per_s": full.per_second.round(),
        "parse_only_events_per_s": parse_only.per_second.round(),
        "ratio": (ratio * 1000.0).round() / 1000.0,
        "rules": rules,
        "events": full.events,
        "detections": full.detections,
        "avg_event_bytes": avg_bytes,
        "seconds": duration.as_secs(),
    });
    println!("{figures}");
    Ok(())
}

struct Measured {
    per_second: f64,
    events: u64,
    detections: u64,
}

#[derive(Default)]
struct Tally {
    busy: Duration,
    events: u64,
    detections: u64,
}

impl Tally {
    fn run(
        &mut self,
        chunk: &[String],
        step: &mut impl FnMut(&str) -> anyhow::Result<usize>,
    ) -> anyhow::Result<()> {
        let start = Instant::now();
        for json in chunk {
            self.detections += step(json)? as u64;
        }
        self.busy += start.elapsed();
        self.events += chunk.len() as u64;
        Ok(())
    }

    fn measured(&self) -> Measured {
        Measured {
            per_second: self.events as f64 / self.busy.as_secs_f64().max(1e-9),
            events: self.events,
            detections: self.detections,
        }
    }
}

/// Runs both steps over the same chunks, alternating, for `duration` each.
fn measure_interleaved(
    duration: Duration,
    payloads: &[String],
    mut parse: impl FnMut(&str) -> anyhow::Result<usize>,
    mut full: impl FnMut(&str) -> anyhow::Result<usize>,
) -> anyhow::Result<(Measured, Measured)> {
    let (mut a, mut b) = (Tally::default(), Tally::default());
    'outer: loop {
        for chunk in payloads.chunks(512) {
            a.run(chunk, &mut parse)?;
            b.run(chunk, &mut full)?;
            if a.busy + b.busy >= duration * 2 {
                break 'outer;
            }
        }
    }
    Ok((a.measured(), b.measured()))
}

/// A `/proc/<pid>/status` figure in KiB (`VmRSS`, `VmHWM`); `pid` may be `self`.
fn proc_status_kib(pid: &str, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// xorshift64*: deterministic, dependency-free event mixes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const COUNTRIES: [(&str, &str, f64, f64); 6] = [
    ("United States", "Austin", 30.27, -97.74),
    ("United States", "New York", 40.71, -74.0),
    ("France", "Paris", 48.85, 2.35),
    ("Germany", "Berlin", 52.52, 13.4),
    ("Brazil", "Sao Paulo", -23.55, -46.63),
    ("India", "Bengaluru", 12.97, 77.59),
];

/// A realistic mix: mostly sign-ins, SSO and MFA, some of every other hooked type.
fn generate(count: usize) -> Vec<String> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let start_ms: i64 = 1_767_261_600_000;
    (0..count)
        .map(|i| {
            let event_type = match rng.below(100) {
                0..=44 => "user.session.start",
                45..=64 => "user.authentication.sso",
                65..=79 => "user.authentication.auth_via_mfa",
                _ => EVENT_TYPES[rng.below(EVENT_TYPES.len() as u64) as usize],
            };
            let result = match rng.below(10) {
                0..=1 => "FAILURE",
                2 if event_type == "user.authentication.auth_via_mfa" => "DENY",
                _ => "SUCCESS",
            };
            let user = rng.below(2_000);
            // Users mostly sign in from home (same country, network, device, session);
            // one event in fifty comes from elsewhere.
            let away = rng.below(50) == 0;
            let home = (user % 4) as usize;
            let place = if away { rng.below(COUNTRIES.len() as u64) as usize } else { home };
            let (country, city, lat, lon) = COUNTRIES[place];
            let ip = if away {
                format!("203.0.{}.{}", rng.below(255), rng.below(255))
            } else {
                format!("198.51.{}.{}", user / 250, user % 250)
            };
            let asn = if away { 9009 } else { 7922 + user % 3 };
            let published = chrono::DateTime::from_timestamp_millis(start_ms + i as i64 * 250)
                .map(|t| t.to_rfc3339())
                .unwrap_or_default();
            let target = rng.below(2_000);
            json!({
                "uuid": format!("{:016x}-{i}", rng.next()),
                "published": published,
                "eventType": event_type,
                "version": "0",
                "severity": "INFO",
                "legacyEventType": "core.user_auth.login_success",
                "displayMessage": "User login to Okta",
                "actor": {"id": format!("00u{user:06}"), "type": "User", "alternateId": format!("user{user}@example.com"), "displayName": format!("User {user}"), "detailEntry": null},
                "client": {
                    "userAgent": {"rawUserAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36", "os": "Mac OS X", "browser": "CHROME"},
                    "zone": "null", "device": "Computer", "id": null,
                    "ipAddress": ip,
                    "geographicalContext": {"city": city, "state": "", "country": country, "postalCode": "00000", "geolocation": {"lat": lat, "lon": lon}}
                },
                "device": null,
                "authenticationContext": {"authenticationProvider": null, "credentialProvider": null, "credentialType": null, "issuer": null, "interface": null, "authenticationStep": 0, "externalSessionId": format!("102{user:08}")},
                "outcome": {"result": result, "reason": if result == "FAILURE" { "INVALID_CREDENTIALS" } else { "" }},
                "securityContext": {"asNumber": asn, "asOrg": "comcast", "isp": "comcast", "domain": "comcast.net", "isProxy": rng.below(200) == 0},
                "debugContext": {"debugData": {"requestId": format!("req{i}"), "requestUri": "/idp/idx/identify", "url": "/idp/idx/identify?", "threatSuspected": "false", "privilegeGranted": "Read only admin"}},
                "transaction": {"type": "WEB", "id": format!("tx{i}"), "detail": {}},
                "target": [
                    {"id": format!("00u{target:06}"), "type": "User", "alternateId": format!("user{target}@example.com"), "displayName": format!("User {target}"), "detailEntry": null},
                    {"id": format!("0oa{}", rng.below(40)), "type": "AppInstance", "alternateId": format!("App {}", rng.below(40)), "displayName": "App", "detailEntry": null}
                ],
                "request": {"ipChain": [{"ip": "198.51.100.7", "geographicalContext": {"city": city, "country": country}, "version": "V4", "source": null}]}
            })
            .to_string()
        })
        .collect()
}
