//! The stories on the embedded store, in memory.

use super::*;
use crate::store::embedded::Embedded;

/// In-memory databases: nothing to clean up.
struct Scratch {
    stores: Stores,
}

impl Scratch {
    async fn finish(self) {}
}

async fn scratch(_story: &str) -> Option<Scratch> {
    Some(Scratch {
        stores: Embedded::in_memory().unwrap().stores(),
    })
}

all_stories!();
