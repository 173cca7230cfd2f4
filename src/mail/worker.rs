//! `MailWorker`: drains the outbox on an interval, one message at a time, each claimed under a
//! lease (see `account_store::outbox`), rendered, sent, then deleted, retried with backoff, or
//! given up after `MAIL_MAX_ATTEMPTS`. Several may run (one per replica); a tick never overlaps
//! the previous one.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use actix::{Actor, AsyncContext, Context, WrapFuture};
use lettre::Message;
use lettre::message::{Mailbox, MultiPart};

use super::templates::Values;
use super::{Kind, Templates, Transport};
use crate::account_store::{AccountStore, Claimed};
use crate::config::{AccountConfig, MailConfig};
use crate::metrics;

/// How many messages one tick sends at most before it lets the next tick take over.
const BATCH: usize = 100;
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// What a worker needs to send: the outbox, the transport, the templates and the settings.
pub struct Mailer {
    pub store: AccountStore,
    pub transport: Transport,
    pub templates: Templates,
    pub from: Mailbox,
    pub app_url: String,
    pub retry_base: Duration,
    pub max_attempts: u32,
    /// How long a claim holds a message: longer than a send may take.
    pub lease: Duration,
    pub reset_ttl: Duration,
    pub verify_ttl: Duration,
    /// Whether the last tick could not read the outbox: an outage is logged once, not per tick.
    outbox_down: AtomicBool,
}

/// What one tick did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    pub sent: usize,
    pub failed: usize,
}

impl Mailer {
    pub fn from_config(
        store: AccountStore,
        mail: &MailConfig,
        account: &AccountConfig,
        data_dir: &std::path::Path,
    ) -> anyhow::Result<Mailer> {
        Ok(Mailer {
            store,
            transport: Transport::from_config(mail.smtp_url.as_deref(), data_dir, mail.send_timeout)?,
            templates: Templates::load(mail.templates_dir.as_deref())?,
            // `Config::check` has parsed it already: this cannot fail.
            from: mail.from.parse()?,
            app_url: mail.app_url.clone(),
            retry_base: mail.retry_base,
            max_attempts: mail.max_attempts,
            lease: mail.send_timeout * 2 + Duration::from_secs(10),
            reset_ttl: account.password_reset_ttl,
            verify_ttl: account.email_verify_ttl,
            outbox_down: AtomicBool::new(false),
        })
    }

