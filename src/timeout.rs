//! Timeouts on dependencies that count only the time this process was running: a pause of the
//! process or of the whole machine (a stop signal, a virtual machine the host did not schedule)
//! does not turn an answer that arrived during the pause into a timeout.
//!
//! After a pause every timer that came due fires at once, and which task the runtime polls first
//! decides whether a waiting call sees its answer (already in the socket) or its timeout. A timer
//! that fires much later than its deadline says the process was not running: the call gets its
//! bound again, a few times at most, so a dependency that is really gone still fails in bounded
//! time, and one that answered is not reported down.

use std::time::Duration;

use tokio::time::Instant;

/// A timer that fires later than `1 / PAUSE_SHARE` of its bound after its deadline marks a pause.
/// Under the heaviest load measured here, timers fire within a few milliseconds.
const PAUSE_SHARE: u32 = 2;

/// How many times, at most, a call is given its bound again after a pause.
const EXTENSIONS: usize = 2;

/// The call did not finish within its bound of running time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed;

/// Awaits `work` for at most `limit` of this process's running time (see the module's comment):
/// the outcome of `work`, or `Elapsed`. Without pauses it is `tokio::time::timeout`.
pub async fn within<F: Future>(limit: Duration, work: F) -> Result<F::Output, Elapsed> {
    let mut work = std::pin::pin!(work);
    let mut deadline = Instant::now() + limit;
    for _ in 0..EXTENSIONS {
        match tokio::time::timeout_at(deadline, work.as_mut()).await {
            Ok(output) => return Ok(output),
            Err(_) => {
                let now = Instant::now();
                let late = now.saturating_duration_since(deadline);
                if late < limit / PAUSE_SHARE {
                    return Err(Elapsed);
                }
                log::debug!(
                    "this process was paused for about {} ms: a call waiting on a dependency gets its bound again",
                    late.as_millis()
                );
                deadline = now + limit;
            }
        }
    }
    tokio::time::timeout_at(deadline, work).await.map_err(|_| Elapsed)
}

/// A bound for a driver's own timeout on a call that `within(limit, ..)` also bounds: longer than
/// `within` waits without a pause, so that it is the one that decides.
pub fn backstop(limit: Duration) -> Duration {
    limit * (EXTENSIONS as u32 + 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Duration = Duration::from_millis(100);

    /// Blocks the runtime's only thread for `pause`, after a first turn: what a paused process
    /// looks like from inside.
    fn pause_runtime(pause: Duration) {
        tokio::spawn(async move {
            tokio::task::yield_now().await;
            std::thread::sleep(pause);
        });
    }

    #[tokio::test]
    async fn an_answer_that_came_during_a_pause_is_taken_not_timed_out() {
        let started = Instant::now();
        let (tx, rx) = tokio::sync::oneshot::channel();
        // The answer is handed over by another task, as a connection's driver task does, due
        // just after the call's deadline: during the pause, both are due, the timeout first.
        tokio::spawn(async move {
            tokio::time::sleep_until(started + LIMIT + Duration::from_millis(1)).await;
            let _ = tx.send("answer");
        });
        pause_runtime(LIMIT * 3);
        assert_eq!(within(LIMIT, rx).await.map(Result::unwrap), Ok("answer"));
    }

    #[tokio::test]
    async fn a_call_that_never_answers_times_out_after_its_bound() {
        let started = std::time::Instant::now();
        assert_eq!(within(LIMIT, std::future::pending::<()>()).await, Err(Elapsed));
        let waited = started.elapsed();
        assert!(waited >= LIMIT, "{waited:?}");
        // Generous: a loaded machine fires timers late, but not by the bound again.
        assert!(waited < LIMIT * (EXTENSIONS as u32 + 1) * 4, "{waited:?}");
    }

    #[tokio::test]
    async fn pauses_extend_a_call_a_few_times_only() {
        let started = std::time::Instant::now();
        let work = async {
            // A pause at every deadline: the bound is given again at most `EXTENSIONS` times.
            loop {
                pause_runtime(LIMIT * 2);
                tokio::time::sleep(LIMIT).await;
            }
        };
        assert_eq!(within(LIMIT, work).await, Err(Elapsed));
        assert!(started.elapsed() < LIMIT * 30, "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn an_answer_within_the_bound_is_returned() {
        assert_eq!(within(LIMIT, async { 7 }).await, Ok(7));
    }
}
