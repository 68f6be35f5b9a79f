//! The operator files in `dist/` (docs/operations.md): the systemd units parse, are
//! hardened, and start the real `urne` with the example configuration and arguments.
//!
//! Owns: the checks of `dist/systemd/*.service`, `dist/urne.toml`, `dist/witness.toml`,
//! `dist/*.env`.
//! Does not own: running under systemd itself. The test machines have no systemd as
//! PID 1, so a unit is checked offline (`systemd-analyze verify`, `systemd-analyze
//! security --offline`), and its command line is run here the way systemd would run
//! it (specifiers, credentials and environment file expanded), without the sandbox.
//! `systemd-analyze` comes with Debian's `systemd` package (`scripts/setup.sh --test`).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use urne::config::Config;

const UNITS: [&str; 3] = [
    "urne.service",
    "urne-witness.service",
    "urne-mirror.service",
];

fn dist() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("dist")
}

/// The `Key=Value` settings of a unit or environment file, in order (a key may repeat).
fn settings(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('['))
        .map(|l| {
            let (k, v) = l
                .split_once('=')
                .unwrap_or_else(|| panic!("{}: not Key=Value: {l:?}", path.display()));
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn setting<'s>(s: &'s [(String, String)], key: &str) -> Option<&'s str> {
    s.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Runs `systemd-analyze verify` on a copy of `unit` whose `ExecStart` runs the `urne`
/// just built (verify refuses a unit whose program does not exist, and
/// /usr/local/bin/urne is not installed here). Returns its complaints about the unit:
/// verify exits 0 on an unknown key or a bad value ("…, ignoring"), so any line naming
/// the unit counts.
fn verify(unit: &Path) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let name = unit.file_name().unwrap().to_str().unwrap();
    let copy = dir.path().join(name);
    let text = std::fs::read_to_string(unit).unwrap();
    std::fs::write(
        &copy,
        text.replace("/usr/local/bin/urne", env!("CARGO_BIN_EXE_urne")),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&copy)
        .output()
        .unwrap_or_else(|e| {
            panic!("systemd-analyze: {e} (Debian package systemd: bash scripts/setup.sh --test)")
        });
    let stderr = String::from_utf8_lossy(&out.stderr);
    let complaints: Vec<&str> = stderr.lines().filter(|l| l.contains(name)).collect();
    if out.status.success() && complaints.is_empty() {
        Ok(())
    } else {
        Err(format!("{}\n{stderr}", out.status))
    }
}

#[test]
fn every_unit_passes_systemd_analyze_verify() {
    for unit in UNITS {
        if let Err(e) = verify(&dist().join("systemd").join(unit)) {
            panic!("{unit}: systemd-analyze verify: {e}");
        }
    }
}

/// The check above is not blind to what `systemd-analyze verify` only warns about.
#[test]
fn a_unit_with_a_typo_fails_the_check() {
    let good = std::fs::read_to_string(dist().join("systemd/urne.service")).unwrap();
    for (from, to) in [
        ("ProtectSystem=strict", "ProtectSystem=strictt"),
        ("LimitNOFILE=65536", "LimitNOFILE=lots"),
        ("NoNewPrivileges=yes", "NoNewPrivilege=yes"),
    ] {
        assert!(good.contains(from), "{from}");
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("urne.service");
        std::fs::write(&bad, good.replace(from, to)).unwrap();
        assert!(verify(&bad).is_err(), "{to} passed the check");
    }
}

