//! The connections of one manager: one per destination, shared by every daemon and operation
//! there, made on first use and made again once dead. Connections to different hosts are made
//! concurrently; two callers for one host share one attempt.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::connection::{Connection, Settings};
use super::{Destination, RemoteError};

type Slot = Arc<tokio::sync::Mutex<Option<Arc<Connection>>>>;

/// The manager's connections.
#[derive(Debug)]
pub(crate) struct Hosts {
    settings: Settings,
    slots: Mutex<HashMap<Destination, Slot>>,
}

impl Hosts {
    pub(crate) fn new(settings: Settings) -> Hosts {
        Hosts {
            settings,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The connection to `destination`: the live one, or a new one.
    pub(crate) async fn get(
        &self,
        destination: &Destination,
    ) -> Result<Arc<Connection>, RemoteError> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots.entry(destination.clone()).or_default().clone()
        };
        let mut slot = slot.lock().await;
        if let Some(connection) = slot.as_ref().filter(|c| c.is_open()) {
            return Ok(connection.clone());
        }
        // A dead connection goes (its master, its control socket) before the new one comes.
        *slot = None;
        let connection = Arc::new(Connection::open(destination, &self.settings).await?);
        *slot = Some(connection.clone());
        Ok(connection)
    }
}
