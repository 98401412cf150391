//! The command line (clap): see DESIGN.md's CLI contract.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "okta-ingest",
    version,
    about = "Okta Event Hook ingestion, detection and event feed"
)]
pub struct Cli {
    /// Configuration file overriding config/default.toml (environment variables override both).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The whole product in one command: service, Okta simulator, wizard, attack scenario.
    Demo {
        /// Port of the service (default: a free one).
        #[arg(long)]
        port: Option<u16>,
        /// LogEvents to push instead of the built-in scenario (a JSON array or NDJSON).
        #[arg(long)]
        events: Option<PathBuf>,
        /// Exit after printing the results instead of serving until Ctrl-C.
        #[arg(long)]
        exit: bool,
        /// Print the runtime events as NDJSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Run the service.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage tenants.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Check and test detection rules offline.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Run the Okta simulator alone.
    OktaSim {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
    },
    /// Manage the credential vault's master keys.
    Vault {
        #[command(subcommand)]
        command: VaultCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant and its first admin token.
    Create { name: String },
    /// List the tenants (one JSON line each), oldest first; offboarded ones are left out.
    List,
    /// Offboard a tenant: remove its hooks in Okta (or queue that), destroy its credentials,
    /// delete all its rows; prints the counts.
    Delete { id: crate::ids::TenantId },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token for a tenant.
    Create {
        #[arg(long)]
        tenant: crate::ids::TenantId,
        #[arg(long, value_enum, default_value = "admin")]
        role: RoleArg,
        /// Days until the token stops working (default: never).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=3650))]
        expires_in: Option<u32>,
    },
    /// List a tenant's tokens (ids, roles, expiry; never the tokens).
    List {
        #[arg(long)]
        tenant: crate::ids::TenantId,
    },
    /// Revoke a token by its id.
    Revoke { token_id: crate::ids::TokenId },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Admin,
    Viewer,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Validate rule files; errors name file:line:column and the reason.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Evaluate LogEvents offline; prints one NDJSON line per detection.
    Test {
        #[arg(long)]
        events: PathBuf,
        /// Rule files (default: the managed policies).
        #[arg(long, num_args = 1..)]
        rules: Vec<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum VaultCommand {
    /// Print a new random master key (base64 of 32 bytes).
    Keygen,
    /// Re-encrypt every stored credential under the primary key.
    Rotate,
}
