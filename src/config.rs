//! Configuration of `urne serve` and `urne witness`: one documented struct each,
//! validated once at start-up.
//!
//! Owns: every tunable of the log server and of the witness, their defaults, and the
//! optional TOML file (read the same way for both: [`read_toml`], unknown keys
//! refused). Does not own: the command line (the binary maps flags onto these structs;
//! a flag wins over the file), nor parsing a witnessed log's `ORIGIN=LOGKEY`
//! ([`crate::witness::parse_log_arg`]).

use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use urne_client::note::VerifierKey;

/// Configuration of a log server. Every field has a default (see [`Config::default`]).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Data directory (RocksDB and the log key). Default `./urne-data`.
    pub data: PathBuf,
    /// Address to listen on. Default `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// Log origin: the first line of every checkpoint and the log key's name. Default
    /// `urne.localhost/log`. Fixed at first start: a data directory keeps its origin.
    pub origin: String,
    /// Board keys allowed to seal elections on this log (verifier key strings). An
    /// `election` statement must carry a valid signature by one of them.
    pub allow_board: Vec<String>,
    /// The sequencer commits a batch after this many statements... Default 1024.
    pub batch_max: usize,
    /// ...or after this many milliseconds, whichever comes first. Default 5 ms.
    pub batch_ms: u64,
    /// Statements waiting for the sequencer before new ones get 503. Default 8192 (at most 8192 × 16 KiB = 128 MiB held).
    pub queue: usize,
    /// The largest time tolerance an election may seal in its `election` statement
    /// (`tolerance <secs>`): each election's sealed tolerance is the accepted distance
    /// between a statement's time and the log's clock, and between a statement's time
    /// and the previous entry of its election. Announced in `/v1/log` as
    /// `max_time_tolerance_secs`. Default 300 s.
    pub time_tolerance_secs: i64,
    /// RocksDB block cache in MiB: the bound on the memory the store uses. Default 64.
    pub cache_mib: usize,
    /// Directory of the web page to serve at `/`. Default: the page built into the
    /// binary.
    pub web_dir: Option<PathBuf>,
    /// Witnesses asked to cosign each new checkpoint, as `URL=WITNESSKEY` (C2SP
    /// tlog-witness). Default none: `/checkpoint` then carries only the log signature.
    pub witnesses: Vec<String>,
    /// Cosignatures a checkpoint needs before `/checkpoint` serves it. Default: a
    /// majority of `witnesses`.
    pub witness_quorum: Option<usize>,
    /// Seconds an idle log waits before asking its witnesses to cosign its current
    /// checkpoint again (the check-in rate of the witness network; fresh timestamps
    /// also seal a closed election). Default 60.
    pub witness_checkin_secs: u64,
    /// The least seconds between two rounds of add-checkpoint requests (the log's
    /// rate towards each witness, at most 86400 / this many a day). Default 0: one
    /// round per new checkpoint. A log joining a public witness network sets it.
    pub witness_interval_secs: u64,
    /// Mirrors the log pushes its entries to as it grows, as `URL=MIRRORKEY` (C2SP
    /// tlog-mirror `add-checkpoint` and `add-entries`; the key is the mirror's
    /// cosignature key, whose "I hold it up to N" the log keeps and shows in
    /// `/v1/log`). Default none.
    pub mirrors: Vec<String>,
    /// Peers (mirrors, witnesses, monitors) whose `/v1/gossip` the log pulls, base
    /// URLs: a checkpoint signed with the log's key that does not fit its own tree (a
    /// stolen key, a forked copy) is kept as evidence at `/v1/gossip/equivocations`.
    /// Default none.
    pub peers: Vec<String>,
    /// Connections open at once, all clients together. Default: the descriptor limit
    /// (whose soft value is raised to the hard one at start) minus the descriptors kept
    /// for RocksDB and the process's own files, so that sockets can never take the
    /// descriptors a commit needs. Past it, new connections wait in the kernel backlog.
    pub max_connections: Option<usize>,
    /// Connections open at once from one IP address; more are closed at once.
    /// Default: a quarter of `max_connections`.
    pub max_connections_per_ip: Option<usize>,
    /// Seconds a client has to send a request's headers, from the opening of its
    /// connection or the end of the previous answer (so also the keep-alive idle
    /// timeout). Default 10.
    pub header_timeout_secs: u64,
    /// Seconds a client has to send a request's body after its headers (408
    /// `body_timeout` past it). Default 30.
    pub body_timeout_secs: u64,
    /// Seconds a stop (SIGTERM, Ctrl-C) waits for requests in flight before closing
    /// their connections. Default 10.
    pub shutdown_timeout_secs: u64,
    /// Table files RocksDB keeps open, at most a quarter of the descriptor limit.
    /// Default 256.
    pub rocksdb_max_open_files: i32,
    /// PostgreSQL connection string (`postgres://user@host:port/db`, several hosts
    /// allowed): the log lives there instead of RocksDB in `data`, and several
    /// instances may share it, one of them sequencing ([`crate::leader`]). The data
    /// directory then only holds the log key (the same file on every instance) and
    /// the evidence. Default none (RocksDB).
    pub database: Option<String>,
    /// With `database`: the leader's lease, in milliseconds. A follower takes over
    /// this long after the leader's last renewal. Default 3000.
    pub lease_ms: u64,
    /// With `database`: the URL other instances reach this one's API at (followers
    /// forward writes to the leader's). Default `http://` and the address listened on.
    pub instance_url: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data: PathBuf::from("urne-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            origin: "urne.localhost/log".to_string(),
            allow_board: Vec::new(),
            batch_max: 1024,
            batch_ms: 5,
            queue: 8192,
            time_tolerance_secs: 300,
            cache_mib: 64,
            web_dir: None,
            witnesses: Vec::new(),
            witness_quorum: None,
            witness_checkin_secs: 60,
            witness_interval_secs: 0,
            mirrors: Vec::new(),
            peers: Vec::new(),
            max_connections: None,
            max_connections_per_ip: None,
            header_timeout_secs: 10,
            body_timeout_secs: 30,
            shutdown_timeout_secs: 10,
            rocksdb_max_open_files: crate::storage::rocks::DEFAULT_MAX_OPEN_FILES,
            database: None,
            lease_ms: 3000,
            instance_url: None,
        }
    }
}