/// `systemd-analyze security --offline` scores what a compromised process could
/// still do, from 0 (nothing) to 10 (everything, the default for a unit with no
/// hardening). Each unit here scores 1.7 with systemd 252.
#[test]
fn every_unit_is_hardened() {
    for unit in UNITS {
        let path = dist().join("systemd").join(unit);
        let out = Command::new("systemd-analyze")
            .args(["security", "--offline=true", "--no-pager"])
            .arg(&path)
            .output()
            .expect("systemd-analyze (Debian package systemd: bash scripts/setup.sh --test)");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let score: f64 = stdout
            .lines()
            .find_map(|l| {
                l.split_once("Overall exposure level for ")?
                    .1
                    .split_once(": ")
            })
            .and_then(|(_, rest)| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("{unit}: no exposure level in\n{stdout}"));
        assert!(score <= 2.0, "{unit}: exposure {score} (> 2.0)\n{stdout}");
        for key in ["User", "StateDirectory", "LimitNOFILE", "NoNewPrivileges"] {
            assert!(
                setting(&settings(&path), key).is_some(),
                "{unit}: no {key}="
            );
        }
    }
}

/// The example configuration loads with the server's own parser and validation, and
/// keeps its data where the unit lets the service write (its `StateDirectory`).
#[test]
fn example_config_loads_and_validates() {
    let config = Config::from_file(&dist().join("urne.toml")).unwrap();
    config.validate().unwrap();
    let unit = settings(&dist().join("systemd/urne.service"));
    let state = setting(&unit, "StateDirectory").unwrap();
    assert_eq!(config.data, Path::new("/var/lib").join(state));
    assert!(setting(&unit, "ExecStart")
        .unwrap()
        .contains("--config /etc/urne/urne.toml"));
}

/// The witness's example configuration loads with the witness's own parser, names
/// logs it can parse, keeps its data where its unit lets it write, and the unit reads
/// it (the key comes from the unit's credential, not from the file).
#[test]
fn example_witness_config_loads_and_validates() {
    let mut c = urne::config::WitnessConfig::from_file(&dist().join("witness.toml")).unwrap();
    let unit = settings(&dist().join("systemd/urne-witness.service"));
    let state = setting(&unit, "StateDirectory").unwrap();
    assert_eq!(c.data, Path::new("/var/lib").join(state));
    let exec = setting(&unit, "ExecStart").unwrap();
    assert!(exec.contains("--config /etc/urne/witness.toml"), "{exec}");
    assert!(
        exec.contains("--key ${CREDENTIALS_DIRECTORY}/witness.key"),
        "{exec}"
    );
    assert_eq!(c.key, None, "the key belongs to the unit's credential");
    assert!(c.validate().is_err(), "no key: refused");
    c.key = Some(PathBuf::from(
        "/run/credentials/urne-witness.service/witness.key",
    ));
    c.validate().unwrap();
    for l in &c.logs {
        urne::witness::parse_log_arg(l).unwrap();
    }
}

/// The unit's `LimitNOFILE`, the descriptor limit systemd gives the service (soft and
/// hard).
fn limit_nofile(unit: &str) -> u64 {
    let s = settings(&dist().join("systemd").join(unit));
    let v = setting(&s, "LimitNOFILE").unwrap_or_else(|| panic!("{unit}: no LimitNOFILE="));
    v.parse()
        .unwrap_or_else(|e| panic!("{unit}: LimitNOFILE={v}: {e} (one number expected)"))
}

/// The connections each service accepts at once under its unit's `LimitNOFILE`, by the
/// server's own budget: the limit minus RocksDB's table files (which must not be cut
/// below what is configured), RocksDB's other files and the process's own.
const MIN_CONNECTIONS: usize = 10_000;

#[test]
fn every_unit_limit_nofile_fits_the_descriptor_budget() {
    use urne::serve::{connections_under, rocksdb_files, PROCESS_FILES};
    use urne::storage::rocks::{DEFAULT_MAX_OPEN_FILES, ENGINE_FILES};
    let config = Config::from_file(&dist().join("urne.toml")).unwrap();
    let n = limit_nofile("urne.service");
    assert_eq!(
        rocksdb_files(n, config.rocksdb_max_open_files),
        config.rocksdb_max_open_files,
        "urne.service: LimitNOFILE={n} cuts RocksDB's table files"
    );
    let limits = config.limits_under(n);
    assert!(
        limits.max_connections >= MIN_CONNECTIONS,
        "urne.service: LimitNOFILE={n} leaves {} connections",
        limits.max_connections
    );
    let witness = urne::witness::WITNESS_MAX_OPEN_FILES;
    for (unit, files) in [
        ("urne-witness.service", witness),
        ("urne-mirror.service", DEFAULT_MAX_OPEN_FILES),
    ] {
        let n = limit_nofile(unit);
        assert_eq!(rocksdb_files(n, files), files, "{unit}: LimitNOFILE={n}");
        let connections = connections_under(n, files as u64 + ENGINE_FILES + PROCESS_FILES);
        assert!(
            connections >= MIN_CONNECTIONS,
            "{unit}: LimitNOFILE={n} leaves {connections} connections"
        );
    }
}

