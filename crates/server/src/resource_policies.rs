//! Resource policies handed over by services (a bucket policy with every request), compiled
//! once: the same text is served from a bounded cache of compiled `PolicySet`s, so a busy
//! bucket's policy is parsed once, not on every authorization.

use std::sync::{Arc, Mutex};

use portcullis_policy::{PolicyKind, PolicySet, parse_policy};
use rustc_hash::FxHashMap;

/// The most policies kept; when full, the cache starts over (cheap, and bounded whatever the
/// services send).
const CAPACITY: usize = 4096;
/// The label a given resource policy's statements are reported under.
pub const LABEL: &str = "resource policy";

/// Compiled resource policies by their exact text.
#[derive(Default)]
pub struct ResourcePolicies {
    compiled: Mutex<FxHashMap<Arc<str>, Arc<PolicySet>>>,
}

impl ResourcePolicies {
    /// `text` compiled as a resource policy, or the parser's first message. Only valid
    /// policies are kept.
    pub fn compile(&self, text: &str) -> Result<Arc<PolicySet>, String> {
        if let Some(set) = self.compiled.lock().ok().and_then(|m| m.get(text).cloned()) {
            return Ok(set);
        }
        let policy = parse_policy(text, PolicyKind::Resource).map_err(|e| e.first_message())?;
        let set = Arc::new(PolicySet::single(LABEL, policy));
        if let Ok(mut map) = self.compiled.lock() {
            if map.len() >= CAPACITY {
                map.clear();
            }
            map.insert(text.into(), set.clone());
        }
        Ok(set)
    }
}
