//! `heso-control-plane`: serve the control plane and administer its orgs.

use anyhow::Context as _;
use clap::{CommandFactory, Parser, Subcommand};
use heso_cli_docs::Invocation;
use heso_control_plane::policy::Policy;
use heso_control_plane::store::Store;
use heso_control_plane::{admin, demo, AppState, Config};
use serde_json::json;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "heso-control-plane",
    version,
    about = "A self-hostable HESO control plane"
)]
struct Cli {
    #[command(subcommand)]
    invocation: Invocation<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the operator and approver APIs.
    Serve {
        /// SQLite database file (created if missing), or a postgres:// URL
        /// (migrated at start; several replicas may share it). Required
        /// unless --demo.
        // Its value may hold a database password: never shown in --help.
        #[arg(
            long,
            env = "HESO_CONTROL_PLANE_DB",
            hide_env_values = true,
            value_name = "FILE|URL"
        )]
        db: Option<String>,
        /// Address and port to serve on.
        #[arg(
            long,
            env = "HESO_CONTROL_PLANE_LISTEN",
            default_value = "127.0.0.1:8787"
        )]
        listen: SocketAddr,
        /// Seed a demo org whose operator keeps opening realistic approvals,
        /// and print an enrolment code. Uses an in-memory database unless --db is given.
        #[arg(long)]
        demo: bool,
        /// Seconds between new demo approvals.
        #[arg(long, default_value_t = 8)]
        demo_interval: u64,
        /// Demo approvals waiting at start.
        #[arg(long, default_value_t = 6)]
        demo_initial: usize,
        /// Print the demo's secrets (enrolment code, operator API key) even
        /// when standard output is not a terminal (a log, a pipe).
        #[arg(long)]
        print_secrets: bool,
        /// Log lines as JSON objects.
        #[arg(long, env = "HESO_CONTROL_PLANE_LOG_JSON")]
        log_json: bool,
        #[command(flatten)]
        limits: ConnectionFlags,
    },
    /// Manage orgs.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Issue a one-time enrolment code for an approver device.
    Enroll {
        /// SQLite database file, or a postgres:// URL.
        #[arg(long, value_name = "FILE|URL")]
        db: String,
        #[arg(long)]
        org: String,
        #[arg(long)]
        label: String,
        /// Hours until the code expires.
        #[arg(long, default_value_t = 24)]
        ttl_hours: i64,
        /// An approver group the enrolled device joins (repeatable).
        #[arg(long = "group", value_name = "NAME")]
        groups: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Manage the policy the SDK pulls.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// The approver roster: list, confirm keys the operator API registered, revoke.
    Approver {
        #[command(subcommand)]
        command: ApproverCommand,
    },
    /// Approver groups, which a policy rule's `approvers` names.
    Group {
        #[command(subcommand)]
        command: GroupCommand,
    },
}

/// What each client connection may take (see docs/control-plane.md).
#[derive(clap::Args)]
struct ConnectionFlags {
    /// Connections served at once, held long-polls included (leave room for
    /// every approver device); more wait to be accepted. Keep it below the
    /// process's open-file limit.
    #[arg(
        long,
        env = "HESO_CONTROL_PLANE_MAX_CONNECTIONS",
        default_value_t = Config::default().max_connections as u32,
        value_parser = clap::value_parser!(u32).range(1..),
    )]
    max_connections: u32,
    /// Seconds a connection has to send a request's headers, from its
    /// opening or its previous answer (also how long an idle keep-alive
    /// connection stays open).
    #[arg(
        long,
        env = "HESO_CONTROL_PLANE_HEADER_TIMEOUT",
        default_value_t = Config::default().header_read_timeout.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..),
        value_name = "SECS"
    )]
    header_timeout: u64,
    /// Seconds a request has to send its whole body (408 past it).
    #[arg(
        long,
        env = "HESO_CONTROL_PLANE_BODY_TIMEOUT",
        default_value_t = Config::default().body_read_timeout.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..),
        value_name = "SECS"
    )]
    body_timeout: u64,
    /// A reverse proxy (address or CIDR block) whose X-Forwarded-For names
    /// the client, for the per-client enrolment limits; repeat for several.
    /// From anyone else the header is ignored.
    #[arg(
        long = "trusted-proxy",
        env = "HESO_CONTROL_PLANE_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_name = "ADDR|CIDR",
        value_parser = parse_proxy
    )]
    trusted_proxies: Vec<ipnet::IpNet>,
}

/// An address is its own one-address block.
fn parse_proxy(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("`{text}` is neither an address nor a CIDR block"))
}

