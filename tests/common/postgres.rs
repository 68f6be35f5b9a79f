//! A real PostgreSQL server for the tests, started by the test itself: `initdb` and
//! `pg_ctl` in a temporary directory, on a free port of 127.0.0.1 (and a Unix socket
//! in the same directory), stopped by a Drop guard (`pg_ctl stop -m immediate`).
//! Not the machine's service. Debian's `postgresql` package provides the binaries
//! (`scripts/setup.sh --test`); `URNE_PG_BIN` points elsewhere.
//!
//! PostgreSQL refuses to run as root: when the tests run as root, the server runs as
//! the `postgres` user (created by Debian's package), which owns the directory.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A PostgreSQL cluster in a temporary directory.
pub struct Postgres {
    pub port: u16,
    pub data: PathBuf,
    dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    bin: PathBuf,
    running: bool,
}

fn bin_dir() -> PathBuf {
    if let Ok(p) = std::env::var("URNE_PG_BIN") {
        return PathBuf::from(p);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path().join("bin"))
                .filter(|p| p.join("initdb").exists())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found.pop().expect(
        "PostgreSQL binaries not found under /usr/lib/postgresql (run scripts/setup.sh --test, or set URNE_PG_BIN)",
    )
}

/// The user the server runs as when the tests run as root: (uid, gid).
fn run_as() -> Option<(u32, u32)> {
    // SAFETY: plain libc calls on a NUL-terminated literal; the result is read at once.
    unsafe {
        if libc::geteuid() != 0 {
            return None;
        }
        let pw = libc::getpwnam(c"postgres".as_ptr());
        assert!(
            !pw.is_null(),
            "running as root and no `postgres` user: install Debian's postgresql package"
        );
        Some(((*pw).pw_uid, (*pw).pw_gid))
    }
}

