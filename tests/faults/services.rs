//! Private PostgreSQL and Redis servers for one test, on free loopback ports, that the test
//! stops, crashes, freezes and restarts. Never the machine's shared servers.
//!
//! Each server lives in its own temporary directory. Its `Drop` stops it and removes the
//! directory, on panic too; a watchdog shell does the same if the test process is killed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub use crate::common::free_port;

/// Sends `signal` (a name such as `TERM`) to `pid`; a process already gone is not an error.
pub fn signal(pid: u32, signal: &str) {
    let _ = Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).stderr(Stdio::null()).status();
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

/// A fresh directory under the system temp dir, owned by `owner` when given.
fn temp_dir(kind: &str, owner: Option<&str>) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!("gh-faults-{kind}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a temp dir");
    if let Some(owner) = owner {
        let ok = Command::new("chown").arg(owner).arg(&dir).status().is_ok_and(|s| s.success());
        assert!(ok, "chown {owner} {}", dir.display());
    }
    dir
}

/// When this test process dies without running `Drop`, signals the pid written in `pidfile`
/// and removes `dir`.
fn watchdog(pidfile: &Path, signal: &str, dir: &Path) {
    let script = format!(
        "while kill -0 {me} 2>/dev/null; do sleep 1; done; \
         p=$(head -n 1 '{pidfile}' 2>/dev/null) && [ -n \"$p\" ] && \
         kill -CONT $p $(cat /proc/$p/task/$p/children 2>/dev/null) 2>/dev/null; \
         [ -n \"$p\" ] && kill -{signal} $p 2>/dev/null; sleep 2; rm -rf '{dir}'",
        me = std::process::id(),
        pidfile = pidfile.display(),
        dir = dir.display(),
    );
    let _ = quiet(Command::new("setsid").args(["sh", "-c", &script])).spawn();
}

/// `cmd` with no input and its output discarded.
fn quiet(cmd: &mut Command) -> &mut Command {
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null())
}

/// Waits until something accepts TCP connections on `port`.
pub fn wait_for_port(port: u16, within: Duration) {
    let deadline = Instant::now() + within;
    while std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on 127.0.0.1:{port} after {within:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_gone(child: &mut Child, within: Duration) {
    let deadline = Instant::now() + within;
    while child.try_wait().ok().flatten().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A Redis server with an append-only file synced on every write, so a crash and restart
/// keeps the tokens it held, as an operator who wants sessions to survive Redis runs it.
pub struct Redis {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl Redis {
    pub fn start() -> Redis {
        let dir = temp_dir("redis", None);
        let mut redis = Redis { port: free_port(), dir, child: None };
        watchdog(&redis.dir.join("redis.pid"), "KILL", &redis.dir);
        redis.restart();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server again (after `kill`) on the same port, with the same data.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "redis is already running");
        let child = quiet(
            Command::new("redis-server")
                .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--daemonize", "no"])
                .args(["--appendonly", "yes", "--appendfsync", "always", "--dir"])
                .arg(&self.dir)
                .arg("--pidfile")
                .arg(self.dir.join("redis.pid")),
        )
        .spawn()
        .expect("redis-server is installed (apt-get install redis-server)");
        self.child = Some(child);
        wait_for_port(self.port, Duration::from_secs(20));
    }

    /// A crash: SIGKILL, no goodbye to the clients.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the server: connections stay open and nothing answers.
    pub fn freeze(&self) {
        signal(self.pid(), "STOP");
    }

    pub fn thaw(&self) {
        signal(self.pid(), "CONT");
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("redis is running").id()
    }

    pub async fn connection(&self) -> redis::aio::MultiplexedConnection {
        let client = redis::Client::open(self.url()).unwrap();
        client.get_multiplexed_async_connection().await.expect("connect to the test redis")
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.thaw();
        }
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A PostgreSQL cluster of its own (initdb), run as the `postgres` OS user when the tests run
/// as root (PostgreSQL refuses to run as root).
pub struct Postgres {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

fn pg_bin(name: &str) -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<u32> =
        std::fs::read_dir(root).map(|d| d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect()).unwrap_or_default();
    versions.sort();
    match versions.last() {
        Some(v) => root.join(v.to_string()).join("bin").join(name),
        None => PathBuf::from(name),
    }
}

/// `program` as the postgres OS user when running as root.
fn as_postgres(program: PathBuf) -> Command {
    if is_root() {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=postgres", "--regid=postgres", "--init-groups", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

impl Postgres {
    /// An initialised cluster, not yet running (`start` runs it).
    pub fn init() -> Postgres {
        let dir = temp_dir("pg", is_root().then_some("postgres"));
        let status = quiet(as_postgres(pg_bin("initdb")).arg("-D").arg(dir.join("data")).args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        ]))
        .status()
        .expect("initdb is installed (apt-get install postgresql)");
        assert!(status.success(), "initdb failed in {}", dir.display());
        let pg = Postgres { port: free_port(), dir, child: None };
        watchdog(&pg.dir.join("data/postmaster.pid"), "QUIT", &pg.dir);
        pg
    }

    pub fn start() -> Postgres {
        let mut pg = Postgres::init();
        pg.restart();
        pg
    }

    /// The cluster's `postgres` database; the service migrates it.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server (again) on the same port and data directory, and waits until it
    /// accepts queries (after a crash, that includes recovery).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "postgres is already running");
        let child = quiet(
            as_postgres(pg_bin("postgres"))
                .arg("-D")
                .arg(self.dir.join("data"))
                .args(["-p", &self.port.to_string(), "-k"])
                .arg(&self.dir)
                .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=50"]),
        )
        .spawn()
        .expect("start postgres");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        let probe = || {
            quiet(Command::new(pg_bin("psql")).args([
                "-X",
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-Atqc",
                "SELECT 1",
                "postgres",
            ]))
            .status()
            .is_ok_and(|s| s.success())
        };
        while !probe() {
            assert!(Instant::now() < deadline, "postgres did not come up on port {}", self.port);
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A crash: immediate shutdown (SIGQUIT), which drops every connection without a
    /// checkpoint, so the next start runs crash recovery.
    pub fn kill(&mut self) {
        self.thaw();
        if let Some(mut child) = self.child.take() {
            signal(child.id(), "QUIT");
            wait_gone(&mut child, Duration::from_secs(20));
        }
    }

    /// Freezes the postmaster and every backend: connections stay open and nothing answers.
    pub fn freeze(&self) {
        self.signal_all("STOP");
    }

    pub fn thaw(&self) {
        self.signal_all("CONT");
    }

    fn signal_all(&self, name: &str) {
        let Some(child) = &self.child else { return };
        let pid = child.id();
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        for p in std::iter::once(pid).chain(children.split_whitespace().filter_map(|p| p.parse().ok())) {
            signal(p, name);
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
