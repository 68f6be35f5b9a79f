//! The `urne` binary: parses flags, sets up tracing, binds, and hands over to the
//! library. Subcommands: `serve` (the log), `keygen` (authority keys), `demo` (a
//! living simulated election), `load` (the load generator), and the hidden test-only
//! `forge-append` (the module `forge`, part of this binary only). The demo and the
//! load generator are the crate `urne-demo`.

use anyhow::{Context as _, Result};
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use urne::config::Config;
use urne::Log;
use urne_client::checkpoint::CosignerKey;
use urne_client::note::SignerKey;
use urne_client::test_kit::DemoKeys;
use urne_demo as demo;

mod forge;

/// urne — a public, append-only bulletin board for electronic elections.
///
/// It records every ballot receipt, every credential issue, reissue and revocation
/// and every suspension of the ballot as a signed statement, enforces the election's
/// rules before it appends, and publishes signed checkpoints and C2SP tiles so that
/// voters, unions, mirrors and witnesses can check everything.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the log: RocksDB in --data, HTTP API and web page on --listen.
    Serve(ServeArgs),
    /// Generate an authority key (board, registrar, platform), or with --witness a
    /// witness cosignature key.
    ///
    /// Writes the signer key (secret) to --out with mode 0600 and prints the verifier
    /// key, which goes into `election` statements or `--allow-board`. (`urne-client
    /// keygen` makes the same authority keys without the server.) The log's own key is
    /// not made here: `urne serve` makes it in its data directory on first start and
    /// prints its verifier key.
    Keygen {
        /// Key name, e.g. `bureau.president.acme-cse-2026`.
        #[arg(long)]
        name: String,
        /// File for the secret key (default: <name>.key).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Make a witness cosignature key (C2SP tlog-cosignature, type 0x04) for
        /// `urne witness --key` instead of a note signing key.
        #[arg(long)]
        witness: bool,
    },
    /// Run a witness (C2SP tlog-witness): cosigns checkpoints of the given logs only
    /// when they are consistent with the latest one it cosigned.
    Witness(WitnessArgs),
    /// Run a mirror: copies a log through its tiles, verifies every entry and
    /// checkpoint, serves the tiles, and gossips checkpoints with --peer's.
    Mirror(MirrorArgs),
    /// Run a realistic simulated election: thousands of voters, a credential leak and
    /// its mass reissue, a suspension, helpdesk reissues followed by ballots, results.
    ///
    /// Without --log it starts its own log (as `urne serve` would, allowing the demo's
    /// board key) and keeps serving it afterwards, so you can browse a living log.
    ///
    /// Run it again on the same --data (or --log) and it adds a new election to the
    /// same log: if the --election id is taken, the first free `<id>-2`, `<id>-3`, …
    /// is used (the log is append-only: an election is never replaced).
    Demo(DemoArgs),
    /// Load generator: seals an election, issues credentials, fires pre-signed ballots
    /// at a log and reports appends per second and latency percentiles.
    Load(LoadArgs),
    /// TEST ONLY: simulate a compromised operator. Appends the signed statement in
    /// FILE to the stopped log in --data bypassing every election rule, with correct
    /// hashes and a checkpoint signed by the log key. Never use it on a real log.
    #[command(hide = true)]
    ForgeAppend {
        /// Data directory of the stopped log.
        #[arg(long)]
        data: PathBuf,
        /// File holding one signed statement.
        file: PathBuf,
    },
}

