//! Cancelling a capability call at each of its await points in turn, for
//! the conformance checks that a call dropped half-way (a request past its
//! deadline, a client that went away) leaves its store usable.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

/// How long a store may take to answer after a cancelled call. A lock a
/// cancelled transaction kept fails the check sooner (SQLite gives up after
/// its 5 s busy time-out); a connection left waiting forever fails it here.
pub(crate) const USABLE_WITHIN: Duration = Duration::from_secs(15);

/// Runs `future` until it has waited `waits` times, and drops it at its
/// next wait; its output if it finished first.
async fn run_for<F: Future>(future: F, waits: usize) -> Option<F::Output> {
    let mut future = pin!(future);
    let mut left = waits;
    poll_fn(move |cx| match future.as_mut().poll(cx) {
        Poll::Ready(output) => Poll::Ready(Some(output)),
        Poll::Pending if left == 0 => Poll::Ready(None),
        Poll::Pending => {
            left -= 1;
            Poll::Pending
        }
    })
    .await
}

/// Runs the call `make` returns, dropped at its first await point, then at
/// its second, and so on until a run completes; after every run `check`
/// must find the store usable within [`USABLE_WITHIN`]. Returns how many
/// await points the call had.
pub(crate) async fn cancel_at_every_await<Fut: Future>(
    mut make: impl FnMut(usize) -> Fut,
    mut check: impl AsyncFnMut(usize),
) -> usize {
    for waits in 0..10_000 {
        let finished = run_for(make(waits), waits).await.is_some();
        let checked = tokio::time::timeout(USABLE_WITHIN, check(waits)).await;
        assert!(
            checked.is_ok(),
            "after a call cancelled at its await point {waits}, the store did not answer within {USABLE_WITHIN:?}"
        );
        if finished {
            return waits;
        }
    }
    panic!("the call never finished");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_await_point_is_visited_once_and_then_the_call_finishes() {
        let mut cancelled_after = Vec::new();
        let steps = std::sync::Mutex::new(Vec::new());
        let points = cancel_at_every_await(
            |run| {
                let steps = &steps;
                async move {
                    for step in 0..3 {
                        steps.lock().unwrap().push((run, step));
                        tokio::task::yield_now().await;
                    }
                }
            },
            async |run| cancelled_after.push(run),
        )
        .await;
        assert_eq!(points, 3);
        assert_eq!(cancelled_after, [0, 1, 2, 3]);
        // Run n got as far as step n.
        let reached: Vec<usize> = (0..4)
            .map(|run| {
                steps
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|(r, _)| *r == run)
                    .count()
            })
            .collect();
        assert_eq!(reached, [1, 2, 3, 3]);
    }
}