/// The command line of `unit` as systemd would run it, with the files of `dist/` in
/// place of their installed copies under /etc/urne, `root` in place of /var/lib (`%S`)
/// and of the credentials directory, and its listening address on a free port.
fn command_line(unit: &str, root: &Path) -> Vec<String> {
    let s = settings(&dist().join("systemd").join(unit));
    let env: HashMap<String, String> = s
        .iter()
        .filter(|(k, _)| k == "EnvironmentFile")
        .flat_map(|(_, f)| settings(&installed(f)))
        .collect();
    let mut args = Vec::new();
    for word in setting(&s, "ExecStart").unwrap().split_whitespace() {
        if let Some(var) = word.strip_prefix('$').filter(|v| !v.starts_with('{')) {
            // systemd splits an unbraced $VAR into words.
            let value = env
                .get(var)
                .unwrap_or_else(|| panic!("{unit}: ${var} unset"));
            args.extend(value.split_whitespace().map(String::from));
            continue;
        }
        let word = word
            .replace("%S", root.to_str().unwrap())
            .replace("${CREDENTIALS_DIRECTORY}", root.to_str().unwrap());
        args.push(match word.as_str() {
            "/usr/local/bin/urne" => env!("CARGO_BIN_EXE_urne").to_string(),
            w if w.starts_with("/etc/urne/") => installed(w).to_str().unwrap().to_string(),
            w => w.to_string(),
        });
    }
    match args.iter().position(|a| a == "--listen") {
        Some(i) => args[i + 1] = "127.0.0.1:0".into(),
        None => args.extend(["--listen".into(), "127.0.0.1:0".into()]),
    }
    if !args.iter().any(|a| a == "--data") {
        // `urne serve` reads it from the configuration: /var/lib/urne, as checked above.
        let state = setting(&s, "StateDirectory").unwrap();
        args.extend(["--data".into(), root.join(state).to_str().unwrap().into()]);
    }
    args
}

/// The status line of the answer to `GET /v1/gossip` from the server at `addr`.
fn status_line(addr: &str) -> std::io::Result<String> {
    let mut conn = std::net::TcpStream::connect(addr)?;
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    conn.write_all(b"GET /v1/gossip HTTP/1.0\r\nHost: urne\r\n\r\n")?;
    let mut first = String::new();
    BufReader::new(conn).read_line(&mut first)?;
    Ok(first)
}

