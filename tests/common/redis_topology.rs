//! Real Redis deployments for one test: a node, a Redis Cluster (three primaries, three
//! replicas) or a Sentinel set (a primary, a replica, three Sentinels), started on free loopback
//! ports by `scripts/redis-topology`, stopped when dropped (and by a watchdog if the test process
//! dies first).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/redis-topology");

pub struct Topology {
    dir: PathBuf,
    /// The variables that name it to gatehouse (`REDIS_CLUSTER_NODES`, …).
    pub vars: Vec<(String, String)>,
}

impl Topology {
    /// Starts a deployment of `kind` (`node`, `cluster` or `sentinel`) and waits until it is
    /// ready.
    pub fn start(kind: &str) -> Topology {
        Topology::start_with(kind, &[])
    }

    /// The same, with the script's options (`REPLICAS`: a Sentinel set's replicas).
    pub fn start_with(kind: &str, options: &[(&str, &str)]) -> Topology {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!("gh-redis-{kind}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
        let _ = Command::new(SCRIPT).arg("stop").arg(&dir).stderr(Stdio::null()).status();
        let out = Command::new(SCRIPT)
            .arg(kind)
            .arg(&dir)
            .envs(options.iter().copied())
            .stderr(Stdio::inherit())
            .output()
            .expect("run scripts/redis-topology");
        assert!(out.status.success(), "scripts/redis-topology {kind} failed");
        let vars = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("export ")?.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let watchdog = format!("while kill -0 {} 2>/dev/null; do sleep 1; done; '{SCRIPT}' stop '{}'", std::process::id(), dir.display());
        let _ =
            Command::new("setsid").args(["sh", "-c", &watchdog]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn();
        Topology { dir, vars }
    }

    /// The value of one of its variables.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Runs `scripts/redis-topology <verb> <dir> [arg]` (`kill … primary`, `failover`) off the
    /// async runtime; returns what it printed.
    pub async fn run(&self, verb: &str, arg: Option<&str>) -> String {
        let (dir, verb, arg) = (self.dir.clone(), verb.to_string(), arg.map(str::to_string));
        tokio::task::spawn_blocking(move || {
            let out = Command::new(SCRIPT).arg(&verb).arg(&dir).args(arg).stderr(Stdio::inherit()).output().expect("run the script");
            assert!(out.status.success(), "scripts/redis-topology {verb} failed");
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        })
        .await
        .unwrap()
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        let _ = Command::new(SCRIPT).arg("stop").arg(&self.dir).stderr(Stdio::null()).status();
    }
}
