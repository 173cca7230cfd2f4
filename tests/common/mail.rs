//! A real SMTP server for the tests: aiosmtpd (PyPI) on a free loopback port, storing what it
//! receives in a Maildir of its own, which the tests read. Installed with pip on first use when
//! missing (scripts/test installs it beforehand); a test never skips for want of it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

/// The version the suite is known to work with.
const AIOSMTPD: &str = "aiosmtpd==1.4.6";

fn ensure_installed() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let present = |cmd: &mut Command| cmd.stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
        if present(Command::new("python3").args(["-c", "import aiosmtpd"])) {
            return;
        }
        let installed = present(Command::new("python3").args(["-m", "pip", "install", "--quiet", AIOSMTPD]))
            || present(Command::new("python3").args(["-m", "pip", "install", "--quiet", "--break-system-packages", AIOSMTPD]));
        assert!(installed, "the tests need a real SMTP server: python3 -m pip install {AIOSMTPD} failed");
    });
}

/// One SMTP server and its Maildir; stopped when dropped.
pub struct MailCatcher {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl MailCatcher {
    /// Starts a server on a free port and waits until it accepts connections.
    pub fn start() -> MailCatcher {
        let dir = std::env::temp_dir().join(format!("gh-mail-{}", uuid::Uuid::new_v4().simple()));
        let mut catcher = MailCatcher { port: super::free_port(), dir, child: None };
        catcher.restart();
        catcher
    }

    /// `SMTP_URL` for a gatehouse that sends here (plain SMTP on loopback).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Stops the server (the port refuses connections until `restart`).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and Maildir.
    pub fn restart(&mut self) {
        ensure_installed();
        self.stop();
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{}", self.port), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not start listening on {}", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every message received so far, oldest first, as it arrived (headers and body).
    pub fn messages(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.dir.join("new")) else { return Vec::new() };
        let mut files: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        // In the order they arrived: Maildir names do not sort by time within a second.
        files.sort_by_key(|p| (std::fs::metadata(p).and_then(|m| m.modified()).ok(), p.clone()));
        files.into_iter().filter_map(|p| std::fs::read_to_string(p).ok()).collect()
    }

    /// The messages received for `recipient` (by their `To` header).
    pub fn messages_to(&self, recipient: &str) -> Vec<String> {
        let header = format!("To: {recipient}").to_lowercase();
        self.messages().into_iter().filter(|m| m.to_lowercase().lines().any(|l| l.trim_end() == header)).collect()
    }

    /// Waits until `count` messages have arrived for `recipient`; panics after `within`.
    pub async fn wait_for(&self, recipient: &str, count: usize, within: Duration) -> Vec<String> {
        let deadline = Instant::now() + within;
        loop {
            let found = self.messages_to(recipient);
            if found.len() >= count {
                return found;
            }
            assert!(Instant::now() < deadline, "{count} mail(s) for {recipient} expected, {} arrived", found.len());
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for MailCatcher {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A message's text with quoted-printable soft breaks and escapes undone (enough for links).
pub fn decoded(message: &str) -> String {
    let joined = message.replace("=\r\n", "").replace("=\n", "");
    let mut out = String::with_capacity(joined.len());
    let mut rest = joined.as_str();
    while let Some(at) = rest.find('=') {
        out.push_str(&rest[..at]);
        let hex = rest.get(at + 1..at + 3).filter(|h| h.chars().all(|c| c.is_ascii_hexdigit()));
        match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(byte) if hex.is_some_and(|h| h == h.to_uppercase()) => {
                out.push(byte as char);
                rest = &rest[at + 3..];
            }
            _ => {
                out.push('=');
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The link a mail carries to `page` of the app (`/reset`, `/verify`), whole.
pub fn link(message: &str, page: &str) -> String {
    let text = decoded(message);
    let start = text.find(&format!("{page}?token=")).unwrap_or_else(|| panic!("no {page} link in: {text}"));
    let start = text[..start].rfind("http").expect("the link is absolute");
    let end = text[start..].find(|c: char| c.is_whitespace() || c == '"' || c == '<').map_or(text.len(), |e| start + e);
    text[start..end].to_string()
}

/// The token of the `page` link a mail carries.
pub fn token(message: &str, page: &str) -> String {
    let link = link(message, page);
    link.split_once("token=").expect("a token parameter").1.to_string()
}