impl ConnectionFlags {
    fn config(&self) -> Config {
        Config {
            max_connections: self.max_connections as usize,
            header_read_timeout: Duration::from_secs(self.header_timeout),
            body_read_timeout: Duration::from_secs(self.body_timeout),
            trusted_proxies: self.trusted_proxies.clone(),
            ..Config::default()
        }
    }
}

/// A roster entry (by key id, see `approver list`) and a group.
#[derive(clap::Args)]
struct GroupMember {
    /// SQLite database file, or a postgres:// URL.
    #[arg(long, value_name = "FILE|URL")]
    db: String,
    #[arg(long)]
    org: String,
    #[arg(long)]
    group: String,
    #[arg(long)]
    key_id: String,
}

#[derive(Subcommand)]
enum GroupCommand {
    /// Put a roster entry in a group.
    Add(GroupMember),
    /// Take a roster entry out of a group.
    Remove(GroupMember),
    /// Every group and its members.
    List {
        /// SQLite database file, or a postgres:// URL.
        #[arg(long, value_name = "FILE|URL")]
        db: String,
        #[arg(long)]
        org: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ApproverCommand {
    /// Every key on the org's roster, with how it joined and whether it may vote.
    List {
        /// SQLite database file, or a postgres:// URL.
        #[arg(long, value_name = "FILE|URL")]
        db: String,
        #[arg(long)]
        org: String,
        #[arg(long)]
        json: bool,
    },
    /// Let a key registered through the operator API vote (check its
    /// fingerprint with its owner first).
    Confirm {
        /// SQLite database file, or a postgres:// URL.
        #[arg(long, value_name = "FILE|URL")]
        db: String,
        #[arg(long)]
        org: String,
        #[arg(long)]
        key_id: String,
    },
    /// Refuse every request and vote of this key from now on.
    Revoke {
        /// SQLite database file, or a postgres:// URL.
        #[arg(long, value_name = "FILE|URL")]
        db: String,
        #[arg(long)]
        org: String,
        #[arg(long)]
        key_id: String,
    },
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Create an org; prints its API key once.
    Create {
        /// SQLite database file, or a postgres:// URL.
        #[arg(long, value_name = "FILE|URL")]
        db: String,
        #[arg(long)]
        name: String,
        /// The operator's Ed25519 public key, base64.
        #[arg(long)]
        operator_key: String,
        /// Minutes approvers have to decide.
        #[arg(long, default_value_t = 30)]
        sla_minutes: i64,
        /// Count votes of keys registered with the org's API key without an
        /// administrator's confirmation, as the vendor's own control plane
        /// does. Risky: the agent holds that API key.
        #[arg(long)]
        trust_api_approvers: bool,
        /// Enrol only devices that report their key held by a system signer
        /// (heso-approver-signer), out of reach of the person's other
        /// programs. Self-reported by the device.
        #[arg(long)]
        refuse_unprotected: bool,
        #[arg(long)]
        json: bool,
    },
    /// Show an org: its operator key fingerprints (for people enrolling to
    /// compare), SLA and roster policy.
    Show {
        /// SQLite database file, or a postgres:// URL.
        #[arg(long, value_name = "FILE|URL")]
        db: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Set the org's policy from a TOML file (refused, with the line, when
    /// the evaluator refuses it).
    Set {
        /// SQLite database file, or a postgres:// URL.
        #[arg(long, value_name = "FILE|URL")]
        db: String,
        #[arg(long)]
        org: String,
        #[arg(long)]
        file: PathBuf,
    },
    /// Evaluate actions (JSON lines, each an action object) against a
    /// policy: one `{"decision_path", "rule_id"}` line per action that parses.
    Eval {
        #[arg(long)]
        file: PathBuf,
        /// The actions, one JSON object per line; `-` for standard input.
        actions: PathBuf,
    },
}

fn open(db: &str) -> anyhow::Result<Store> {
    Store::connect(db).with_context(|| {
        format!(
            "cannot open database {}",
            heso_control_plane::store::postgres::redacted(db)
        )
    })
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 64 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("heso-control-plane: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let command = match cli.invocation {
        Invocation::Run(command) => command,
        Invocation::Generate(args) => {
            let documented = heso_cli_docs::documented::<Command>(&Cli::command());
            return heso_cli_docs::generate(documented, &args)
                .with_context(|| format!("cannot write into {}", args.dir.display()));
        }
    };
    match command {
        Command::Org {
            command:
                OrgCommand::Create {
                    db,
                    name,
                    operator_key,
                    sla_minutes,
                    trust_api_approvers,
                    refuse_unprotected,
                    json,
                },
        } => {
            let store = open(&db)?;
            let org = admin::create_org(&store, &name, &operator_key, sla_minutes)?;
            if trust_api_approvers {
                admin::trust_api_approvers(&store, &org.name, true)?;
                eprintln!("warning: keys registered with this org's API key will count without confirmation; the agent holds that key.");
            }
            if refuse_unprotected {
                admin::refuse_unprotected(&store, &org.name, true)?;
            }
            if json {
                println!("{}", json!({"org": org.name, "api_key": org.api_key}));
            } else {
                println!("Created org `{}`.", org.name);
                println!(
                    "API key (shown once; store it in the operator's secrets): {}",
                    org.api_key
                );
            }
        }
        Command::Org {
            command: OrgCommand::Show { db, name, json },
        } => {
            let store = open(&db)?;
            let org = store
                .org_by_name(&name)?
                .ok_or_else(|| anyhow::anyhow!("no org named `{name}`"))?;
            let fingerprints = admin::operator_fingerprints(&store, &name)?;
            let trust = store.trusts_api_approvers(org.id)?;
            let refuse = store.refuses_unprotected(org.id)?;
            if json {
                println!(
                    "{}",
                    json!({"org": org.name, "operator_fingerprints": fingerprints,
                           "sla_minutes": org.sla_minutes, "trust_api_approvers": trust,
                           "refuse_unprotected": refuse})
                );
            } else {
                println!("Org `{}`", org.name);
                for f in &fingerprints {
                    println!("  operator key  {f}");
                }
                println!("  SLA           {} min", org.sla_minutes);
                println!(
                    "  API-registered approvers  {}",
                    if trust {
                        "count without confirmation (risky)"
                    } else {
                        "need `approver confirm`"
                    }
                );
                println!(
                    "  Devices       {}",
                    if refuse {
                        "only those reporting a system signer enrol"
                    } else {
                        "any enrol (each reports where its key is held)"
                    }
                );
            }
        }
        Command::Approver { command } => approver_command(command)?,
        Command::Enroll {
            db,
            org,
            label,
            ttl_hours,
            groups,
            json,
        } => {
            let code = admin::issue_enrolment_code(&open(&db)?, &org, &label, ttl_hours, &groups)?;
            if json {
                println!("{}", json!({"code": code}));
            } else {
                println!(
                    "Enrolment code for `{label}` in `{org}` (one use, {ttl_hours} h): {code}"
                );
            }
        }
        Command::Group { command } => match command {
            GroupCommand::Add(m) => {
                admin::change_group(&open(&m.db)?, &m.org, &m.group, &m.key_id, false)?;
                println!(
                    "`{}` is in the group `{}` of `{}`.",
                    m.key_id, m.group, m.org
                );
            }
            GroupCommand::Remove(m) => {
                admin::change_group(&open(&m.db)?, &m.org, &m.group, &m.key_id, true)?;
                println!(
                    "`{}` is no longer in the group `{}` of `{}`.",
                    m.key_id, m.group, m.org
                );
            }
            GroupCommand::List { db, org, json } => {
                let groups = admin::groups(&open(&db)?, &org)?;
                if json {
                    let groups: Vec<_> = groups
                        .iter()
                        .map(|(name, members)| json!({"group": name, "key_ids": members}))
                        .collect();
                    println!("{}", serde_json::Value::from(groups));
                } else if groups.is_empty() {
                    println!("`{org}` has no approver groups.");
                } else {
                    for (name, members) in groups {
                        println!("{name}: {}", members.join(", "));
                    }
                }
            }
        },
        Command::Policy {
            command: PolicyCommand::Eval { file, actions },
        } => {
            let toml = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let policy = Policy::parse(&toml).map_err(|e| anyhow::anyhow!("{e}"))?;
            let lines = if actions.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(&actions)
                    .with_context(|| format!("cannot read {}", actions.display()))?
            };
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            for (n, line) in lines.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                // As the vendor's batch: an element that is not an action is skipped.
                match serde_json::from_str::<heso_receipt::Action>(line) {
                    Ok(action) => {
                        serde_json::to_writer(&mut out, &policy.evaluate(&action))?;
                        writeln!(out)?;
                    }
                    Err(e) => eprintln!("line {}: skipped, not an action: {e}", n + 1),
                }
            }
            out.flush()?;
        }
        Command::Policy {
            command: PolicyCommand::Set { db, org, file },
        } => {
            let toml = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let hash = admin::set_policy(&open(&db)?, &org, &toml)
                .with_context(|| format!("cannot set {}", file.display()))?;
            println!("Policy for `{org}` set (blake3 {hash}).");
        }
        Command::Serve {
            db,
            listen,
            demo,
            demo_interval,
            demo_initial,
            print_secrets,
            log_json,
            limits,
        } => {
            init_logging(log_json);
            let store = match (&db, demo) {
                (Some(db), _) => open(db)?,
                (None, true) => Store::open_in_memory()?,
                (None, false) => anyhow::bail!("--db FILE|URL is required (or use --demo)"),
            };
            let runtime = tokio::runtime::Runtime::new()?;
            let demo = demo.then_some(DemoOptions {
                interval: demo_interval,
                initial: demo_initial,
                print_secrets: print_secrets
                    || std::io::IsTerminal::is_terminal(&std::io::stdout()),
            });
            runtime.block_on(serve(store, limits.config(), listen, demo))?;
        }
    }
    Ok(())
}

fn approver_command(command: ApproverCommand) -> anyhow::Result<()> {
    let (db, org, key_id, change) = match command {
        ApproverCommand::List { db, org, json } => {
            let roster = admin::roster(&open(&db)?, &org)?;
            let fingerprint = |key: &str| {
                heso_receipt::keys::decode_public_key(key)
                    .map(|k| heso_receipt::keys::fingerprint(&k))
                    .unwrap_or_default()
            };
            if json {
                let items: Vec<_> = roster
                    .iter()
                    .map(|e| json!({"key_id": e.key_id, "label": e.label, "fingerprint": fingerprint(&e.public_key),
                                    "source": e.source, "standing": admin::standing_word(e.standing),
                                    "protection": e.protection, "protection_self_reported": e.protection.is_some()}))
                    .collect();
                println!("{}", serde_json::Value::from(items));
            } else if roster.is_empty() {
                println!("No approvers in `{org}` yet.");
            } else {
                for e in &roster {
                    println!(
                        "{:<12} {}  {}  {} ({}; key {})",
                        admin::standing_word(e.standing),
                        e.key_id,
                        fingerprint(&e.public_key),
                        e.label,
                        e.source,
                        admin::protection_words(e.protection.as_deref())
                    );
                }
            }
            return Ok(());
        }
        ApproverCommand::Confirm { db, org, key_id } => {
            (db, org, key_id, admin::RosterChange::Confirm)
        }
        ApproverCommand::Revoke { db, org, key_id } => {
            (db, org, key_id, admin::RosterChange::Revoke)
        }
    };
    admin::change_approver(&open(&db)?, &org, &key_id, change)?;
    let done = match change {
        admin::RosterChange::Confirm => "confirmed: its votes count",
        admin::RosterChange::Revoke => "revoked: its requests and votes are refused",
    };
    println!("`{key_id}` in `{org}` {done}.");
    Ok(())
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,tower_http=warn,rusqlite_migration=warn".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// How the demo runs.
struct DemoOptions {
    /// Seconds between new approvals.
    interval: u64,
    /// Approvals waiting at start.
    initial: usize,
    print_secrets: bool,
}

/// Serves until SIGTERM or Ctrl-C, with the demo operator when asked.
async fn serve(
    store: Store,
    config: Config,
    listen: SocketAddr,
    demo: Option<DemoOptions>,
) -> anyhow::Result<()> {
    let state = AppState::new(store, config);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let address = listener.local_addr()?;
    if let Some(options) = demo {
        if !listen.ip().is_loopback() {
            eprintln!(
                "WARNING: the demo serves plain HTTP on {address}, reachable from other machines, \
                 with a demo org whose enrolment code and API key are printed in the clear. \
                 Use it on loopback (the default) unless you mean it."
            );
        }
        let seed = demo::seed(&state, options.initial)?;
        println!("HESO demo control plane at http://{address}");
        if options.print_secrets {
            println!("  enrolment code: {}", seed.enrolment_code);
            println!("  operator API key: {}", seed.api_key);
        } else {
            println!("  (demo secrets not printed: standard output is not a terminal; pass --print-secrets)");
        }
        tokio::spawn(demo::run(
            state.clone(),
            seed.org_id,
            seed.operator,
            Duration::from_secs(options.interval.max(1)),
        ));
    } else {
        println!("HESO control plane at http://{address}");
    }
    tracing::info!(%address, "serving");
    heso_control_plane::serve(listener, state, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
