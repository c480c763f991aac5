//! The `rampart` command line. Exit status: 0 success, 1 runtime failure, 2 bad usage or input.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rampart::audit::Verification;
use rampart::config::{Config, LogFormat};
use rampart::control::{self, FailureKind, Reply, Request};
use rampart::daemon::{self, DaemonError};
use rampart::doctor;

#[derive(Parser)]
#[command(
    name = "rampart",
    version,
    about = "Rampart: CMMC 2.0 / NIST SP 800-171 compliance on your own hardware"
)]
struct Cli {
    /// Config file (default: $RAMPART_CONFIG, else /etc/rampart/rampart.toml when present, else built-in defaults).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the appliance: HTTPS web UI and API, control socket.
    Serve,
    /// Create the data dir, master key, certificate and store without serving.
    Init,
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Check the installation and print one line per check.
    Doctor,
    /// Print the version and the store schema version it supports.
    Version,
    /// Appliance administration (through the running daemon, or the store when none runs).
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Score an assessment file (JSON or CSV) by the DoD Assessment Methodology and CMMC
    /// rules: SPRS score, CMMC Level 1 and Level 2 status, as JSON.
    Score {
        /// `.json` (objectives and the partial-credit inputs) or `.csv` (objective,status).
        file: PathBuf,
    },
    /// Mail: send a test message.
    Mail {
        #[command(subcommand)]
        command: MailCommand,
    },
    /// The tamper-evident audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// The evidence vault.
    Evidence {
        #[command(subcommand)]
        command: EvidenceCommand,
    },
    /// Scheduled jobs: reminders, drift, digest, retention.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// Proofpacks: check one, or show the key this appliance signs them with.
    Proofpack {
        #[command(subcommand)]
        command: ProofpackCommand,
    },
    /// Backups: write one now (while the daemon serves), or check one.
    Backup {
        #[command(subcommand)]
        command: BackupCommand,
    },
    /// Write the man pages (one per verb) and shell completions into DIR, for packages.
    #[command(hide = true)]
    GenerateDocs { dir: PathBuf },
    /// Reads one uploaded catalog from standard input for the running daemon, which runs
    /// it so the memory reading takes goes back to the system (for the daemon's use only).
    #[command(name = "read-catalog", hide = true)]
    ReadCatalog,
    /// Restore a backup into an empty data directory (never over a live one).
    Restore {
        /// The backup file (`rampart-backup-….age`).
        file: PathBuf,
        /// The directory to restore into: absent or empty, used by no process.
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
        #[command(flatten)]
        unlock: UnlockArgs,
    },
}

