//! In-process wake-ups: an append rings, subscriptions waiting for new events wake. A wake-up is only
//! a hint that the log may have grown; subscriptions also poll, so a lost one delays but never loses.

use std::sync::Arc;

use tokio::sync::watch;

#[derive(Clone)]
pub(crate) struct Wakeup {
    sender: Arc<watch::Sender<u64>>,
}

impl Wakeup {
    pub(crate) fn new() -> Self {
        Self {
            sender: Arc::new(watch::Sender::new(0)),
        }
    }

    pub(crate) fn ring(&self) {
        self.sender.send_modify(|rings| *rings = rings.wrapping_add(1));
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.sender.subscribe()
    }
}
