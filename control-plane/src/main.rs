//! `control-plane` binary: `serve` (the default), `migrate`, `create-user`,
//! `tenant-rate-limit`, `tenant set-quota`, `tenant set-features`, `tenant show`,
//! `node-credential`.
#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use control_plane::service::quotas::{Override, QuotaChange};
use control_plane::{App, Config, Listeners, db, telemetry};

#[derive(Parser)]
#[command(name = "control-plane", version, about = "Zapini control plane")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create a user; with no --tenant, a new tenant is created for them.
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "User")]
        name: String,
        /// Password; generated and printed when omitted.
        #[arg(long)]
        password: Option<String>,
        /// UUID of an existing tenant to add the user to.
        #[arg(long)]
        tenant: Option<uuid::Uuid>,
        /// Name of the new tenant when --tenant is not given.
        #[arg(long, default_value = "Default")]
        tenant_name: String,
        #[arg(long, default_value = "admin")]
        role: String,
    },
    /// Set a tenant's request budget per rate-limit window (0 restores the default).
    TenantRateLimit {
        /// UUID of the tenant.
        #[arg(long)]
        tenant: uuid::Uuid,
        /// Requests per window; 0 means the configured default.
        #[arg(long)]
        requests: u32,
    },
    /// A tenant's quotas and request budgets.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Print the credential of the node serving an instance (`ZAPINI_NODE_CREDENTIAL` for
    /// nodes started by someone else, `ZAPINI_LAUNCHER=external`); derived from the node
    /// secret, so run it with the control plane's configuration.
    NodeCredential {
        /// UUID of the instance.
        #[arg(long)]
        instance: uuid::Uuid,
    },
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Set a tenant's own limits: a number (0 = unlimited) or `default` (the configured
    /// default); limits not given are left as they are.
    SetQuota {
        /// UUID of the tenant.
        #[arg(long)]
        tenant: uuid::Uuid,
        /// Instances.
        #[arg(long, value_parser = parse_override)]
        instances: Option<Override>,
        /// Active instance (`sk_`) tokens.
        #[arg(long, value_parser = parse_override)]
        instance_tokens: Option<Override>,
        /// Bytes of stored media.
        #[arg(long, value_parser = parse_override)]
        media_bytes: Option<Override>,
        /// Requests per rate-limit window for each token.
        #[arg(long, value_parser = parse_override)]
        requests_per_token: Option<Override>,
        /// Requests per rate-limit window for all the tenant's tokens together.
        #[arg(long, value_parser = parse_override)]
        requests_per_tenant: Option<Override>,
    },
    /// Turn a tenant's features on or off and set its CRM settings; options not given are
    /// left as they are, `default` returns a setting to its default.
    SetFeatures {
        /// UUID of the tenant.
        #[arg(long)]
        tenant: uuid::Uuid,
        /// The Kanban API.
        #[arg(long, value_parser = parse_switch)]
        kanban: Option<bool>,
        /// The Voice & IVR API.
        #[arg(long, value_parser = parse_switch)]
        voice: Option<bool>,
        /// ISO 4217 currency of lead values (default BRL).
        #[arg(long, value_parser = parse_setting)]
        currency: Option<Setting>,
        /// Locale money is formatted in (default pt-BR).
        #[arg(long, value_parser = parse_setting)]
        locale: Option<Setting>,
        /// IANA time zone of calendar times without an offset (default UTC).
        #[arg(long, value_parser = parse_setting)]
        timezone: Option<Setting>,
        /// The appointment reminder's text, with `{{placeholders}}`.
        #[arg(long, value_parser = parse_setting)]
        reminder_template: Option<Setting>,
    },
    /// Print a tenant's limits, what it uses, its features and settings (JSON).
    Show {
        /// UUID of the tenant.
        #[arg(long)]
        tenant: uuid::Uuid,
    },
}

/// A setting's new value; `default` (`None`) returns it to the default.
#[derive(Clone)]
struct Setting(Option<String>);

fn parse_setting(s: &str) -> Result<Setting, String> {
    Ok(Setting(
        (!s.eq_ignore_ascii_case("default")).then(|| s.to_owned()),
    ))
}

fn parse_switch(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" => Ok(true),
        "off" | "false" | "no" | "0" => Ok(false),
        _ => Err(format!("`{s}` is not on or off")),
    }
}