/// Reads a TOML configuration file into `T` (a [`Config`] or a [`WitnessConfig`]):
/// any subset of its fields, an unknown key refused with its name and the keys
/// expected (a misspelt key must not be silently ignored: the default it leaves in
/// place may not be what the operator meant).
///
/// # Errors
/// [`ConfigError::File`] if the file is unreadable or not valid TOML for `T`.
pub fn read_toml<T: DeserializeOwned>(path: &std::path::Path) -> Result<T, ConfigError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| ConfigError::File(path.into(), e.to_string()))?;
    toml::from_str(&text).map_err(|e| ConfigError::File(path.into(), e.to_string()))
}

/// Configuration of a witness (`urne witness`): the same keys as its flags. Every
/// field has a default but `key` and `logs`, which [`WitnessConfig::validate`] asks
/// for.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WitnessConfig {
    /// Data directory (the witness's RocksDB; unused with `database`). Default
    /// `./urne-witness-data`.
    pub data: PathBuf,
    /// Keep the witness's notes and evidence in PostgreSQL
    /// (`postgres://user@host:port/db`) instead of RocksDB. Never read from
    /// `URNE_DATABASE`: a witness must not fall into its log's database by accident.
    pub database: Option<String>,
    /// Address to listen on. Default `127.0.0.1:8090`.
    pub listen: SocketAddr,
    /// File holding the witness key (from `urne keygen --witness`). Required.
    pub key: Option<PathBuf>,
    /// Logs to witness: `ORIGIN=LOGKEY` or just the log's verifier key. At least one.
    pub logs: Vec<String>,
    /// Peers (mirrors, logs, witnesses) whose `/v1/gossip` is pulled, base URLs.
    pub peers: Vec<String>,
}

impl Default for WitnessConfig {
    fn default() -> Self {
        WitnessConfig {
            data: PathBuf::from("urne-witness-data"),
            database: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 8090)),
            key: None,
            logs: Vec::new(),
            peers: Vec::new(),
        }
    }
}

impl WitnessConfig {
    /// Reads a TOML file holding any subset of the fields ([`read_toml`]).
    ///
    /// # Errors
    /// [`ConfigError::File`] if the file is unreadable, not TOML, or has a key that
    /// is not a field.
    pub fn from_file(path: &std::path::Path) -> Result<Self, ConfigError> {
        read_toml(path)
    }

    /// Checks that the witness has a key and at least one log; returns the key file.
    ///
    /// # Errors
    /// [`ConfigError::Missing`] naming the flag and the key.
    pub fn validate(&self) -> Result<&std::path::Path, ConfigError> {
        if self.logs.is_empty() {
            return Err(ConfigError::Missing(
                "a witness needs at least one log to witness: --log ORIGIN=LOGKEY, or \
                 `logs = [\"ORIGIN=LOGKEY\"]` in its configuration file",
            ));
        }
        self.key.as_deref().ok_or(ConfigError::Missing(
            "a witness needs its key: --key FILE, or `key = \"FILE\"` in its configuration \
             file (a file from `urne keygen --witness`)",
        ))
    }
}

