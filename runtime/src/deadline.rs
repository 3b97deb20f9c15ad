//! A timeout that reads the clock only when the work has to wait.
//!
//! Most of the hub's timed work (a call into a plugin, a write to a
//! client) is done in its first poll; `tokio::time::timeout` reads the
//! clock and arms a timer for each all the same, which showed in profiles
//! of the request path. Here the deadline counts from the first poll that
//! has to wait: the time spent in that first poll comes on top. A guest's
//! first poll ends at an epoch tick at the latest, and a write's when the
//! socket takes no more.

use std::task::Poll;
use std::time::Duration;

/// `work`'s output, or `None` once `limit` has passed since it first waited.
pub async fn within<F: Future>(limit: Duration, work: F) -> Option<F::Output> {
    let mut work = std::pin::pin!(work);
    let mut timer = None;
    std::future::poll_fn(|cx| {
        if let Poll::Ready(output) = work.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        let timer = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        timer.as_mut().poll(cx).map(|()| None)
    })
    .await
}

/// As [`within`]; without a limit, `work` runs to its end.
pub async fn within_deadline<F: Future>(limit: Option<Duration>, work: F) -> Option<F::Output> {
    match limit {
        Some(limit) => within(limit, work).await,
        None => Some(work.await),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_done_in_time_gives_its_output_and_waiting_work_is_cut_off() {
        let limit = Duration::from_millis(50);
        assert_eq!(within(limit, async { 7 }).await, Some(7));
        let started = std::time::Instant::now();
        assert_eq!(within(limit, std::future::pending::<()>()).await, None);
        assert!(started.elapsed() >= limit);
        let quick = tokio::time::sleep(Duration::from_millis(5));
        assert_eq!(within(limit, quick).await, Some(()));
        assert_eq!(within_deadline(None, async { 8 }).await, Some(8));
    }
}