/// What opens a backup. Without either, the configured backup_passphrase is tried.
#[derive(clap::Args)]
struct UnlockArgs {
    /// age identity file whose recipient the backup was encrypted to.
    #[arg(long, value_name = "FILE", conflicts_with = "passphrase_file")]
    identity: Option<PathBuf>,
    /// File holding the passphrase the backup was encrypted with.
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum BackupCommand {
    /// Write a backup now: the store, evidence and documents and the master key, encrypted
    /// to backup_recipients or backup_passphrase.
    Create {
        /// A directory (the file is named by time) or a new file; default backup_dir.
        #[arg(long, value_name = "PATH")]
        to: Option<PathBuf>,
    },
    /// Decrypt a backup and check every checksum and record, restoring nothing.
    Verify {
        file: PathBuf,
        #[command(flatten)]
        unlock: UnlockArgs,
    },
}

#[derive(Subcommand)]
enum ProofpackCommand {
    /// Check FILE: the manifest's signature, then every file's size and SHA-256; names
    /// each file missing, added or altered. Exit 0 only when intact, 1 when not, 2 when
    /// FILE is not a readable proofpack. Needs no configuration or data directory.
    Verify {
        file: std::path::PathBuf,
        /// The appliance's public key (`ed25519:…`, from `rampart proofpack key`). Without
        /// it the signature is checked against the key the manifest names, which shows
        /// the pack is unchanged but not who made it.
        #[arg(long)]
        key: Option<String>,
        /// An age identity file, for a proofpack encrypted to its recipient.
        #[arg(long)]
        identity: Option<std::path::PathBuf>,
    },
    /// Print this appliance's proofpack signing key (made on first use).
    Key,
}

#[derive(Subcommand)]
enum JobsCommand {
    /// Each job with its schedule, last run (outcome, duration) and next run.
    List {
        /// Print the list as JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Run the job NAME now (reminders, drift, digest or retention); exit 1 when it fails.
    Run { name: String },
}

#[derive(Subcommand)]
enum EvidenceCommand {
    /// Decrypt and re-hash every stored file (through the daemon when it runs); print each
    /// missing or corrupt one by id, and exit 1 when there is any.
    Verify,
}

#[derive(Subcommand)]
enum MailCommand {
    /// Send a test message to ADDRESS now, through the configured transport; prints the
    /// server's answer, or the stage that failed (DNS, connection, TLS, authentication,
    /// rejection) and why.
    Test { address: String },
    /// List the outbox: each message's kind, recipient, state, attempts and the server's last
    /// answer (never its content).
    Outbox,
    /// Queue a message that finally failed again, by its id from `mail outbox`.
    Retry { id: uuid::Uuid },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the hash chain (or, with --archive, an archived segment file); exit 1 naming
    /// the first broken link.
    Verify {
        /// An `audit-segment-NNNNNN.jsonl` file written by `audit archive`.
        #[arg(long, value_name = "FILE")]
        archive: Option<PathBuf>,
    },
    /// Write every entry as one JSON object per line to standard output.
    Export,
    /// Seal the open segment now (segments also seal themselves every 10,000 entries).
    Seal,
    /// Write every sealed segment to DIR as a JSON-lines file, then remove those entries
    /// from the store; the log still verifies, and so does each file.
    Archive {
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate the configuration and print the effective values, secrets redacted.
    Check,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Print a fresh one-time link to create the first administrator (only while none exists).
    SetupLink,
    /// Organizations (tenants).
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account; prints its id as JSON.
    Create {
        #[arg(long)]
        email: String,
        /// Display name (default: the part of the address before the @).
        #[arg(long)]
        name: Option<String>,
        /// Organization id to add the account to.
        #[arg(long)]
        org: Option<uuid::Uuid>,
        /// Role in that organization: owner, admin, member or viewer.
        #[arg(long, requires = "org")]
        role: Option<rampart::access::Role>,
        /// Read the password from standard input. Without it, the account has no password
        /// yet and a one-time link to set one is printed (valid for 1 hour).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts as JSON.
    List,
    /// Clear a lockout.
    Unlock {
        #[arg(long)]
        email: String,
    },
    /// Refuse every sign-in and end every session of the account.
    Disable {
        #[arg(long)]
        email: String,
    },
    /// Allow a disabled account to sign in again.
    Enable {
        #[arg(long)]
        email: String,
    },
    /// Remove TOTP and recovery codes so the person enrols again; ends every session.
    ResetMfa {
        #[arg(long)]
        email: String,
    },
    /// Print a one-time link (valid 1 hour) that sets a new password.
    ResetPassword {
        #[arg(long)]
        email: String,
    },
    /// Erase the account for good (GDPR/CCPA): its past actions keep a pseudonym. Prints the
    /// receipt as JSON.
    Erase {
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Create an organization with its own data key.
    Create {
        /// Display name.
        name: String,
    },
    /// List organizations as JSON.
    List,
    /// Erase an organization for good: its data key is destroyed (its records and files
    /// become unreadable at once), then they are removed. Prints the receipt as JSON.
    Erase {
        /// The organization's id.
        id: uuid::Uuid,
        /// Its exact name, to confirm.
        #[arg(long, value_name = "NAME")]
        confirm: String,
    },
}

/// Why a command failed, and so which exit status it gets.
enum Failure {
    /// Bad usage or input, something named that does not exist, or a request the
    /// appliance refuses in its present state: exit 2.
    Input(String),
    /// The command was fine but could not be carried out: exit 1.
    Runtime(String),
}

impl From<control::Failure> for Failure {
    fn from(failure: control::Failure) -> Self {
        match failure.kind {
            FailureKind::Input | FailureKind::NotFound | FailureKind::Refused => {
                Failure::Input(failure.message)
            }
            FailureKind::Runtime => Failure::Runtime(failure.message),
        }
    }
}

impl From<DaemonError> for Failure {
    fn from(err: DaemonError) -> Self {
        Failure::Runtime(err.to_string())
    }
}

fn load_config(explicit: Option<PathBuf>) -> Result<Config, Failure> {
    let explicit = explicit.or_else(|| std::env::var_os("RAMPART_CONFIG").map(PathBuf::from));
    let path = Config::locate(explicit.as_deref());
    let (config, warnings) = Config::load(path.as_deref(), std::env::vars())
        .map_err(|err| Failure::Input(err.to_string()))?;
    config
        .validate()
        .map_err(|err| Failure::Input(err.to_string()))?;
    for warning in warnings {
        eprintln!("rampart: warning: {warning}");
    }
    Ok(config)
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::filter::LevelFilter::from_level(config.log_level.0);
    let builder = tracing_subscriber::fmt()
        .with_max_level(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match config.log_format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Runs a control operation through the daemon when it runs, else against the store file.
fn operate(config: &Config, request: Request) -> Result<serde_json::Value, Failure> {
    let base_url = config.public_url.as_ref().map_or_else(
        || format!("https://{}", config.listen),
        |url| url.as_str().to_owned(),
    );
    let context = control::Context {
        listen: None,
        base_url,
        vault: std::sync::Arc::new(rampart::evidence::Vault::of(config)),
        jobs: std::sync::Arc::new(rampart::jobs::Jobs::new(config)),
    };
    let socket = config.control_socket_path();
    let reply =
        match control::Client::connect(&socket).map_err(|e| Failure::Runtime(e.to_string()))? {
            Some(mut client) => client
                .request(&request)
                .map_err(|e| Failure::Runtime(e.to_string()))?,
            None => {
                let (_lock, store) = daemon::open_offline(config)?;
                control::handle(&store, &context, request)
            }
        };
    match reply {
        Reply::Ok(value) => Ok(value),
        Reply::Error(failure) => Err(failure.into()),
    }
}

fn print_json(value: &serde_json::Value) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Failure::Runtime(e.to_string()))?;
    println!("{text}");
    Ok(())
}

fn audit(config: &Config, command: AuditCommand) -> Result<(), Failure> {
    match command {
        AuditCommand::Seal => {
            print_json(&operate(config, Request::AuditSeal)?)?;
            Ok(())
        }
        AuditCommand::Archive { to } => {
            // The daemon writes the files: hand it a path that means the same to it.
            let dir = std::path::absolute(&to)
                .map_err(|e| Failure::Input(format!("{}: {e}", to.display())))?;
            print_json(&operate(config, Request::AuditArchive { dir })?)?;
            Ok(())
        }
        AuditCommand::Verify { archive } => {
            let request = match archive {
                Some(file) => Request::AuditVerifyArchive {
                    file: std::path::absolute(&file)
                        .map_err(|e| Failure::Input(format!("{}: {e}", file.display())))?,
                },
                None => Request::AuditVerify,
            };
            let report: Verification = serde_json::from_value(operate(config, request)?)
                .map_err(|e| Failure::Runtime(format!("unreadable reply: {e}")))?;
            match report.broken {
                None => {
                    println!(
                        "audit log intact: {} entries, head {}",
                        report.entries, report.head
                    );
                    Ok(())
                }
                Some(broken) => {
                    println!(
                        "audit log BROKEN at entry {}: {}",
                        broken.seq, broken.reason
                    );
                    Err(Failure::Runtime(format!(
                        "audit chain broken at entry {}",
                        broken.seq
                    )))
                }
            }
        }
        AuditCommand::Export => {
            let entries = operate(config, Request::AuditExport)?;
            let mut out = std::io::stdout().lock();
            for entry in entries.as_array().into_iter().flatten() {
                writeln!(out, "{entry}").map_err(|e| Failure::Runtime(e.to_string()))?;
            }
            Ok(())
        }
    }
}

fn jobs(config: &Config, command: JobsCommand) -> Result<(), Failure> {
    let unreadable = |e: serde_json::Error| Failure::Runtime(format!("unreadable reply: {e}"));
    match command {
        JobsCommand::List { json } => {
            let value = operate(config, Request::JobsList)?;
            if json {
                return print_json(&value);
            }
            let jobs: Vec<rampart::jobs::JobView> =
                serde_json::from_value(value).map_err(unreadable)?;
            println!(
                "{:<10} {:<14} {:<26} {:<9} {:>9}  {:<26}",
                "JOB", "SCHEDULE", "LAST RUN", "OUTCOME", "DURATION", "NEXT RUN"
            );
            for job in jobs {
                let (last, outcome, duration) = match &job.last_run {
                    Some(run) => (
                        rampart::dates::format_utc(run.started_at),
                        if run.ok { "ok" } else { "failed" },
                        format!("{} ms", run.duration_ms),
                    ),
                    None => ("never".to_owned(), "-", "-".to_owned()),
                };
                let next = job
                    .next_run
                    .map_or_else(|| "-".to_owned(), rampart::dates::format_utc);
                println!(
                    "{:<10} {:<14} {:<26} {:<9} {:>9}  {:<26}",
                    job.name,
                    job.schedule,
                    last,
                    outcome,
                    duration,
                    format!("{next} ({})", job.time_zone)
                );
                if let Some(run) = job.last_run {
                    println!("{:<10} {}", "", run.summary);
                }
            }
            Ok(())
        }
        JobsCommand::Run { name } => {
            let run: rampart::jobs::Run =
                serde_json::from_value(operate(config, Request::JobsRun { name: name.clone() })?)
                    .map_err(unreadable)?;
            println!(
                "{name}: {} in {} ms: {}",
                if run.ok { "ok" } else { "failed" },
                run.duration_ms,
                run.summary
            );
            if run.ok {
                Ok(())
            } else {
                Err(Failure::Runtime(format!("job {name} failed")))
            }
        }
    }
}

fn verify_proofpack(
    file: &std::path::Path,
    key: Option<&str>,
    identity: Option<&std::path::Path>,
) -> Result<(), Failure> {
    let identities = identity
        .map(|path| rampart::crypto::age_identities(path).map_err(Failure::Input))
        .transpose()?;
    let input = std::fs::File::open(file)
        .map_err(|e| Failure::Input(format!("{}: {e}", file.display())))?;
    let verification = rampart::docs::proofpack::verify(
        std::io::BufReader::new(input),
        key,
        identities.as_deref(),
    )
    .map_err(|e| Failure::Input(e.to_string()))?;
    for problem in &verification.problems {
        println!("{problem}");
    }
    println!(
        "signed by {}: signature {}; {} files listed",
        verification.signing_key,
        if verification.signature_valid {
            "valid"
        } else {
            "INVALID"
        },
        verification.files
    );
    if key.is_none() {
        println!("no --key given: checked against the key the manifest names");
    }
    if verification.intact {
        println!("intact");
        Ok(())
    } else {
        Err(Failure::Runtime("the proofpack is not intact".into()))
    }
}

fn evidence(config: &Config, command: EvidenceCommand) -> Result<(), Failure> {
    match command {
        EvidenceCommand::Verify => {
            let report: rampart::evidence::VerifyReport =
                serde_json::from_value(operate(config, Request::EvidenceVerify)?)
                    .map_err(|e| Failure::Runtime(format!("unreadable reply: {e}")))?;
            for problem in &report.problems {
                println!(
                    "{} {} v{}: {}",
                    problem.kind, problem.evidence, problem.version, problem.detail
                );
            }
            let missing = report
                .problems
                .iter()
                .filter(|p| p.kind == "missing")
                .count();
            let corrupt = report.problems.len() - missing;
            println!(
                "checked {} files: {missing} missing, {corrupt} corrupt",
                report.checked
            );
            if report.problems.is_empty() {
                Ok(())
            } else {
                Err(Failure::Runtime(format!(
                    "{} evidence files are missing or corrupt",
                    report.problems.len()
                )))
            }
        }
    }
}

fn unlock(args: UnlockArgs, config: Option<PathBuf>) -> Result<rampart::backup::Unlock, Failure> {
    use rampart::backup::Unlock;
    if let Some(path) = args.identity {
        return rampart::crypto::age_identities(&path)
            .map(Unlock::Identities)
            .map_err(Failure::Input);
    }
    if let Some(path) = args.passphrase_file {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Failure::Input(format!("{}: {e}", path.display())))?;
        return Ok(Unlock::Passphrase(
            text.trim_end_matches(['\n', '\r']).to_owned(),
        ));
    }
    match load_config(config)?.backup_passphrase {
        Some(passphrase) => Ok(Unlock::Passphrase(passphrase.expose().to_owned())),
        None => Err(Failure::Input(
            "give --identity FILE (an age identity) or --passphrase-file FILE to open the backup"
                .into(),
        )),
    }
}

fn open_backup(file: &std::path::Path) -> Result<std::io::BufReader<std::fs::File>, Failure> {
    std::fs::File::open(file)
        .map(|f| std::io::BufReader::with_capacity(1 << 20, f))
        .map_err(|e| Failure::Input(format!("{}: {e}", file.display())))
}

fn describe_backup(checked: &rampart::backup::Checked) -> String {
    format!(
        "made {} by Rampart {} (store schema {}): {} organization(s), {} record(s), {} file(s) of {} bytes",
        rampart::dates::format_utc(checked.created_at),
        checked.rampart_version,
        checked.schema_version,
        checked.organizations,
        checked.records,
        checked.files,
        checked.file_bytes
    )
}

fn backup(config: Option<PathBuf>, command: BackupCommand) -> Result<(), Failure> {
    match command {
        BackupCommand::Create { to } => {
            let config = load_config(config)?;
            // The daemon writes the file: hand it a path that means the same to it.
            let to = to
                .map(|to| {
                    let mut absolute = std::path::absolute(&to)
                        .map_err(|e| Failure::Input(format!("{}: {e}", to.display())))?
                        .into_os_string();
                    // `dir/` says "a directory" even before it exists.
                    if to.as_os_str().as_encoded_bytes().ends_with(b"/")
                        && !absolute.as_encoded_bytes().ends_with(b"/")
                    {
                        absolute.push("/");
                    }
                    Ok::<PathBuf, Failure>(PathBuf::from(absolute))
                })
                .transpose()?;
            let report: rampart::backup::Report =
                serde_json::from_value(operate(&config, Request::BackupCreate { to })?)
                    .map_err(|e| Failure::Runtime(format!("unreadable reply: {e}")))?;
            println!(
                "wrote {} ({} bytes): {} organization(s), {} record(s), {} file(s)",
                report.path.display(),
                report.bytes,
                report.organizations,
                report.records,
                report.files
            );
            Ok(())
        }
        BackupCommand::Verify { file, unlock: args } => {
            let unlock = unlock(args, config)?;
            let checked = rampart::backup::verify(open_backup(&file)?, &unlock)
                .map_err(|e| Failure::Runtime(format!("{}: {e}", file.display())))?;
            println!("intact: {}", describe_backup(&checked));
            Ok(())
        }
    }
}

/// `DIR/man/*.1` for `rampart` and every verb under it, and `DIR/completions/` for bash,
/// zsh and fish.
fn generate_docs(dir: &std::path::Path) -> Result<(), Failure> {
    use clap::CommandFactory;
    let fail = |e: std::io::Error| Failure::Runtime(format!("{}: {e}", dir.display()));
    let man = dir.join("man");
    let completions = dir.join("completions");
    std::fs::create_dir_all(&man).map_err(fail)?;
    std::fs::create_dir_all(&completions).map_err(fail)?;
    clap_mangen::generate_to(Cli::command(), &man).map_err(fail)?;
    for shell in [
        clap_complete::Shell::Bash,
        clap_complete::Shell::Zsh,
        clap_complete::Shell::Fish,
    ] {
        clap_complete::generate_to(shell, &mut Cli::command(), "rampart", &completions)
            .map_err(fail)?;
    }
    Ok(())
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::ReadCatalog => {
            rampart::catalog::reader::serve_child(rampart::catalog::imported::read_upload)
                .map_err(|err| Failure::Runtime(format!("reading a catalog: {err}")))
        }
        Command::GenerateDocs { dir } => generate_docs(&dir),
        Command::Backup { command } => backup(cli.config, command),
        Command::Restore {
            file,
            data_dir,
            unlock: args,
        } => {
            let unlock = unlock(args, cli.config)?;
            let checked = rampart::backup::restore(open_backup(&file)?, &unlock, &data_dir)
                .map_err(|e| Failure::Runtime(format!("{}: {e}", file.display())))?;
            println!(
                "restored into {}: {}",
                data_dir.display(),
                describe_backup(&checked)
            );
            println!(
                "start it with data_dir = {:?}; its master key is {}/master.key",
                data_dir.display().to_string(),
                data_dir.display()
            );
            Ok(())
        }
        Command::Evidence { command } => evidence(&load_config(cli.config)?, command),
        Command::Jobs { command } => jobs(&load_config(cli.config)?, command),
        Command::Proofpack {
            command: ProofpackCommand::Key,
        } => {
            let reply = operate(&load_config(cli.config)?, Request::ProofpackKey)?;
            println!(
                "{}",
                reply
                    .get("key")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_default()
            );
            Ok(())
        }
        Command::Proofpack {
            command:
                ProofpackCommand::Verify {
                    file,
                    key,
                    identity,
                },
        } => verify_proofpack(&file, key.as_deref(), identity.as_deref()),
        Command::Audit { command } => audit(&load_config(cli.config)?, command),
        Command::Version => {
            println!("rampart {}", env!("CARGO_PKG_VERSION"));
            println!("store schema {}", rampart::store::SCHEMA_VERSION);
            Ok(())
        }
        Command::Config {
            command: ConfigCommand::Check,
        } => {
            let config = load_config(cli.config)?;
            // Settings valid one by one can still fail together (mail needs a host, TLS
            // needs its CA file): check what start-up would.
            rampart::mail::Mailer::from_config(&config)
                .map_err(|e| Failure::Input(e.to_string()))?;
            println!("# effective configuration; every value is valid");
            for (key, value) in config.effective() {
                println!("{key} = {value}    # {}", config.origin(key));
            }
            Ok(())
        }
        Command::Serve => {
            let config = load_config(cli.config)?;
            // Before anything is created: a mail setting that cannot work is a config error.
            let mailer = rampart::mail::Mailer::from_config(&config)
                .map_err(|e| Failure::Input(e.to_string()))?;
            init_logging(&config);
            daemon::serve(config, mailer)?;
            Ok(())
        }
        Command::Init => {
            let config = load_config(cli.config)?;
            init_logging(&config);
            let (prepared, schema) = daemon::init(&config)?;
            let made = |yes: bool| if yes { "created" } else { "present" };
            println!(
                "data dir    {} ({})",
                config.data_dir.display(),
                made(prepared.created_data_dir)
            );
            println!(
                "master key  {} ({})",
                config.master_key_path().display(),
                made(prepared.created_master_key)
            );
            println!(
                "certificate {} ({})",
                config.tls_paths().0.display(),
                made(prepared.created_certificate)
            );
            println!(
                "store       {} (schema {schema})",
                config.store_path().display()
            );
            Ok(())
        }
        Command::Score { file } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| Failure::Input(format!("{}: {e}", file.display())))?;
            let csv = file
                .extension()
                .is_some_and(|ext| ext.eq_ignore_ascii_case("csv"));
            let input = if csv {
                rampart::scoring::parse_csv(&text)
            } else {
                rampart::scoring::parse_json(&text)
            }
            .map_err(|e| Failure::Input(format!("{}: {e}", file.display())))?;
            let outcome =
                rampart::scoring::score(&input).map_err(|e| Failure::Runtime(e.to_string()))?;
            let value =
                serde_json::to_value(outcome).map_err(|e| Failure::Runtime(e.to_string()))?;
            print_json(&value)
        }
        Command::Mail {
            command: MailCommand::Outbox,
        } => print_json(&operate(&load_config(cli.config)?, Request::MailOutbox)?),
        Command::Mail {
            command: MailCommand::Retry { id },
        } => print_json(&operate(
            &load_config(cli.config)?,
            Request::MailRetry { id },
        )?),
        Command::Mail {
            command: MailCommand::Test { address },
        } => {
            let address = rampart::mail::EmailAddress::parse(&address)
                .map_err(|e| Failure::Input(format!("{address:?}: {e}")))?;
            let config = load_config(cli.config)?;
            let mailer = rampart::mail::Mailer::from_config(&config)
                .map_err(|e| Failure::Input(e.to_string()))?;
            if !mailer.enabled() {
                return Err(Failure::Input(
                    "mail is off (mail_transport = \"none\"): set mail_transport and its settings first".into(),
                ));
            }
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Failure::Runtime(e.to_string()))?;
            let answer = runtime
                .block_on(mailer.send(&rampart::mail::test_message(address.as_str())))
                .map_err(|e| Failure::Runtime(format!("not sent: {e}")))?;
            println!("sent to {address}: {answer}");
            Ok(())
        }
        Command::Doctor => {
            let config = load_config(cli.config)?;
            let checks = doctor::run(&config);
            for check in &checks {
                println!("{check}");
            }
            if checks.iter().any(|c| c.level == doctor::Level::Fail) {
                return Err(Failure::Runtime("doctor found problems".into()));
            }
            Ok(())
        }
        Command::Admin {
            command: AdminCommand::SetupLink,
        } => {
            let config = load_config(cli.config)?;
            let reply = operate(&config, Request::SetupLink)?;
            let url = reply
                .get("url")
                .and_then(|u| u.as_str())
                .unwrap_or_default();
            println!("{url}");
            Ok(())
        }
        Command::Admin {
            command: AdminCommand::User { command },
        } => {
            let config = load_config(cli.config)?;
            let action = |email: String, action: &str| Request::UserAction {
                email,
                action: action.to_owned(),
            };
            let request = match command {
                UserCommand::List => Request::UserList,
                UserCommand::Unlock { email } => action(email, "unlock"),
                UserCommand::Disable { email } => action(email, "disable"),
                UserCommand::Enable { email } => action(email, "enable"),
                UserCommand::ResetMfa { email } => action(email, "reset_mfa"),
                UserCommand::Erase { email } => {
                    print_json(&operate(&config, Request::UserErase { email })?)?;
                    return Ok(());
                }
                UserCommand::ResetPassword { email } => {
                    let reply = operate(&config, Request::UserPasswordLink { email })?;
                    println!(
                        "{}",
                        reply
                            .get("url")
                            .and_then(|u| u.as_str())
                            .unwrap_or_default()
                    );
                    return Ok(());
                }
                UserCommand::Create {
                    email,
                    name,
                    org,
                    role,
                    password_stdin,
                } => {
                    let password = if password_stdin {
                        let mut password = String::new();
                        std::io::stdin().read_line(&mut password).map_err(|e| {
                            Failure::Input(format!("cannot read the password: {e}"))
                        })?;
                        Some(password.trim_end_matches(['\n', '\r']).to_owned())
                    } else {
                        None
                    };
                    let display_name = name
                        .unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned());
                    Request::UserCreate {
                        email,
                        display_name,
                        password,
                        org,
                        role,
                    }
                }
            };
            print_json(&operate(&config, request)?)
        }
        Command::Admin {
            command: AdminCommand::Org { command },
        } => {
            let config = load_config(cli.config)?;
            let request = match command {
                OrgCommand::Create { name } => Request::OrgCreate { name },
                OrgCommand::List => Request::OrgList,
                OrgCommand::Erase { id, confirm } => Request::OrgErase { id, confirm },
            };
            print_json(&operate(&config, request)?)
        }
    }
}

fn main() -> ExitCode {
    // What Rampart writes (records, evidence, documents, keys, backups) is for its own user
    // alone, whatever umask it was started with; under systemd the unit sets the same.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    // clap exits 2 on bad usage and 0 for --help/--version by itself.
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(message)) => {
            eprintln!("rampart: error: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Runtime(message)) => {
            eprintln!("rampart: error: {message}");
            ExitCode::from(1)
        }
    }
}
