//! Mail that is never lost: a mail server away for a while, two replicas draining one outbox, a
//! replica killed in the middle of a send. Each message is checked at the real SMTP server.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::mail::MailCatcher;
use crate::gatehouse::{Client, NO_THROTTLE, PASSWORD, Replica, median, unique_name};
use crate::services::{Postgres, Redis, signal};

/// Fast polling and retries, so the tests take seconds.
const QUICK: [(&str, &str); 3] = [("MAIL_POLL_INTERVAL_MS", "50"), ("MAIL_RETRY_BASE_MS", "200"), ("FORGOT_FLOOR_MS", "20")];
const WAIT: Duration = Duration::from_secs(60);

fn settings<'a>(smtp: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all = vec![("SMTP_URL", smtp)];
    all.extend(QUICK);
    all.extend(NO_THROTTLE);
    all.extend_from_slice(extra);
    all
}

/// Registers `n` users with addresses of their own (each gets a verification mail).
async fn register_with_mail(client: &Client, at: &Replica, tag: &str, n: usize) -> Vec<String> {
    let mut addresses = Vec::new();
    for _ in 0..n {
        let name = unique_name(tag);
        let email = format!("{name}@example.com");
        let answer = client.post(at, "/auth/register", &json!({"username": name, "email": email, "password": PASSWORD})).await;
        assert_eq!(answer.status, 201, "{}", answer.body);
        addresses.push(email);
    }
    addresses
}

/// Waits until each address has one message, then a little longer, and asserts exactly one.
async fn assert_each_once(mail: &MailCatcher, addresses: &[String]) {
    for address in addresses {
        mail.wait_for(address, 1, WAIT).await;
    }
    // Room for a duplicate to show up, if one were on its way.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for address in addresses {
        assert_eq!(mail.messages_to(address).len(), 1, "{address} got a message more than once");
    }
}

#[tokio::test]
async fn mail_queued_while_the_smtp_server_is_down_is_delivered_once_when_it_is_back() {
    let (pg, redis) = (Postgres::start(), Redis::start());
    let mut mail = MailCatcher::start();
    let url = mail.url();
    let replica = Replica::over(&pg, &redis, &settings(&url, &[])).await;
    let client = Client::new();

    // A baseline with the mail server up, then the same requests with it down.
    let time_forgot = |n: usize| {
        let (client, replica) = (&client, &replica);
        async move {
            let mut samples = Vec::new();
            for i in 0..n {
                let answer = client.post(replica, "/auth/password/forgot", &json!({"email": format!("nobody-{i}@example.com")})).await;
                assert_eq!(answer.status, 202, "{}", answer.body);
                samples.push(answer.elapsed);
            }
            median(samples)
        }
    };
    let up = time_forgot(9).await;
    mail.stop();
    let addresses = register_with_mail(&client, &replica, "smtp-down", 5).await;
    let down = time_forgot(9).await;
    assert!(down < up * 3 + Duration::from_millis(50), "requests slowed while the mail server was down: {down:?} vs {up:?}");
    // Some attempts fail meanwhile (and are retried).
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(mail.messages().is_empty());
    assert!(replica.log_text().contains("mail not sent"), "the failures are logged");

    mail.restart();
    assert_each_once(&mail, &addresses).await;
}

#[tokio::test]
async fn two_replicas_sharing_the_outbox_send_each_message_once() {
    let (pg, redis) = (Postgres::start(), Redis::start());
    let mail = MailCatcher::start();
    let url = mail.url();
    let (a, b) = (Replica::over(&pg, &redis, &settings(&url, &[])).await, Replica::over(&pg, &redis, &settings(&url, &[])).await);
    let client = Client::new();
    let mut addresses = register_with_mail(&client, &a, "two-a", 10).await;
    addresses.extend(register_with_mail(&client, &b, "two-b", 10).await);
    assert_each_once(&mail, &addresses).await;
    let sent_by = |r: &Replica| r.log_text().matches("mail sent id=").count();
    assert_eq!(sent_by(&a) + sent_by(&b), addresses.len(), "each message sent by one replica, once");
}

/// A mail server that accepts connections and never says a word: a send to it hangs until its
/// timeout. The receiver hears of each connection.
fn silent_smtp_server() -> (u16, std::sync::mpsc::Receiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (connected, heard) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(4) {
            held.push(stream);
            let _ = connected.send(());
        }
        std::thread::sleep(Duration::from_secs(90));
    });
    (port, heard)
}

#[tokio::test]
async fn a_replica_killed_in_the_middle_of_a_send_loses_nothing() {
    let (pg, redis) = (Postgres::start(), Redis::start());
    let (silent, connected) = silent_smtp_server();
    let silent_url = format!("smtp://127.0.0.1:{silent}");
    // A send to the silent server hangs for MAIL_SEND_TIMEOUT; the claim's lease is twice that
    // plus ten seconds.
    let mut first = Replica::over(&pg, &redis, &settings(&silent_url, &[("MAIL_SEND_TIMEOUT", "5")])).await;
    let client = Client::new();
    let addresses = register_with_mail(&client, &first, "crash", 1).await;
    // The worker is in the middle of the send once it has connected to the silent server.
    let heard = tokio::task::spawn_blocking(move || connected.recv_timeout(WAIT)).await.unwrap();
    assert!(heard.is_ok(), "the worker never tried to send");
    signal(first.pid(), "KILL");
    first.wait_exit(Duration::from_secs(10));

    // Another replica, with a working mail server, sends it once the dead one's lease is over.
    let mail = MailCatcher::start();
    let url = mail.url();
    let _second = Replica::over(&pg, &redis, &settings(&url, &[])).await;
    let started = Instant::now();
    assert_each_once(&mail, &addresses).await;
    println!("delivered {:?} after the crash", started.elapsed());
}