    /// One tick: sends every due message (up to `BATCH`), then records the outbox's depth. A
    /// database that does not answer ends the tick; the next one tries again.
    pub async fn drain(&self) -> Drained {
        let mut done = Drained::default();
        for _ in 0..BATCH {
            match self.store.claim(self.lease).await {
                Ok(Some(claimed)) => {
                    if self.deliver(claimed).await {
                        done.sent += 1;
                    } else {
                        done.failed += 1;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    if !self.outbox_down.swap(true, Ordering::AcqRel) {
                        log::warn!(target: "gatehouse::mail", "mail worker: cannot read the outbox: {e}; retrying every tick");
                    }
                    metrics::worker_error("mail");
                    return done;
                }
            }
        }
        if self.outbox_down.swap(false, Ordering::AcqRel) {
            log::info!(target: "gatehouse::mail", "mail worker: the outbox answers again");
        }
        match self.store.depth().await {
            Ok(depth) => metrics::mail::outbox(depth),
            Err(e) => log::warn!(target: "gatehouse::mail", "mail worker: cannot measure the outbox: {e}"),
        }
        done
    }

    /// Sends one claimed message and settles it; whether it went.
    async fn deliver(&self, mail: Claimed) -> bool {
        let started = Instant::now();
        let result = match self.compose(&mail) {
            Ok(message) => self.transport.send(&mail.id.to_string(), message).await,
            Err(e) => Err(e),
        };
        let went = result.is_ok();
        let settled = match result {
            Ok(()) => {
                metrics::mail::sent(mail.kind, started.elapsed());
                log::info!(target: "gatehouse::mail", "mail sent id={} kind={} attempt={}", mail.id, mail.kind.as_str(), mail.attempt);
                self.store.delivered(mail.id).await
            }
            Err(e) if mail.attempt >= self.max_attempts => {
                metrics::mail::failed(mail.kind);
                metrics::mail::given_up(mail.kind);
                log::error!(
                    target: "gatehouse::mail",
                    "mail given up id={} kind={} after {} attempts: {e}",
                    mail.id,
                    mail.kind.as_str(),
                    mail.attempt
                );
                self.store.give_up(mail.id).await
            }
            Err(e) => {
                metrics::mail::failed(mail.kind);
                let delay = backoff(self.retry_base, mail.attempt);
                log::warn!(
                    target: "gatehouse::mail",
                    "mail not sent id={} kind={} attempt={}: {e}; next try in {}ms",
                    mail.id,
                    mail.kind.as_str(),
                    mail.attempt,
                    delay.as_millis()
                );
                self.store.retry_later(mail.id, delay).await
            }
        };
        if let Err(e) = settled {
            // The row keeps its claim; once the lease ends it is due again. After a send that
            // went, that means a duplicate (rare: the database failed between two statements),
            // which beats a loss.
            log::warn!(target: "gatehouse::mail", "mail id={} not settled (sent: {went}): {e}", mail.id);
        }
        went
    }

    /// The message of an outbox row; the token a link carries is derived here, never stored.
    fn compose(&self, mail: &Claimed) -> Result<Message, String> {
        let to: Mailbox = mail.recipient.parse().map_err(|e| format!("recipient refused: {e}"))?;
        let link = match (mail.kind.page(), mail.token_id) {
            (Some(page), Some(token_id)) => format!("{}{page}?token={}", self.app_url, self.store.key().token(token_id)),
            _ => String::new(),
        };
        let ttl = if mail.kind == Kind::PasswordReset { self.reset_ttl } else { self.verify_ttl };
        let values = Values {
            link: &link,
            app_url: &self.app_url,
            new_email: mail.detail.as_deref().unwrap_or(""),
            ttl_minutes: ttl.as_secs() / 60,
        };
        let rendered = self.templates.render(mail.kind, &values);
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(rendered.subject)
            // The outbox id: a receiver that sees one message twice (a crash between sending and
            // marking it sent) can tell.
            .message_id(Some(format!("<{}@gatehouse>", mail.id)))
            .multipart(MultiPart::alternative_plain_html(rendered.text, rendered.html))
            .map_err(|e| format!("cannot build the message: {e}"))
    }
}

/// `base`, doubled for each attempt after the first, at most an hour.
fn backoff(base: Duration, attempt: u32) -> Duration {
    base.saturating_mul(1 << attempt.saturating_sub(1).min(20)).min(MAX_BACKOFF)
}

pub struct MailWorker {
    mailer: Arc<Mailer>,
    interval: Duration,
    busy: Arc<AtomicBool>,
}

impl MailWorker {
    pub fn new(mailer: Mailer, interval: Duration) -> MailWorker {
        MailWorker { mailer: Arc::new(mailer), interval, busy: Arc::default() }
    }

    fn run_tick(&mut self, ctx: &mut Context<Self>) {
        // A slow mail server makes a tick outlast the interval: the next tick is skipped, not
        // stacked.
        if self.busy.swap(true, Ordering::AcqRel) {
            return;
        }
        let (mailer, busy) = (self.mailer.clone(), self.busy.clone());
        ctx.spawn(
            async move {
                mailer.drain().await;
                busy.store(false, Ordering::Release);
            }
            .into_actor(self),
        );
    }
}

impl Actor for MailWorker {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        log::info!(target: "gatehouse::mail", "mail worker: mail goes to {}", self.mailer.transport.describe());
        self.run_tick(ctx);
        ctx.run_interval(self.interval, Self::run_tick);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_and_stops_at_an_hour() {
        let base = Duration::from_secs(5);
        assert_eq!(backoff(base, 1), Duration::from_secs(5));
        assert_eq!(backoff(base, 2), Duration::from_secs(10));
        assert_eq!(backoff(base, 4), Duration::from_secs(40));
        assert_eq!(backoff(base, 40), MAX_BACKOFF);
    }
}
