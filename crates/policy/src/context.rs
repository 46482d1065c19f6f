//! The request context: condition keys and their values, as a policy's conditions see them.
//!
//! Key names are case-insensitive (tag-key suffixes included), so keys are stored lowercased.
//! A value's typed forms (IP address, number, date) are parsed at most once per request, on
//! first use, and cached beside the text.

use rustc_hash::FxHashMap as HashMap;
use std::net::IpAddr;
use std::sync::OnceLock;

use crate::condition::values::{parse_binary, parse_date, parse_number};

/// One value of a context key.
#[derive(Debug)]
pub struct ContextValue {
    text: Box<str>,
    ip: OnceLock<Option<IpAddr>>,
    number: OnceLock<Option<f64>>,
    date: OnceLock<Option<i128>>,
    binary: OnceLock<Option<Vec<u8>>>,
}

impl ContextValue {
    fn new(text: impl Into<Box<str>>) -> ContextValue {
        ContextValue {
            text: text.into(),
            ip: OnceLock::new(),
            number: OnceLock::new(),
            date: OnceLock::new(),
            binary: OnceLock::new(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub(crate) fn ip(&self) -> Option<IpAddr> {
        *self.ip.get_or_init(|| self.text.parse().ok())
    }

    pub(crate) fn number(&self) -> Option<f64> {
        *self.number.get_or_init(|| parse_number(&self.text))
    }

    /// Nanoseconds since the Unix epoch.
    pub(crate) fn date(&self) -> Option<i128> {
        *self.date.get_or_init(|| parse_date(&self.text))
    }

    /// The bytes of a base64 value.
    pub(crate) fn binary(&self) -> Option<&[u8]> {
        self.binary
            .get_or_init(|| parse_binary(&self.text))
            .as_deref()
    }
}

impl Clone for ContextValue {
    fn clone(&self) -> Self {
        ContextValue::new(self.text.clone())
    }
}

/// The values of one key.
#[derive(Debug, Clone)]
pub struct ContextEntry {
    values: Vec<ContextValue>,
    multivalued: bool,
}

impl ContextEntry {
    pub fn values(&self) -> &[ContextValue] {
        &self.values
    }

    /// Whether the key was given as a list (a multivalued key such as `aws:TagKeys`).
    pub fn is_multivalued(&self) -> bool {
        self.multivalued
    }
}

/// Condition keys of one request.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    entries: HashMap<Box<str>, ContextEntry>,
}

impl RequestContext {
    pub fn new() -> RequestContext {
        RequestContext::default()
    }

    /// Sets a single-valued key, replacing any earlier value.
    pub fn insert(&mut self, key: &str, value: impl Into<Box<str>>) {
        self.entries.insert(
            key.to_lowercase().into(),
            ContextEntry {
                values: vec![ContextValue::new(value)],
                multivalued: false,
            },
        );
    }

    /// Sets a multivalued key, replacing any earlier value.
    pub fn insert_multi<I, S>(&mut self, key: &str, values: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<Box<str>>,
    {
        self.entries.insert(
            key.to_lowercase().into(),
            ContextEntry {
                values: values.into_iter().map(ContextValue::new).collect(),
                multivalued: true,
            },
        );
    }

    /// Sets a single-valued key unless the key is already present.
    pub fn insert_default(&mut self, key: &str, value: impl Into<Box<str>>) {
        if !self.contains(key) {
            self.insert(key, value);
        }
    }

    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The entry for `key` (any case).
    pub fn get(&self, key: &str) -> Option<&ContextEntry> {
        if key.bytes().any(|b| b.is_ascii_uppercase()) || !key.is_ascii() {
            self.entries.get(key.to_lowercase().as_str())
        } else {
            self.entries.get(key)
        }
    }

    /// The value of a key that has exactly one value and was not given as a list: what a
    /// policy variable may take. `key` must already be lowercase.
    pub(crate) fn single_value(&self, key: &str) -> Option<&str> {
        let entry = self.entries.get(key)?;
        match (&entry.values[..], entry.multivalued) {
            ([only], false) => Some(only.as_str()),
            _ => None,
        }
    }

    /// The entry for an already-lowercased key.
    pub(crate) fn get_lowercase(&self, key: &str) -> Option<&ContextEntry> {
        self.entries.get(key)
    }

    /// The keys and their values, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ContextEntry)> {
        self.entries.iter().map(|(k, v)| (&**k, v))
    }
}