#[derive(Args, Clone)]
struct ServeArgs {
    /// TOML configuration file (any field of the configuration; flags win).
    #[arg(long, env = "URNE_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory: RocksDB and the log key [default: ./urne-data].
    #[arg(long)]
    data: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Log origin, the name in every checkpoint [default: urne.localhost/log].
    #[arg(long)]
    origin: Option<String>,
    /// Board verifier key allowed to seal elections (repeatable).
    #[arg(long = "allow-board", value_name = "KEY")]
    allow_board: Vec<String>,
    /// Most statements per sequencer batch [default: 1024].
    #[arg(long)]
    batch_max: Option<usize>,
    /// Longest wait, in ms, for a batch to fill [default: 5].
    #[arg(long)]
    batch_ms: Option<u64>,
    /// Queue capacity before answering 503 [default: 8192].
    #[arg(long)]
    queue: Option<usize>,
    /// The largest time tolerance (seconds) an election may seal in its `election`
    /// statement; each election's statements are judged with the one it sealed
    /// [default: 300].
    #[arg(long)]
    time_tolerance: Option<i64>,
    /// RocksDB block cache, MiB [default: 64].
    #[arg(long)]
    cache_mib: Option<usize>,
    /// Serve the web page from this directory instead of the built-in copy.
    #[arg(long)]
    web_dir: Option<PathBuf>,
    /// A witness to ask for cosignatures, `URL=WITNESSKEY` (repeatable).
    #[arg(long = "witness", value_name = "URL=WITNESSKEY")]
    witnesses: Vec<String>,
    /// Cosignatures needed before /checkpoint serves a checkpoint [default: majority].
    #[arg(long)]
    witness_quorum: Option<usize>,
    /// Seconds an idle log waits before asking its witnesses to cosign its current
    /// checkpoint again (its check-in rate) [default: 60].
    #[arg(long, value_name = "SECS")]
    witness_checkin: Option<u64>,
    /// The least seconds between two rounds of add-checkpoint requests (at most
    /// 86400/SECS a day to each witness: a public witness network's `qpd`) [default: 0]
    #[arg(long, value_name = "SECS")]
    witness_interval: Option<u64>,
    /// A mirror to push entries to as the log grows (C2SP tlog-mirror),
    /// `URL=MIRRORKEY`: its cosignature key from `urne keygen --witness` (repeatable).
    #[arg(long = "mirror", value_name = "URL=MIRRORKEY")]
    mirrors: Vec<String>,
    /// A peer (mirror, witness, monitor) whose /v1/gossip is pulled to catch another
    /// history signed with this log's key (repeatable).
    #[arg(long = "peer", value_name = "URL")]
    peers: Vec<String>,
    /// Connections open at once [default: the descriptor limit minus a reserve for
    /// RocksDB and the process's own files].
    #[arg(long)]
    max_connections: Option<usize>,
    /// Connections open at once from one IP address [default: max-connections / 4].
    #[arg(long)]
    max_connections_per_ip: Option<usize>,
    /// Seconds to send a request's headers, also the keep-alive idle timeout
    /// [default: 10].
    #[arg(long, value_name = "SECS")]
    header_timeout: Option<u64>,
    /// Seconds to send a request's body after its headers [default: 30].
    #[arg(long, value_name = "SECS")]
    body_timeout: Option<u64>,
    /// Seconds a stop waits for requests in flight [default: 10].
    #[arg(long, value_name = "SECS")]
    shutdown_timeout: Option<u64>,
    /// Keep the log in PostgreSQL (`postgres://user@host:port/db`, several hosts
    /// allowed) instead of RocksDB; several instances may share it.
    #[arg(long, env = "URNE_DATABASE", value_name = "URL")]
    database: Option<String>,
    /// With --database: the leader's lease, ms [default: 3000].
    #[arg(long, value_name = "MS")]
    lease_ms: Option<u64>,
    /// With --database: the URL other instances reach this one at [default:
    /// http:// and the listen address].
    #[arg(long, value_name = "URL")]
    instance_url: Option<String>,
}

