use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use secrecy::ExposeSecret;

use okta_ingest::cli::{
    Cli, Command, RoleArg, RulesCommand, TenantCommand, TokenCommand, VaultCommand,
};
use okta_ingest::config::Config;
use okta_ingest::store::tenants::Role;
use okta_ingest::{app, demo, rules_cli, service, sim, store, telemetry, vault};

fn main() -> ExitCode {
    let cli = Cli::parse();
    limit_malloc_arenas();
    let result = tokio::runtime::Runtime::new()
        .context("starting the async runtime")
        .and_then(|runtime| runtime.block_on(run(cli)));
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", causes(&error));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, each said once: most of this crate's errors already include
/// their source's text, which `{:#}` would print again.
fn causes(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&cause);
        }
    }
    text
}

/// glibc gives each thread that allocates its own arena (up to 8 per core) and keeps what is
/// freed in each. The detection state is built on the blocking threads and freed on others,
/// so the arenas fill with holes: 1,000 tenants' state peaked at 412 MiB with the default and
/// at 289 MiB with one arena per core (okta-ingest-bench ingest, README "Performance").
/// `MALLOC_ARENA_MAX`, when set, still wins. Before any thread starts.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let arenas = i32::try_from(cores.max(2)).unwrap_or(i32::MAX);
        // SAFETY: mallopt only sets an allocator parameter; no thread has started yet.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Demo {
            port,
            events,
            exit,
            json,
        } => {
            demo::run(demo::DemoOptions {
                config: cli.config,
                port,
                events,
                exit,
                json,
            })
            .await?;
        }
        Command::Serve => {
            let config = Config::load(cli.config.as_deref())?;
            telemetry::init(config.log_format);
            warn_unknown_env_vars();
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .with_context(|| format!("cannot listen on {}", config.listen))?;
            app::run(config, listener).await?.serve_until_signal().await;
        }
        Command::Migrate => {
            let config = Config::load(cli.config.as_deref())?;
            telemetry::init(config.log_format);
            warn_unknown_env_vars();
            let pool = connect(&config).await?;
            store::migrate(&pool).await?;
            println!("migrations applied");
        }
        Command::Tenant {
            command: TenantCommand::Create { name },
        } => {
            anyhow::ensure!(
                !name.trim().is_empty(),
                "a tenant needs a name that is not blank"
            );
            let pool = connect(&Config::load(cli.config.as_deref())?).await?;
            let (tenant_id, token) = service::tokens::create_tenant(&pool, &name).await?;
            println!(
                "{}",
                serde_json::json!({ "tenant_id": tenant_id, "name": name, "token": token })
            );
        }
        Command::Tenant {
            command: TenantCommand::List,
        } => {
            let pool = connect(&Config::load(cli.config.as_deref())?).await?;
            for tenant in store::tenants::list_tenants(&pool).await? {
                println!("{}", serde_json::to_string(&tenant)?);
            }
        }
        Command::Tenant {
            command: TenantCommand::Delete { id },
        } => {
            let config = Config::load(cli.config.as_deref())?;
            let services = okta_ingest::app::services(config).await?;
            let report = match services.offboard_tenant(id).await {
                Err(service::IntegrationError::NotFound) => anyhow::bail!("no tenant {id}"),
                report => report?,
            };
            println!("{}", serde_json::to_string(&report)?);
        }
        Command::Token {
            command:
                TokenCommand::Create {
                    tenant,
                    role,
                    expires_in,
                },
        } => {
            let pool = connect(&Config::load(cli.config.as_deref())?).await?;
            let role = match role {
                RoleArg::Admin => Role::Admin,
                RoleArg::Viewer => Role::Viewer,
            };
            let created = service::tokens::create_token_for(&pool, tenant, role, expires_in)
                .await?
                .with_context(|| format!("no tenant {tenant}"))?;
            println!(
                "{}",
                serde_json::json!({
                    "tenant_id": tenant, "token_id": created.token_id, "role": role,
                    "token": created.token, "expires_in_days": expires_in,
                })
            );
        }
        Command::Token {
            command: TokenCommand::List { tenant },
        } => {
            let pool = connect(&Config::load(cli.config.as_deref())?).await?;
            if !store::tenants::tenant_exists(&pool, tenant).await? {
                anyhow::bail!("no tenant {tenant}");
            }
            for token in store::tenants::list_tokens(&pool, tenant).await? {
                println!("{}", serde_json::to_string(&token)?);
            }
        }
        Command::Token {
            command: TokenCommand::Revoke { token_id },
        } => {
            let pool = connect(&Config::load(cli.config.as_deref())?).await?;
            let tenant = store::tenants::token_tenant(&pool, token_id)
                .await?
                .with_context(|| format!("no token {token_id}"))?;
            let revoked = store::tenants::revoke_token(&pool, tenant, token_id).await?;
            println!(
                "{}",
                serde_json::json!({ "token_id": token_id, "revoked": revoked })
            );
        }
        Command::Rules {
            command: RulesCommand::Check { files },
        } => {
            println!("{}", rules_cli::check(&files)?);
        }
        Command::Rules {
            command: RulesCommand::Test { events, rules },
        } => {
            let mut out = std::io::stdout().lock();
            rules_cli::test(&events, &rules, &mut out)?;
        }
        Command::OktaSim { listen } => {
            telemetry::init(okta_ingest::config::LogFormat::Pretty);
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            // Loopback http hooks only with the service's dev switch, as for Okta domains.
            let dev_loopback = std::env::var("OKTA_INGEST_DEV_ALLOW_LOOPBACK_OKTA")
                .is_ok_and(|v| v.eq_ignore_ascii_case("true"));
            let options = sim::SimOptions::default().with_dev_loopback(dev_loopback);
            let handle = sim::spawn(listener, options).await?;
            println!(
                "{}",
                serde_json::json!({ "base_url": handle.base_url, "client_id": handle.client_id, "client_secret": handle.client_secret() })
            );
            tokio::signal::ctrl_c().await?;
        }
        Command::Vault {
            command: VaultCommand::Keygen,
        } => println!("{}", vault::Vault::keygen()),
        Command::Vault {
            command: VaultCommand::Rotate,
        } => {
            let config = Config::load(cli.config.as_deref())?;
            let vault = vault::Vault::from_config_strings(
                config.master_key.expose_secret(),
                config.master_keys.expose_secret(),
                &config.primary_key_id,
            )?;
            let pool = connect(&config).await?;
            let report = service::rotate_vault(&pool, &vault).await?;
            println!(
                "{}",
                serde_json::json!({ "reencrypted": report.reencrypted, "already_current": report.current })
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn warn_unknown_env_vars() {
    for name in Config::unknown_env_vars() {
        tracing::warn!(
            variable = %name,
            "{name} names no setting and is ignored (see config/default.toml)"
        );
    }
}

async fn connect(config: &Config) -> anyhow::Result<store::Pool> {
    let url = config.database_url.expose_secret();
    store::connect(url, 2)
        .await
        .context("cannot connect to the database (DATABASE_URL)")
}
