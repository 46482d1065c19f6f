//! Bounds on guessing credentials: failed MFA codes lock a device for a while, and password
//! verifications (ChangePassword's `OldPassword`) are rate limited per user.
//!
//! On one node both live in memory, in the [`crate::IamService`] (lost at restart). On a
//! store shared by several nodes ([`crate::store::Cluster`]) the counts live in the store,
//! each change one atomic statement, so guesses spread over the nodes count as on one: a
//! device locks after the bound whichever nodes saw the wrong codes, and a user's password
//! verifications per minute are the cluster's. (Attempts in flight are still counted per
//! node, so concurrent guesses may pass the bound by those in flight on other nodes at the
//! moment of locking.) When the store cannot be asked, the guess is refused.
//!
//! - MFA: after [`MFA_MAX_FAILURES`] consecutive wrong codes a device is locked for
//!   [`MFA_LOCKOUT`]; while locked every code is refused with the same error as a wrong code
//!   (the lock is not an oracle). Attempts in flight count against the bound, so concurrent
//!   guesses cannot exceed it. A right code resets the count.
//! - Passwords: at most [`PASSWORD_CHECKS_PER_MINUTE`] verifications per user per minute
//!   (a fixed window); beyond it the call is refused without hashing (`Throttling`).
//!
//! The maps hold only devices with recent failures and users with recent checks, so the
//! entities that exist bound them; past [`MAX_TRACKED`] entries, idle ones are dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::{IamError, IamResult};
use crate::store::Store;

/// Consecutive wrong codes that lock an MFA device.
pub const MFA_MAX_FAILURES: u32 = 10;
/// How long a locked MFA device refuses every code.
pub const MFA_LOCKOUT: Duration = Duration::from_secs(15 * 60);
/// Password verifications allowed per user per minute.
pub const PASSWORD_CHECKS_PER_MINUTE: u32 = 5;
/// The window of [`PASSWORD_CHECKS_PER_MINUTE`].
const PASSWORD_WINDOW: Duration = Duration::from_secs(60);
/// Entries kept before idle ones are dropped.
pub const MAX_TRACKED: usize = 100_000;

/// (account id, device key or lowercased user name).
type Key = (String, String);

#[derive(Debug, Default)]
struct MfaEntry {
    /// Consecutive wrong codes since the last success or lock expiry.
    failures: u32,
    /// Attempts being checked now.
    pending: u32,
    locked_until: Option<Instant>,
}

impl MfaEntry {
    fn idle(&self) -> bool {
        self.pending == 0 && self.locked_until.is_none()
    }
}

#[derive(Debug)]
struct PasswordWindow {
    started: Instant,
    checks: u32,
}

/// The counters, with their bounds.
pub struct Attempts {
    mfa_max_failures: u32,
    mfa_lockout: Duration,
    password_checks_per_minute: u32,
    mfa: Mutex<HashMap<Key, MfaEntry>>,
    passwords: Mutex<HashMap<Key, PasswordWindow>>,
    /// The store the nodes share, which keeps the counts (`None`: this process keeps them).
    shared: Option<Arc<dyn Store>>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Attempts {
    pub fn new(
        mfa_max_failures: u32,
        mfa_lockout: Duration,
        password_checks_per_minute: u32,
    ) -> Attempts {
        Attempts {
            mfa_max_failures: mfa_max_failures.max(1),
            mfa_lockout,
            password_checks_per_minute,
            mfa: Mutex::new(HashMap::new()),
            passwords: Mutex::new(HashMap::new()),
            shared: None,
        }
    }

    /// Keeps the counts in `store` when it is shared by several nodes.
    pub fn shared_by(mut self, store: Arc<dyn Store>) -> Attempts {
        if store.cluster().is_some() {
            self.shared = Some(store);
        }
        self
    }

    fn cluster(&self) -> Option<&dyn crate::store::Cluster> {
        self.shared.as_deref().and_then(|s| s.cluster())
    }

    /// Starts checking a code of device `device_key` of `account_id`; `None` when the device
    /// is locked (or as many attempts as may still fail are already in flight).
    pub fn mfa_begin(&self, account_id: &str, device_key: &str) -> Option<MfaAttempt<'_>> {
        let key = (account_id.to_owned(), device_key.to_owned());
        // The cluster's count of wrong codes (this process's when not shared).
        let shared_failures = match self.cluster() {
            Some(cluster) => match cluster.mfa_state(
                &format!("{account_id}/{device_key}"),
                now_ms(),
                self.mfa_max_failures,
                millis(self.mfa_lockout),
            ) {
                Ok((_, true)) => return None,
                Ok((failures, false)) => failures,
                Err(e) => {
                    tracing::error!(error = %e, "the shared MFA count could not be read");
                    return None;
                }
            },
            None => 0,
        };
        let now = Instant::now();
        let mut map = lock(&self.mfa);
        if !map.contains_key(&key) && map.len() >= MAX_TRACKED {
            map.retain(|_, e| !e.idle() || e.locked_until.is_some_and(|u| u > now));
        }
        let entry = map.entry(key.clone()).or_default();
        if let Some(until) = entry.locked_until {
            if now < until {
                return None;
            }
            entry.locked_until = None;
            entry.failures = 0;
        }
        if entry
            .failures
            .saturating_add(shared_failures)
            .saturating_add(entry.pending)
            >= self.mfa_max_failures
        {
            return None;
        }
        entry.pending += 1;
        Some(MfaAttempt {
            attempts: self,
            key,
            done: false,
        })
    }

