//! The remote driver of a build without the `ssh` feature: the same seams, and every
//! connection refused with [`RemoteError::Disabled`]. Specs that resolve to another host still
//! compile and plan; starting one says what to enable.

pub(crate) mod connection {
    use std::time::Duration;

    use tokio::sync::oneshot;

    use crate::remote::{Destination, RemoteError};

    pub(crate) use crate::remote::settings::Settings;

    /// A forward that is never made.
    #[derive(Debug)]
    pub(crate) struct Forward {
        pub(crate) local: u16,
    }

    impl Drop for Forward {
        /// Nothing to cancel.
        fn drop(&mut self) {}
    }

    /// A connection that is never made.
    #[derive(Debug)]
    pub(crate) struct Connection {
        shown: String,
        pub(crate) boot_id: String,
        pub(crate) state_dir: String,
    }

    impl Connection {
        pub(crate) async fn open(
            d: &Destination,
            _settings: &Settings,
        ) -> Result<Connection, RemoteError> {
            Err(RemoteError::Disabled {
                destination: d.to_string(),
            })
        }

        fn disabled(&self) -> RemoteError {
            RemoteError::Disabled {
                destination: self.shown.clone(),
            }
        }

        pub(crate) fn shown(&self) -> &str {
            &self.shown
        }

        pub(crate) fn is_open(&self) -> bool {
            false
        }

        pub(crate) fn request_id(&self) -> u64 {
            0
        }

        pub(crate) fn watch_exit(&self, _id: u64) -> oneshot::Receiver<i32> {
            oneshot::channel().1
        }

        pub(crate) async fn forward(
            &self,
            _host: &str,
            _port: u16,
        ) -> Result<Forward, RemoteError> {
            Err(self.disabled())
        }

        pub(crate) async fn call(
            &self,
            _op: &str,
            _fields: &[String],
            _bound: Duration,
        ) -> Result<String, RemoteError> {
            Err(self.disabled())
        }

        pub(crate) async fn send_as(
            &self,
            _id: u64,
            _op: &str,
            _fields: &[String],
        ) -> Result<(), RemoteError> {
            Err(self.disabled())
        }

        pub(crate) async fn call_as(
            &self,
            _id: u64,
            _op: &str,
            _fields: &[String],
            _bound: Duration,
        ) -> Result<String, RemoteError> {
            Err(self.disabled())
        }
    }
}

pub(crate) mod install {
    use crate::remote::RemoteError;
    use crate::remote::connection::Connection;

    /// What an install did.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) enum Installed {}

    pub(crate) async fn install(
        c: &Connection,
        _local: &str,
        _target: &str,
    ) -> Result<Installed, RemoteError> {
        Err(RemoteError::Disabled {
            destination: c.shown().to_owned(),
        })
    }
}
