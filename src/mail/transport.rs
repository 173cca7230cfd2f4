//! Where mail goes: an SMTP server (`SMTP_URL`, through lettre over rustls) or, without one,
//! `.eml` files under `DATA_DIR/outbox/`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

impl Transport {
    /// `smtp://host:port` (plain; `?tls=required` for STARTTLS, `?tls=opportunistic` to use it
    /// when offered), `smtps://host:port` (implicit TLS), with `user:password@` for credentials
    /// (percent-encoded). Security: certificates are checked against the platform's roots.
    pub fn from_config(smtp_url: Option<&str>, data_dir: &std::path::Path, timeout: Duration) -> anyhow::Result<Transport> {
        match smtp_url {
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .context("SMTP_URL is not a valid SMTP URL (smtp://host:port or smtps://user:password@host:port)")?
                    .timeout(Some(timeout))
                    .build();
                Ok(Transport::Smtp(transport))
            }
            None => {
                let dir = data_dir.join("outbox");
                // Security: the files carry live links: owner-only, like the rest of DATA_DIR.
                crate::secret::create_private_dir(&dir)?;
                Ok(Transport::Files(dir))
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Transport::Smtp(_) => "SMTP_URL".to_string(),
            Transport::Files(dir) => format!(".eml files in {}", dir.display()),
        }
    }

    /// Sends one message; the error is for the log (it never holds the message's text).
    pub async fn send(&self, name: &str, message: Message) -> Result<(), String> {
        match self {
            Transport::Smtp(smtp) => smtp.send(message).await.map(drop).map_err(|e| e.to_string()),
            Transport::Files(dir) => {
                let path = dir.join(format!("{name}.eml"));
                let temp = dir.join(format!(".{name}.eml.tmp"));
                let bytes = message.formatted();
                let write = async {
                    write_private(&temp, &bytes).await?;
                    // Reliability: written whole, then renamed: a reader never sees half a mail.
                    tokio::fs::rename(&temp, &path).await
                };
                write.await.map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                log::info!(target: "gatehouse::mail", "mail written to {}", path.display());
                Ok(())
            }
        }
    }
}

async fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt as _;
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path).await?;
    file.write_all(bytes).await?;
    file.sync_all().await
}