impl ServeArgs {
    fn into_config(self) -> Result<Config> {
        let mut c = match &self.config {
            Some(p) => Config::from_file(p)?,
            None => Config::default(),
        };
        if let Some(v) = self.data {
            c.data = v;
        }
        if let Some(v) = self.listen {
            c.listen = v;
        }
        if let Some(v) = self.origin {
            c.origin = v;
        } else if let Some(o) = urne::keys::existing_origin(&c.data) {
            // An existing data directory keeps its origin without repeating the flag.
            c.origin = o;
        }
        c.allow_board.extend(self.allow_board);
        if let Some(v) = self.batch_max {
            c.batch_max = v;
        }
        if let Some(v) = self.batch_ms {
            c.batch_ms = v;
        }
        if let Some(v) = self.queue {
            c.queue = v;
        }
        if let Some(v) = self.time_tolerance {
            c.time_tolerance_secs = v;
        }
        if let Some(v) = self.cache_mib {
            c.cache_mib = v;
        }
        if self.web_dir.is_some() {
            c.web_dir = self.web_dir;
        }
        c.witnesses.extend(self.witnesses);
        if self.witness_quorum.is_some() {
            c.witness_quorum = self.witness_quorum;
        }
        if let Some(v) = self.witness_checkin {
            c.witness_checkin_secs = v;
        }
        if let Some(v) = self.witness_interval {
            c.witness_interval_secs = v;
        }
        c.mirrors.extend(self.mirrors);
        c.peers.extend(self.peers);
        if self.max_connections.is_some() {
            c.max_connections = self.max_connections;
        }
        if self.max_connections_per_ip.is_some() {
            c.max_connections_per_ip = self.max_connections_per_ip;
        }
        if let Some(v) = self.header_timeout {
            c.header_timeout_secs = v;
        }
        if let Some(v) = self.body_timeout {
            c.body_timeout_secs = v;
        }
        if let Some(v) = self.shutdown_timeout {
            c.shutdown_timeout_secs = v;
        }
        if self.database.is_some() {
            c.database = self.database;
        }
        if let Some(v) = self.lease_ms {
            c.lease_ms = v;
        }
        if self.instance_url.is_some() {
            c.instance_url = self.instance_url;
        }
        Ok(c)
    }
}

#[derive(Args)]
struct WitnessArgs {
    /// TOML configuration file: the same keys as these flags (`data`, `database`,
    /// `listen`, `key`, `logs`, `peers`); flags win, `--log` and `--peer` add to its
    /// lists.
    #[arg(long, env = "URNE_WITNESS_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (the witness's RocksDB; unused with --database)
    /// [default: ./urne-witness-data].
    #[arg(long)]
    data: Option<PathBuf>,
    /// Keep the witness's notes and evidence in PostgreSQL
    /// (`postgres://user@host:port/db`) instead of RocksDB. Read from
    /// URNE_WITNESS_DATABASE, never from URNE_DATABASE: a witness must not fall into
    /// its log's database by accident.
    #[arg(long, value_name = "URL", env = "URNE_WITNESS_DATABASE")]
    database: Option<String>,
    /// Address to listen on [default: 127.0.0.1:8090].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// File holding the witness key (from `urne keygen --witness`).
    #[arg(long)]
    key: Option<PathBuf>,
    /// A log to witness: `ORIGIN=LOGKEY` or just the log's verifier key (repeatable).
    #[arg(long = "log", value_name = "ORIGIN=LOGKEY")]
    logs: Vec<String>,
    /// A peer (mirror, log or witness) whose /v1/gossip is pulled (repeatable).
    #[arg(long = "peer", value_name = "URL")]
    peers: Vec<String>,
}

impl WitnessArgs {
    /// The configuration file, if any, with the flags over it.
    fn into_config(self) -> Result<urne::config::WitnessConfig> {
        let mut c = match &self.config {
            Some(p) => urne::config::WitnessConfig::from_file(p)?,
            None => urne::config::WitnessConfig::default(),
        };
        if let Some(v) = self.data {
            c.data = v;
        }
        if self.database.is_some() {
            c.database = self.database;
        }
        if let Some(v) = self.listen {
            c.listen = v;
        }
        if self.key.is_some() {
            c.key = self.key;
        }
        c.logs.extend(self.logs);
        c.peers.extend(self.peers);
        Ok(c)
    }
}

