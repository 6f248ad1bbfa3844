//! "Latest request wins" for a QObject that starts work in the background (a folder listing,
//! a search, a preview): each request takes a [`Ticket`] and cancels the one before, and an
//! answer is applied only while its ticket is still the newest.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

/// Something that tells running work to stop.
pub trait Cancel: Clone + Default {
    fn cancel(&self);
}

impl Cancel for CancellationToken {
    fn cancel(&self) {
        CancellationToken::cancel(self);
    }
}

/// The flag the core's blocking work (indexing, searching) checks.
impl Cancel for Arc<AtomicBool> {
    fn cancel(&self) {
        self.store(true, Ordering::Relaxed);
    }
}

/// Which request an answer belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

/// The newest request of one kind, and how to cancel it while it runs.
#[derive(Default)]
pub struct Latest<C: Cancel = CancellationToken> {
    newest: u64,
    in_flight: Option<C>,
}

impl<C: Cancel> Latest<C> {
    /// A new request: the one before is cancelled, and its answers will be dropped.
    pub fn start(&mut self) -> (Ticket, C) {
        self.stop();
        let cancel = C::default();
        self.in_flight = Some(cancel.clone());
        (Ticket(self.newest), cancel)
    }

    /// A new request with nothing to cancel while it runs (answers of older ones dropped).
    pub fn next(&mut self) -> Ticket {
        self.stop();
        Ticket(self.newest)
    }

    /// Cancels what is in flight; no answer given so far will be applied.
    pub fn stop(&mut self) {
        if let Some(running) = self.in_flight.take() {
            running.cancel();
        }
        self.newest += 1;
    }

    /// Asks the running request to stop; its answer is still applied (to say it stopped).
    pub fn cancel(&self) {
        if let Some(running) = &self.in_flight {
            running.cancel();
        }
    }

    /// Whether an answer with `ticket` is still wanted.
    pub fn is_current(&self, ticket: Ticket) -> bool {
        self.newest == ticket.0
    }

    /// The request with `ticket` has ended: its cancel handle is let go. Returns whether it
    /// was the newest (so its answer is to be applied).
    pub fn finish(&mut self, ticket: Ticket) -> bool {
        let current = self.is_current(ticket);
        if current {
            self.in_flight = None;
        }
        current
    }

    /// Whether a request is running.
    pub fn running(&self) -> bool {
        self.in_flight.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_newest_request_is_answered_and_older_ones_are_cancelled() {
        let mut latest: Latest = Latest::default();
        let (first, first_cancel) = latest.start();
        let (second, second_cancel) = latest.start();
        assert!(first_cancel.is_cancelled());
        assert!(!second_cancel.is_cancelled());
        assert!(!latest.is_current(first));
        assert!(!latest.finish(first));
        assert!(
            latest.running(),
            "the old answer leaves the new request running"
        );
        assert!(latest.finish(second));
        assert!(!latest.running());
        let third = latest.next();
        latest.stop();
        assert!(!latest.is_current(third));
    }

    #[test]
    fn a_core_flag_is_set_when_its_request_is_superseded() {
        let mut latest: Latest<Arc<AtomicBool>> = Latest::default();
        let (_, flag) = latest.start();
        latest.stop();
        assert!(flag.load(Ordering::Relaxed));
    }
}