/// A configuration that is not usable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The origin is not a valid key name (empty, spaces, '+').
    #[error("origin {0:?} is not a valid signed-note key name (no spaces, no '+')")]
    BadOrigin(String),
    /// An `allow_board` entry is not a verifier key.
    #[error("allow_board entry {0:?} is not a verifier key: {1}")]
    BadBoardKey(String, String),
    /// A numeric bound is zero or absurd.
    #[error("{0}")]
    Bound(String),
    /// The TOML file could not be read or parsed.
    #[error("config file {0}: {1}")]
    File(PathBuf, String),
    /// A setting without a default is missing.
    #[error("{0}")]
    Missing(&'static str),
}

impl Config {
    /// Reads a TOML file holding any subset of the fields.
    ///
    /// # Errors
    /// [`ConfigError::File`] if the file is unreadable or not valid TOML for `Config`.
    pub fn from_file(path: &std::path::Path) -> Result<Self, ConfigError> {
        read_toml(path)
    }

    /// Checks the configuration and returns the parsed board allow-list.
    ///
    /// # Errors
    /// The first problem found.
    pub fn validate(&self) -> Result<Vec<VerifierKey>, ConfigError> {
        if self.origin.is_empty() || self.origin.chars().any(|c| c.is_whitespace() || c == '+') {
            return Err(ConfigError::BadOrigin(self.origin.clone()));
        }
        if self.batch_max == 0 || self.batch_max > 100_000 {
            return Err(ConfigError::Bound(format!(
                "batch_max {} must be in 1..=100000",
                self.batch_max
            )));
        }
        if self.batch_ms > 10_000 {
            return Err(ConfigError::Bound(format!(
                "batch_ms {} must be at most 10000",
                self.batch_ms
            )));
        }
        if self.queue == 0 {
            return Err(ConfigError::Bound("queue must be at least 1".into()));
        }
        if [
            self.header_timeout_secs,
            self.body_timeout_secs,
            self.shutdown_timeout_secs,
        ]
        .contains(&0)
            || self.max_connections == Some(0)
            || self.max_connections_per_ip == Some(0)
        {
            return Err(ConfigError::Bound(
                "timeouts and connection limits must be at least 1".into(),
            ));
        }
        if !(100..=600_000).contains(&self.lease_ms) {
            return Err(ConfigError::Bound(format!(
                "lease_ms {} must be in 100..=600000",
                self.lease_ms
            )));
        }
        if self.time_tolerance_secs < 0 {
            return Err(ConfigError::Bound(
                "time_tolerance_secs must not be negative".into(),
            ));
        }
        self.allow_board
            .iter()
            .map(|k| {
                VerifierKey::parse(k)
                    .map_err(|e| ConfigError::BadBoardKey(k.clone(), e.to_string()))
            })
            .collect()
    }

    /// Returns the table files RocksDB may keep open under the descriptor limit in
    /// force (see [`crate::serve::rocksdb_files`]).
    pub fn rocksdb_files(&self) -> i32 {
        crate::serve::rocksdb_files(crate::serve::nofile_limit(), self.rocksdb_max_open_files)
    }

    /// Returns the server's limits: the configured ones, else the defaults computed
    /// from the descriptor limit in force, keeping RocksDB's descriptors apart.
    pub fn limits(&self) -> crate::serve::Limits {
        self.limits_under(crate::serve::nofile_limit())
    }

    /// [`Config::limits`] under a descriptor limit of `nofile` (a systemd unit's
    /// `LimitNOFILE`: tests/dist.rs checks the units against it).
    pub fn limits_under(&self, nofile: u64) -> crate::serve::Limits {
        let files = crate::serve::rocksdb_files(nofile, self.rocksdb_max_open_files);
        let reserve =
            files as u64 + crate::storage::rocks::ENGINE_FILES + crate::serve::PROCESS_FILES;
        let auto = crate::serve::Limits::under(nofile, reserve);
        let max_connections = self.max_connections.unwrap_or(auto.max_connections);
        crate::serve::Limits {
            max_connections,
            max_connections_per_ip: self
                .max_connections_per_ip
                .unwrap_or((max_connections / 4).max(1)),
            header_timeout: Duration::from_secs(self.header_timeout_secs),
            body_timeout: Duration::from_secs(self.body_timeout_secs),
            shutdown_timeout: Duration::from_secs(self.shutdown_timeout_secs),
        }
    }

    /// Returns the batch timeout as a duration.
    pub fn batch_timeout(&self) -> Duration {
        Duration::from_millis(self.batch_ms)
    }
}