#[derive(Args)]
struct MirrorArgs {
    /// The log to copy through its tiles (base URL). Without it, the mirror only
    /// receives what the log pushes (--push-key).
    #[arg(long)]
    of: Option<String>,
    /// Receive the log by push too (C2SP tlog-mirror `add-checkpoint` and
    /// `add-entries`, from the log of --key only), cosigning what it holds with this
    /// key (a file from `urne keygen --witness`).
    #[arg(long, value_name = "FILE")]
    push_key: Option<PathBuf>,
    /// The log's verifier key.
    #[arg(long)]
    key: String,
    /// Data directory (the mirror's RocksDB).
    #[arg(long, default_value = "urne-mirror-data")]
    data: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8081")]
    listen: SocketAddr,
    /// A peer (mirror, log or witness) whose /v1/gossip is pulled (repeatable).
    #[arg(long = "peer", value_name = "URL")]
    peers: Vec<String>,
    /// Time tolerance (seconds) the election rules are re-run with for elections
    /// sealed before tolerances were (rules 1); an election that sealed one is judged
    /// by it. Default: the one the log announces in its /v1/log
    /// (`time_tolerance_secs`), 300 until known.
    #[arg(long, value_name = "SECS")]
    time_tolerance: Option<i64>,
}

#[derive(Args)]
struct DemoArgs {
    /// Run against this log instead of starting one (its operator must allow the demo
    /// board keys: see --print-board-key).
    #[arg(long)]
    log: Option<String>,
    /// Number of voters.
    #[arg(long, default_value_t = 2000)]
    voters: usize,
    /// Submissions in flight.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Seed of the demo authority keys.
    #[arg(long, default_value = "urne-demo")]
    seed: String,
    /// Election id; if the log already has it (a previous run), the first free
    /// `<id>-2`, `<id>-3`, … is used instead.
    #[arg(long, default_value = "cse-2026-acme")]
    election: String,
    /// Date the election's statements over this many past hours, so the dashboard
    /// shows hourly series [default: 10 for the log the demo starts; with --log, as
    /// many hours (up to 10) as the log's time tolerance accepts].
    ///
    /// A log accepts statements dated at most its `--time-tolerance` from its clock:
    /// with --log, the log must run with `--time-tolerance` of at least
    /// HOURS × 3600 + 600 seconds (10 minutes for the demo to run), else the demo
    /// stops before sending anything.
    #[arg(long)]
    hours: Option<u32>,
    /// Print the demo election's three board verifier keys (its bureau: a president
    /// and two delegates, quorum 2), one per line, and exit. A log that hosts the demo
    /// allows them (`--allow-board` once per key; the first two sign the seal).
    #[arg(long)]
    print_board_key: bool,
    /// Exit when the demo is done instead of serving the log.
    #[arg(long)]
    exit: bool,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Args)]
