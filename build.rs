//! Rebuilds the crate when a migration changes, so `sqlx::migrate!` embeds the new files, and
//! records the git commit for `gatehouse_build_info` (`GATEHOUSE_GIT_COMMIT` wins when set, as
//! in a container build without `.git`).
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok().filter(|o| o.status.success())?;
    Some(String::from_utf8(out.stdout).ok()?.trim().to_string()).filter(|s| !s.is_empty())
}

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-env-changed=GATEHOUSE_GIT_COMMIT");
    let commit = std::env::var("GATEHOUSE_GIT_COMMIT").ok().filter(|c| !c.is_empty()).or_else(|| git(&["rev-parse", "--short=12", "HEAD"]));
    // Watch HEAD and the branch it names, when they are files (a packed ref is not: watching a
    // missing file would rerun this script on every build).
    let head = git(&["rev-parse", "--git-path", "HEAD"]);
    let branch = git(&["symbolic-ref", "-q", "HEAD"]).and_then(|r| git(&["rev-parse", "--git-path", &r]));
    for path in [head, branch].into_iter().flatten().filter(|p| std::path::Path::new(p).is_file()) {
        println!("cargo:rerun-if-changed={path}");
    }
    println!("cargo:rustc-env=GATEHOUSE_GIT_COMMIT={}", commit.as_deref().unwrap_or("unknown"));
}
