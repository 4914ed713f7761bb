//! Reads started early on another thread and taken once later in the same process: what a run
//! needs from `.git` (the history cache, the tags) is read while discovery waits for `git
//! ls-files`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::thread::JoinHandle;

/// One read in flight, for the path it was started for.
pub(crate) struct Prefetch<T>(Mutex<Option<(PathBuf, JoinHandle<Option<T>>)>>);

impl<T: Send + 'static> Prefetch<T> {
    pub(crate) const fn new() -> Self {
        Self(Mutex::new(None))
    }

    /// Starts `read` for `path` on another thread, in place of any read not yet taken.
    pub(crate) fn start(
        &self,
        path: PathBuf,
        read: impl FnOnce(&Path) -> Option<T> + Send + 'static,
    ) {
        let reading = {
            let path = path.clone();
            std::thread::spawn(move || read(&path))
        };
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some((path, reading));
        }
    }

    /// What the read started for `path` found, waiting for it; `None` when none was started for
    /// it, or it found nothing: the caller reads for itself.
    pub(crate) fn take(&self, path: &Path) -> Option<T> {
        let (_, reading) = self
            .0
            .lock()
            .ok()
            .and_then(|mut slot| slot.take())
            .filter(|(p, _)| p == path)?;
        reading.join().ok().flatten()
    }
}
