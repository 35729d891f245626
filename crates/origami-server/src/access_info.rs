//! [`AccessInfo`]: what a handler tells the access log about its response.

use std::sync::Arc;

/// What a handler tells the access log about a response (a response extension, read by the
/// access-log middleware).
#[derive(Debug, Clone, Default)]
pub struct AccessInfo {
    /// The region that served the original, or `cache` / `derived`.
    pub region: Option<Arc<str>>,
    /// The result cache's outcome: `hit`, `miss`, `coalesced` or `derived`.
    pub cache: Option<&'static str>,
}
