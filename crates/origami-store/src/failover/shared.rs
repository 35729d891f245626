//! [`Inner`]: the state a failover store's clones, its read and write paths and its background
//! worker share.

use std::sync::Arc;

use super::attempt::Region;
use super::config::FailoverConfig;
use super::queue::RepairQueue;
use super::read::{ReadState, Reader};
use super::tombstones::Tombstones;
use super::write::Writer;

/// A failover store's state.
pub(super) struct Inner {
    /// The store's name: the regions' names joined with `+`.
    pub(super) name: String,
    /// The regions, in configuration order.
    pub(super) regions: Vec<Region>,
    pub(super) config: FailoverConfig,
    pub(super) reads: ReadState,
    pub(super) repair: Arc<RepairQueue>,
    /// Whether originals were deleted, as the regions' tombstones say.
    pub(super) tombstones: Tombstones,
}

impl Inner {
    /// The read path over these regions.
    pub(super) fn reader(&self) -> Reader<'_> {
        Reader {
            regions: &self.regions,
            config: &self.config,
            state: &self.reads,
            repair: &self.repair,
        }
    }

    /// The write path over these regions.
    pub(super) fn writer(&self) -> Writer<'_> {
        Writer {
            regions: &self.regions,
            config: &self.config,
            repair: &self.repair,
        }
    }
}