    fn mfa_finish(&self, key: &Key, failed: bool) {
        if let Some(cluster) = self.cluster() {
            let counted = cluster.mfa_result(
                &format!("{}/{}", key.0, key.1),
                failed,
                now_ms(),
                self.mfa_max_failures,
                millis(self.mfa_lockout),
            );
            if let Err(e) = counted {
                tracing::error!(error = %e, "a wrong MFA code could not be counted");
            }
            let mut map = lock(&self.mfa);
            if let Some(entry) = map.get_mut(key) {
                entry.pending = entry.pending.saturating_sub(1);
                if entry.failures == 0 && entry.idle() {
                    map.remove(key);
                }
            }
            return;
        }
        let mut map = lock(&self.mfa);
        let Some(entry) = map.get_mut(key) else {
            return;
        };
        entry.pending = entry.pending.saturating_sub(1);
        if failed {
            entry.failures = entry.failures.saturating_add(1);
            if entry.failures >= self.mfa_max_failures {
                entry.locked_until = Some(Instant::now() + self.mfa_lockout);
            }
        } else {
            entry.failures = 0;
        }
        if entry.failures == 0 && entry.idle() {
            map.remove(key);
        }
    }

    /// Counts one password verification of user `user_name` of `account_id`; `Throttling`
    /// (without counting) when the user has had its share this minute.
    pub fn password_check(&self, account_id: &str, user_name: &str) -> IamResult<()> {
        if let Some(cluster) = self.cluster() {
            let user = format!("{account_id}/{}", user_name.to_lowercase());
            let checks = cluster
                .password_check(&user, now_ms(), millis(PASSWORD_WINDOW))
                .map_err(|e| {
                    tracing::error!(error = %e, "a password verification could not be counted");
                    IamError::ServiceFailure("The request could not be processed.".into())
                })?;
            if checks > self.password_checks_per_minute {
                return Err(IamError::Throttling("Rate exceeded".into()));
            }
            return Ok(());
        }
        let key = (account_id.to_owned(), user_name.to_lowercase());
        let now = Instant::now();
        let mut map = lock(&self.passwords);
        if !map.contains_key(&key) && map.len() >= MAX_TRACKED {
            map.retain(|_, w| now.duration_since(w.started) < PASSWORD_WINDOW);
        }
        let window = map.entry(key).or_insert(PasswordWindow {
            started: now,
            checks: 0,
        });
        if now.duration_since(window.started) >= PASSWORD_WINDOW {
            window.started = now;
            window.checks = 0;
        }
        if window.checks >= self.password_checks_per_minute {
            return Err(IamError::Throttling("Rate exceeded".into()));
        }
        window.checks += 1;
        Ok(())
    }
}

/// One MFA code being checked: say how it went with [`MfaAttempt::failed`] or
/// [`MfaAttempt::succeeded`]; dropped without either, it counts as neither (the check never
/// reached the code: a malformed request, a missing device).
pub struct MfaAttempt<'a> {
    attempts: &'a Attempts,
    key: Key,
    done: bool,
}

impl MfaAttempt<'_> {
    /// The code was wrong.
    pub fn failed(mut self) {
        self.done = true;
        self.attempts.mfa_finish(&self.key, true);
    }

    /// The code was right.
    pub fn succeeded(mut self) {
        self.done = true;
        self.attempts.mfa_finish(&self.key, false);
    }
}

impl Drop for MfaAttempt<'_> {
    fn drop(&mut self) {
        if !self.done {
            let mut map = lock(&self.attempts.mfa);
            if let Some(entry) = map.get_mut(&self.key) {
                entry.pending = entry.pending.saturating_sub(1);
                if entry.failures == 0 && entry.idle() {
                    map.remove(&self.key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_locks_after_the_bound_and_unlocks_after_the_window() {
        let a = Attempts::new(3, Duration::from_millis(50), 5);
        for _ in 0..3 {
            a.mfa_begin("1", "d").expect("not locked yet").failed();
        }
        assert!(a.mfa_begin("1", "d").is_none(), "locked");
        assert!(a.mfa_begin("1", "other").is_some(), "per device");
        std::thread::sleep(Duration::from_millis(60));
        let attempt = a.mfa_begin("1", "d").expect("the lock expired");
        attempt.succeeded();
        assert!(lock(&a.mfa).is_empty(), "a success leaves nothing behind");
    }

    #[test]
    fn attempts_in_flight_count_against_the_bound() {
        let a = Attempts::new(2, MFA_LOCKOUT, 5);
        let first = a.mfa_begin("1", "d").unwrap();
        let second = a.mfa_begin("1", "d").unwrap();
        assert!(a.mfa_begin("1", "d").is_none());
        drop(first);
        second.failed();
        let third = a.mfa_begin("1", "d").unwrap();
        third.failed();
        assert!(a.mfa_begin("1", "d").is_none(), "two failures lock it");
    }

    #[test]
    fn a_success_resets_the_count() {
        let a = Attempts::new(2, MFA_LOCKOUT, 5);
        a.mfa_begin("1", "d").unwrap().failed();
        a.mfa_begin("1", "d").unwrap().succeeded();
        a.mfa_begin("1", "d").unwrap().failed();
        assert!(
            a.mfa_begin("1", "d").is_some(),
            "one failure since the success"
        );
    }

    #[test]
    fn password_checks_are_limited_per_user() {
        let a = Attempts::new(10, MFA_LOCKOUT, 2);
        assert!(a.password_check("1", "Alice").is_ok());
        assert!(a.password_check("1", "alice").is_ok());
        assert_eq!(
            a.password_check("1", "ALICE").unwrap_err().code(),
            "Throttling"
        );
        assert!(a.password_check("1", "bob").is_ok());
        assert!(a.password_check("2", "alice").is_ok());
    }
}