fn chown_tree(p: &Path, ids: (u32, u32)) {
    std::os::unix::fs::chown(p, Some(ids.0), Some(ids.1)).unwrap();
    if p.is_dir() {
        for e in std::fs::read_dir(p).unwrap().flatten() {
            chown_tree(&e.path(), ids);
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Postgres {
    fn cmd(&self, name: &str) -> Command {
        let mut c = Command::new(self.bin.join(name));
        if let Some((uid, gid)) = run_as() {
            use std::os::unix::process::CommandExt;
            c.uid(uid).gid(gid);
        }
        c.env("LC_ALL", "C").stdin(Stdio::null());
        c
    }

    fn run(&self, mut c: Command, what: &str) {
        let out = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(
            out.status.success(),
            "{what} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A new cluster (initdb, trust authentication on 127.0.0.1 and the socket),
    /// started with `conf` appended to `postgresql.conf`.
    pub fn start_with(conf: &str) -> Postgres {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        if let Some(ids) = run_as() {
            chown_tree(&dir, ids);
        }
        let mut pg = Postgres {
            port: 0,
            data: dir.join("data"),
            dir,
            _tmp: Some(tmp),
            bin: bin_dir(),
            running: false,
        };
        let mut init = pg.cmd("initdb");
        init.args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "-D"])
            .arg(&pg.data);
        pg.run(init, "initdb");
        pg.append_conf(conf);
        pg.start();
        pg
    }

    /// A new cluster with the default configuration.
    pub fn start_new() -> Postgres {
        Self::start_with("")
    }

    /// A synchronous standby of `self` (`pg_basebackup -R`), started. `self` must
    /// have been started with `synchronous_standby_names = '*'` for commits to wait
    /// for it.
    pub fn standby(&self) -> Postgres {
        let mut sb = Postgres {
            port: 0,
            data: self.dir.join("standby"),
            dir: self.dir.clone(),
            _tmp: None,
            bin: self.bin.clone(),
            running: false,
        };
        let mut bb = sb.cmd("pg_basebackup");
        bb.args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-R",
            "-X",
            "stream",
            "-p",
        ])
        .arg(self.port.to_string())
        .arg("-D")
        .arg(&sb.data);
        sb.run(bb, "pg_basebackup");
        sb.append_conf("hot_standby = on\n");
        sb.start();
        sb
    }

    /// Appends `conf` to `postgresql.conf` (takes effect at the next start or reload).
    pub fn append_conf(&self, conf: &str) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.data.join("postgresql.conf"))
            .unwrap();
        writeln!(f, "\n{conf}").unwrap();
    }

    /// Starts the server on a free port (a few tries: another process may take the
    /// port between the probe and the bind).
    pub fn start(&mut self) {
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            let mut c = self.cmd("pg_ctl");
            c.args(["start", "-w", "-t", "120", "-D"])
                .arg(&self.data)
                .arg("-l")
                .arg(self.data.with_extension("log"))
                .arg("-o")
                .arg(format!(
                    "-p {port} -k {} -c listen_addresses=127.0.0.1",
                    self.dir.display()
                ));
            let out = c.output().unwrap();
            if out.status.success() {
                self.port = port;
                self.running = true;
                return;
            }
            last = format!(
                "{}{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(self.data.with_extension("log")).unwrap_or_default()
            );
        }
        panic!("pg_ctl start failed: {last}");
    }

    /// The connection string of database `postgres` on this server.
    pub fn url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres?connect_timeout=5",
            self.port
        )
    }

    /// Creates database `name` and returns its connection string.
    pub fn create_db(&self, name: &str) -> String {
        let mut c = self.cmd("createdb");
        c.args(["-h", "127.0.0.1", "-U", "postgres", "-p"])
            .arg(self.port.to_string())
            .arg(name);
        self.run(c, "createdb");
        format!(
            "postgres://postgres@127.0.0.1:{}/{name}?connect_timeout=5",
            self.port
        )
    }

    /// Runs `sql` in database `db` with psql; returns its output.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = self
            .cmd("psql")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-At", "-p"])
            .arg(self.port.to_string())
            .args(["-d", db, "-c", sql])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Backs database `db` up with `pg_dump` (custom format) into `name`, a file
    /// of the cluster's directory, while it is in use: an operator's backup.
    pub fn dump(&self, db: &str, name: &str) {
        let mut c = self.cmd("pg_dump");
        c.args(["-h", "127.0.0.1", "-U", "postgres", "-Fc", "-p"])
            .arg(self.port.to_string())
            .arg("-f")
            .arg(self.dir.join(name))
            .arg(db);
        self.run(c, "pg_dump");
    }

    /// Replaces database `db` by the backup `name` made by [`Postgres::dump`]:
    /// the database is dropped (its sessions ended), created again and restored.
    pub fn restore(&self, db: &str, name: &str) {
        self.psql("postgres", &format!("DROP DATABASE {db} WITH (FORCE)"));
        self.psql("postgres", &format!("CREATE DATABASE {db}"));
        let mut c = self.cmd("pg_restore");
        c.args(["-h", "127.0.0.1", "-U", "postgres", "-p"])
            .arg(self.port.to_string())
            .args(["-d", db])
            .arg(self.dir.join(name));
        self.run(c, "pg_restore");
    }

    /// The postmaster's process id.
    pub fn pid(&self) -> i32 {
        let text = std::fs::read_to_string(self.data.join("postmaster.pid")).unwrap();
        text.lines().next().unwrap().trim().parse().unwrap()
    }

    /// Kills the server with SIGKILL (the machine is gone).
    pub fn kill(&mut self) {
        let pid = self.pid();
        // SAFETY: a signal to a process this test started.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        self.running = false;
        // Its backends notice the postmaster's death and exit on their own.
    }

    /// Rereads the configuration (`pg_ctl reload`).
    pub fn reload(&self) {
        let mut c = self.cmd("pg_ctl");
        c.args(["reload", "-D"]).arg(&self.data);
        self.run(c, "pg_ctl reload");
    }

    /// Promotes a standby to primary (`pg_ctl promote -w`).
    pub fn promote(&self) {
        let mut c = self.cmd("pg_ctl");
        c.args(["promote", "-w", "-t", "120", "-D"]).arg(&self.data);
        self.run(c, "pg_ctl promote");
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.running {
            let mut c = self.cmd("pg_ctl");
            c.args(["stop", "-m", "immediate", "-w", "-D"])
                .arg(&self.data)
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            let _ = c.status();
        }
    }
}