struct LoadArgs {
    /// The log to load.
    #[arg(long)]
    log: String,
    /// Ballots to send.
    #[arg(long, default_value_t = 20000)]
    ballots: usize,
    /// Requests in flight.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Target rate in ballots per second (default: as fast as possible).
    #[arg(long)]
    rate: Option<f64>,
    /// Seed of the demo authority keys.
    #[arg(long, default_value = "urne-demo")]
    seed: String,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Instead of appending ballots, fetch this many inclusion proofs of random
    /// leaves (`GET /v1/proof/inclusion`) and report proofs served per second.
    #[arg(long)]
    proofs: Option<usize>,
    /// Instead of appending ballots, prove this many random leaves from the tiles
    /// alone (`GET /checkpoint`, then `GET /tile/…` as a voter's client with an empty
    /// cache, every tile authenticated and every proof verified) and report proofs and
    /// tiles per second: what a log, a mirror or an HTTP cache in front of them serves.
    #[arg(long)]
    tile_proofs: Option<usize>,
    /// The log key for `--tile-proofs` when `--log` is a cache that does not serve
    /// `/v1/log` (default: read from `--log`'s `/v1/log`).
    #[arg(long, requires = "tile_proofs")]
    key: Option<String>,
    /// The time tolerance (seconds) the load election seals: a long run sends
    /// pre-signed statements late (the log must allow it: `serve --time-tolerance`).
    #[arg(long, default_value_t = urne_client::rules::DEFAULT_TOLERANCE_SECS as u64)]
    tolerance: u64,
    /// Write the receipt codes of the appended ballots to this file (one a line).
    #[arg(long)]
    receipts_out: Option<std::path::PathBuf>,
    /// Instead of appending ballots, look up this many receipts drawn from the codes
    /// in `--receipts-from` (`GET /v1/receipts/<code>`: the ballot, its inclusion proof
    /// and checkpoint) and report receipts proved per second.
    #[arg(long, requires = "receipts_from")]
    receipts: Option<usize>,
    /// The file of receipt codes for `--receipts` (written by `--receipts-out`).
    #[arg(long)]
    receipts_from: Option<std::path::PathBuf>,
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

async fn start_log(config: Config) -> Result<(Log, tokio::net::TcpListener)> {
    let log =
        tokio::task::spawn_blocking(move || Log::open(&config).map(|l| (l, config))).await??;
    let (log, config) = log;
    if log.new_key {
        tracing::info!(data = %config.data.display(), "new log: generated its key");
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    println!("urne log {}", log.verifier_key().name());
    println!("  verifier key: {}", log.verifier_key());
    println!(
        "  serving on:   http://{addr}/  (tree size {})",
        log.state.seq.head().size
    );
    Ok((log, listener))
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    // Every mode serves or fetches over many sockets: use the descriptors allowed.
    urne::serve::raise_nofile_limit();
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Keygen { name, out, witness } => keygen(&name, out, witness),
        Command::Witness(args) => witness(args).await,
        Command::Mirror(args) => mirror(args).await,
        Command::Demo(args) => demo(args).await,
        Command::ForgeAppend { data, file } => forge_append(&data, &file),
        Command::Load(args) => load(args).await,
    }
}

/// `urne serve`: the log, until SIGINT or SIGTERM.
async fn serve(args: ServeArgs) -> Result<()> {
    init_tracing();
    let config = args.into_config()?;
    let (log, listener) = start_log(config).await?;
    urne::run(listener, log, shutdown_signal()).await
}

/// `urne keygen`: a note signing key (authorities), or with `witness` a
/// `cosignature/v1` key; the secret goes to `out` (mode 0600), the verifier key to
/// stdout.
fn keygen(name: &str, out: Option<PathBuf>, witness: bool) -> Result<()> {
    let (secret, verifier, what) = if witness {
        let key = CosignerKey::generate(name).map_err(|e| anyhow::anyhow!("{e}"))?;
        let verifier = key.verifier().to_string();
        (key.to_signer_string(), verifier, "secret witness key")
    } else {
        let key = SignerKey::generate(name).map_err(|e| anyhow::anyhow!("{e}"))?;
        let verifier = key.verifier().to_string();
        (key.to_signer_string(), verifier, "secret key")
    };
    let out = out.unwrap_or_else(|| PathBuf::from(format!("{}.key", name.replace('/', "_"))));
    urne::keys::write_secret(&out, &secret)?;
    eprintln!("{what} written to {} (mode 0600)", out.display());
    println!("{verifier}");
    Ok(())
}

/// `urne witness`: cosigns the checkpoints of its logs, until SIGINT or SIGTERM.
async fn witness(args: WitnessArgs) -> Result<()> {
    init_tracing();
    let c = args.into_config()?;
    let key_file = c.validate()?;
    let text = std::fs::read_to_string(key_file)
        .with_context(|| format!("reading {}", key_file.display()))?;
    let key = CosignerKey::parse(text.trim())
        .map_err(|e| anyhow::anyhow!("{}: {e}", key_file.display()))?;
    let logs = c
        .logs
        .iter()
        .map(|l| urne::witness::parse_log_arg(l))
        .collect::<Result<Vec<_>>>()?;
    let (data, database, peers, listen) = (c.data, c.database, c.peers, c.listen);
    // Opening reads and checks every note (and may migrate PostgreSQL's schema):
    // blocking work, off the async threads.
    let w = tokio::task::spawn_blocking(move || {
        match &database {
            Some(url) => urne::witness::Witness::open_postgres(url, key, logs),
            None => urne::witness::Witness::open(&data, key, logs),
        }?
        .with_peers(peers)
    })
    .await??;
    let w = std::sync::Arc::new(w);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    println!("urne witness {}", w.verifier());
    println!(
        "  serving on: http://{}/add-checkpoint",
        listener.local_addr()?
    );
    urne::witness::run(listener, w, shutdown_signal()).await
}

/// `urne mirror`: copies a log and serves it, until SIGINT or SIGTERM.
async fn mirror(args: MirrorArgs) -> Result<()> {
    init_tracing();
    let key = urne_client::note::VerifierKey::parse(&args.key)
        .map_err(|e| anyhow::anyhow!("--key: {e}"))?;
    if args.of.is_none() && args.push_key.is_none() {
        anyhow::bail!("a mirror needs --of URL (pull), --push-key FILE (push), or both");
    }
    let of = args.of.clone().unwrap_or_default();
    let mut m = urne::mirror::Mirror::open(&args.data, &of, key, args.peers)?;
    if let Some(path) = &args.push_key {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let k = CosignerKey::parse(text.trim())
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        println!("  push mirror key: {}", k.verifier());
        m = m.with_push(k)?;
    }
    if let Some(t) = args.time_tolerance {
        if t < 0 {
            anyhow::bail!("--time-tolerance must not be negative");
        }
        m = m.with_time_tolerance(t);
    }
    let m = std::sync::Arc::new(m);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    match &args.of {
        Some(of) => println!("urne mirror of {of}"),
        None => println!("urne mirror of {} (push only)", m.log_key().name()),
    }
    println!("  serving on: http://{}/", listener.local_addr()?);
    urne::mirror::run(listener, m, shutdown_signal()).await
}

/// `urne demo`: a simulated election, against `--log` or a log started here.
async fn demo(args: DemoArgs) -> Result<()> {
    let keys = DemoKeys::from_seed(&args.seed)?;
    if args.print_board_key {
        for k in &keys.board {
            println!("{}", k.verifier());
        }
        return Ok(());
    }
    let opts = demo::DemoOptions {
        voters: args.voters,
        concurrency: args.concurrency,
        seed: args.seed.clone(),
        election: args.election.clone(),
        simulate_hours: None,
        progress: true,
    };
    if let Some(url) = &args.log {
        let tolerance = demo::log_time_tolerance(url).await?;
        let allowed = tolerance.map_or(0, demo::hours_allowed);
        let hours = match args.hours {
            Some(h) if h > allowed => anyhow::bail!(
                "--hours {h}: the log at {url} accepts statements dated at most {} s \
                 from its clock, enough for {allowed} hour(s); restart it with \
                 --time-tolerance {} or lower --hours",
                tolerance.map_or_else(|| "an unknown number of".into(), |t| t.to_string()),
                i64::from(h) * 3600 + demo::DEMO_RUN_MARGIN_SECS
            ),
            Some(h) => h,
            None => allowed.min(10),
        };
        let opts = demo::DemoOptions {
            simulate_hours: Some(hours),
            ..opts
        };
        let s = demo::run_demo(url, &opts).await?;
        print_summary(url, &s);
        return Ok(());
    }
    let hours = args.hours.unwrap_or(10);
    init_tracing();
    let mut config = args.serve.clone().into_config()?;
    config
        .allow_board
        .extend(keys.board.iter().map(|k| k.verifier().to_string()));
    // The simulated election is spread over past hours: tolerate it (one more
    // hour for the demo to run).
    config.time_tolerance_secs = config
        .time_tolerance_secs
        .max((i64::from(hours) + 1) * 3600);
    let (log, listener) = start_log(config).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let exit = args.exit;
    let server = tokio::spawn(urne::run(listener, log, async move {
        if exit {
            let _ = stop_rx.await;
        } else {
            shutdown_signal().await;
        }
    }));
    let opts = demo::DemoOptions {
        simulate_hours: Some(hours),
        ..opts
    };
    let summary = demo::run_demo(&url, &opts).await?;
    print_summary(&url, &summary);
    if exit {
        let _ = stop_tx.send(());
    } else {
        println!("\nThe log keeps running at {url}/ — Ctrl-C to stop.");
    }
    server.await??;
    Ok(())
}

/// `urne forge-append` (tests only): appends an entry bypassing the rules.
fn forge_append(data: &std::path::Path, file: &std::path::Path) -> Result<()> {
    let index = forge::forge_append(data, file)?;
    println!("forged entry appended at index {index}");
    Ok(())
}

/// `urne load`: ballots (or inclusion proofs) against a running log.
async fn load(args: LoadArgs) -> Result<()> {
    if let Some(n) = args.tile_proofs {
        let r =
            demo::run_tile_proof_load(&args.log, args.key.as_deref(), n, args.concurrency).await?;
        if args.json {
            println!("{}", serde_json::to_string(&r)?);
        } else {
            println!(
                "{} leaves proved from {} tiles in {:.2} s: {:.0} proofs/s, {:.0} tiles/s; latency p50 {:.2} ms, p99 {:.2} ms",
                r.proofs, r.tiles, r.seconds, r.per_second, r.tiles_per_second, r.p50_ms, r.p99_ms
            );
        }
        return Ok(());
    }
    if let Some(n) = args.proofs {
        let r = demo::run_proof_load(&args.log, n, args.concurrency).await?;
        if args.json {
            println!("{}", serde_json::to_string(&r)?);
        } else {
            println!(
                "{} inclusion proofs in {:.2} s: {:.0}/s; latency p50 {:.2} ms, p99 {:.2} ms",
                r.proofs, r.seconds, r.per_second, r.p50_ms, r.p99_ms
            );
        }
        return Ok(());
    }
    if let (Some(n), Some(path)) = (args.receipts, &args.receipts_from) {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading receipt codes from {}", path.display()))?;
        let codes: Vec<String> = text.split_whitespace().map(str::to_string).collect();
        let r = demo::run_receipt_load(&args.log, &codes, n, args.concurrency).await?;
        if args.json {
            println!("{}", serde_json::to_string(&r)?);
        } else {
            println!(
                "{} receipts proved in {:.2} s: {:.0}/s; latency p50 {:.2} ms, p99 {:.2} ms",
                r.proofs, r.seconds, r.per_second, r.p50_ms, r.p99_ms
            );
        }
        return Ok(());
    }
    let opts = demo::LoadOptions {
        ballots: args.ballots,
        concurrency: args.concurrency,
        rate: args.rate,
        seed: args.seed,
        progress: !args.json,
        tolerance_secs: args.tolerance,
        receipts_out: args.receipts_out,
    };
    let r = demo::run_load(&args.log, &opts).await?;
    if args.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!(
            "{} ballots appended of {} in {:.2} s: {:.0}/s; latency p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            r.appended, r.sent, r.seconds, r.per_second, r.p50_ms, r.p90_ms, r.p99_ms, r.max_ms
        );
    }
    Ok(())
}

fn print_summary(url: &str, s: &demo::DemoSummary) {
    println!(
        "\nDemo election {} done ({} hour(s) of simulated time): {} entries appended.",
        s.election, s.hours, s.appended
    );
    for (code, n) in &s.refused {
        println!("  refused as expected: {n} × {code}");
    }
    for r in &s.receipts {
        println!("  receipt:  {url}/v1/receipts/{r}");
    }
    for v in &s.voters {
        println!("  voter:    {url}/v1/voters/{v}");
    }
    if let Some(v) = &s.helpdesk_voter {
        println!("  voter whose credential was reissued by the helpdesk: {url}/v1/voters/{v}");
    }
    println!("  election: {url}/v1/elections/{}", s.election);
    println!("  elections: {url}/v1/elections");
    // Codes are pasted into the page, never put in its address: the browser's
    // history would keep them.
    println!("\nIn a browser (every proof is checked by the page itself; paste the code):");
    if let Some(r) = s.receipts.first() {
        println!("  check a receipt:     {url}/#/verifier   (paste {r})");
    }
    if let Some(v) = &s.helpdesk_voter {
        println!("  credential history:  {url}/#/identifiant   (paste {v})");
    }
    println!("  dashboard:           {url}/#/tableau");
}