/// Waits until the server at `addr` answers an HTTP request, whatever its status.
fn answers(addr: &str, deadline: Instant) -> Result<(), String> {
    loop {
        match status_line(addr) {
            Ok(first) if first.starts_with("HTTP/") => return Ok(()),
            Ok(first) if Instant::now() > deadline => return Err(format!("{first:?}")),
            Err(e) if Instant::now() > deadline => return Err(e.to_string()),
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// The file of `dist/` installed at `path` (/etc/urne/NAME).
fn installed(path: &str) -> PathBuf {
    let name = path
        .strip_prefix("/etc/urne/")
        .unwrap_or_else(|| panic!("{path}: not under /etc/urne"));
    dist().join(name)
}

/// `limit`, or the hard descriptor limit in force if lower: raising the hard limit
/// needs a privilege (CAP_SYS_RESOURCE) a test may not have, even as root in a
/// container.
fn applicable_limit(limit: u64) -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct passed.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    limit.min(lim.rlim_max)
}

/// The number after `name=` in a log line of tracing's default format.
fn field(line: &str, name: &str) -> u64 {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name}= in {line:?}"))
}

/// Each unit's command line starts the real binary with the example configuration and
/// arguments, which serves, and stops with status 0 on SIGTERM (what systemd sends).
#[test]
fn every_unit_starts_urne_and_stops_on_sigterm() {
    for unit in UNITS {
        let root = tempfile::tempdir().unwrap();
        let s = settings(&dist().join("systemd").join(unit));
        for (_, cred) in s.iter().filter(|(k, _)| k == "LoadCredential") {
            let (id, _) = cred.split_once(':').unwrap();
            assert_eq!(id, "witness.key", "{unit}: unknown credential");
            let made = Command::new(env!("CARGO_BIN_EXE_urne"))
                .args(["keygen", "--witness", "--name", "witness.example", "--out"])
                .arg(root.path().join(id))
                .output()
                .unwrap();
            assert!(made.status.success(), "{made:?}");
        }
        let args = command_line(unit, root.path());
        let stderr = root.path().join("stderr");
        let nofile = applicable_limit(limit_nofile(unit));
        let mut command = Command::new(&args[0]);
        // As systemd does with LimitNOFILE=: soft and hard limits, before exec.
        // SAFETY: setrlimit is async-signal-safe and only reads the struct passed.
        unsafe {
            command.pre_exec(move || {
                let lim = libc::rlimit {
                    rlim_cur: nofile,
                    rlim_max: nofile,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        let mut child = command
            .args(&args[1..])
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        while !seen.iter().any(|l: &String| l.contains("serving on")) {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => seen.push(line),
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "{unit}: {args:?} did not serve; stdout {seen:?}, stderr:\n{}",
                        std::fs::read_to_string(&stderr).unwrap_or_default()
                    );
                }
            }
        }
        // Its first answer, before the stop: `serving on` is printed once the port is
        // bound, but the SIGTERM handler is installed only when the server starts
        // polling its shutdown future; a SIGTERM in between kills the process by the
        // signal (harmless, and a clean stop for systemd, but not the exit 0 checked).
        let line = seen.iter().find(|l| l.contains("serving on")).unwrap();
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .unwrap_or_else(|| panic!("{unit}: no address in {line:?}"));
        answers(addr, Instant::now() + Duration::from_secs(120))
            .unwrap_or_else(|e| panic!("{unit}: no HTTP answer from {addr}: {e}"));
        // The server logged the budget it computed under the unit's limit before it
        // accepted the connection above.
        let log = std::fs::read_to_string(&stderr).unwrap();
        let budget = log
            .lines()
            .find(|l| l.contains("descriptor budget"))
            .unwrap_or_else(|| panic!("{unit}: no \"descriptor budget\" in stderr:\n{log}"));
        assert_eq!(field(budget, "nofile"), nofile, "{unit}: {budget}");
        let max = field(budget, "max_connections");
        if unit == "urne.service" {
            let config = Config::from_file(&dist().join("urne.toml")).unwrap();
            assert_eq!(
                max,
                config.limits_under(nofile).max_connections as u64,
                "{unit}: {budget}"
            );
        }
        // At most RocksDB's default table files, its other files and the process's own
        // are kept from connections.
        let kept = urne::storage::rocks::DEFAULT_MAX_OPEN_FILES as u64
            + urne::storage::rocks::ENGINE_FILES
            + urne::serve::PROCESS_FILES;
        assert!(max >= nofile - kept && max < nofile, "{unit}: {budget}");
        let pid = child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let deadline = Instant::now() + Duration::from_secs(120);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{unit}: still running 30 s after SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(
            status.success(),
            "{unit}: exited with {status} after SIGTERM; stderr:\n{}",
            std::fs::read_to_string(&stderr).unwrap_or_default()
        );
    }
}