fn parse_override(s: &str) -> Result<Override, String> {
    if s.eq_ignore_ascii_case("default") {
        return Ok(Override::Default);
    }
    s.parse::<u64>()
        .map(Override::Value)
        .map_err(|_| format!("`{s}` is not a number or `default`"))
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let config = match Config::load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    telemetry::init(config.log_format);
    if let Err(e) = run(cli, config).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli, config: Config) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let listeners = Listeners::bind(&config)?;
            let app = App::build(config, listeners).await?;
            app.run(shutdown_signal()).await
        }
        Command::Migrate => {
            let conn = db::connect(&config).await?;
            db::migrate(&conn).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::CreateUser {
            email,
            name,
            password,
            tenant,
            tenant_name,
            role,
        } => {
            let conn = db::connect(&config).await?;
            db::migrate(&conn).await?;
            let services = control_plane::service::Services::for_cli(conn, config);
            let tenant_id = match tenant {
                None => None,
                Some(uuid) => Some(
                    services
                        .tenant_by_uuid(uuid)
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?,
                ),
            };
            let (password, generated) = match password {
                Some(p) => (p, false),
                None => (control_plane::crypto::random_secret(20), true),
            };
            let (user, tenant) = services
                .create_user(tenant_id, &tenant_name, &name, &email, &password, &role)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "created user {} ({}) in tenant {} ({})",
                user.email, user.role, tenant.name, tenant.uuid
            );
            if generated {
                println!("password: {password}");
            }
            Ok(())
        }
        Command::TenantRateLimit { tenant, requests } => {
            let conn = db::connect(&config).await?;
            db::migrate(&conn).await?;
            let services = control_plane::service::Services::for_cli(conn, config);
            let id = services
                .tenant_by_uuid(tenant)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            services
                .set_tenant_rate_limit(id, Some(requests))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("tenant {tenant}: {requests} requests per window (0 = default)");
            Ok(())
        }
        Command::Tenant { command } => tenant_command(command, config).await,
        Command::NodeCredential { instance } => {
            println!("{}", node_credential(&config, instance)?);
            Ok(())
        }
    }
}

async fn tenant_command(command: TenantCommand, config: Config) -> anyhow::Result<()> {
    let conn = db::connect(&config).await?;
    db::migrate(&conn).await?;
    let services = control_plane::service::Services::for_cli(conn, config);
    let uuid = match &command {
        TenantCommand::SetQuota { tenant, .. }
        | TenantCommand::SetFeatures { tenant, .. }
        | TenantCommand::Show { tenant } => *tenant,
    };
    let id = services
        .tenant_by_uuid(uuid)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    match command {
        TenantCommand::SetQuota {
            instances,
            instance_tokens,
            media_bytes,
            requests_per_token,
            requests_per_tenant,
            ..
        } => {
            let change = QuotaChange {
                instances,
                instance_tokens,
                media_bytes,
                requests_per_token,
                requests_per_tenant,
            };
            services
                .set_tenant_quota(id, change)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        TenantCommand::SetFeatures {
            kanban,
            voice,
            currency,
            locale,
            timezone,
            reminder_template,
            ..
        } => {
            let change = control_plane::service::tenant_settings::FeatureChange {
                kanban_enabled: kanban,
                voice_enabled: voice,
                currency: currency.map(|s| s.0),
                locale: locale.map(|s| s.0),
                timezone: timezone.map(|s| s.0),
                reminder_template: reminder_template.map(|s| s.0),
            };
            services
                .set_tenant_features(id, change)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        TenantCommand::Show { .. } => {}
    }
    let features = services
        .tenant_features(id)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let limits = services
        .tenant_limits(id)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let usage = services
        .tenant_usage(id)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({
            "tenant": uuid,
            "limits": limits,
            "usage": usage,
            "features": features,
        }))?
    );
    Ok(())
}

fn node_credential(config: &Config, instance: uuid::Uuid) -> anyhow::Result<String> {
    use secrecy::ExposeSecret;
    let secret = control_plane::app::existing_node_secret(config)?;
    Ok(zapini_shared::node_auth::node_credential(
        secret.expose_secret().as_bytes(),
        instance,
    ))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
