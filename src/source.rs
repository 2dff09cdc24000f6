//! Counters a packet source keeps about itself, read at scrape time.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct SourceStats {
    damaged_records: AtomicU64,
}

impl SourceStats {
    pub fn add_damaged_record(&self) {
        self.damaged_records.fetch_add(1, Ordering::Relaxed);
    }

    pub fn damaged_records(&self) -> u64 {
        self.damaged_records.load(Ordering::Relaxed)
    }
}
