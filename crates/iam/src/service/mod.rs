//! [`IamService`]: the state, its snapshots, and the one write path.
//!
//! Reads (including every authorization decision) take the current [`Snapshot`], an immutable
//! `Arc`, and never wait. Writes are serialized: the writer clones the state (cheap: the maps
//! are persistent), changes the clone, commits the touched rows to the store in one
//! transaction, and only then publishes the clone. A failed commit publishes nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use portcullis_policy::{LabeledPolicy, PolicySet};

use crate::attempts::Attempts;
use crate::aws_managed::aws_managed;
use crate::error::{IamError, IamResult};
use crate::model::{
    AccessKey, AccessKeyLastUsed, AccountSettings, KeyStatus, ManagedPolicy, PolicyDocument,
    RoleLastUsed, Secret, now_timestamp,
};
use crate::seal::MasterKey;
use crate::session::{SessionClaims, TokenError};
use crate::state::{AccountState, IamState, Limits, Touched};
use crate::store::{CatchUp, Change, Store, StoreError, Table};
use crate::trail::{Trail, TrailConfig};

mod access;
mod unit;

pub use access::{AccessJob, JOB_LIFETIME_SECONDS};
use unit::WriterLock;
pub use unit::{Durability, Recorded, Unit, not_stored};

/// The compiled policies of one principal, as the engine takes them.
#[derive(Debug)]
pub struct PrincipalPolicies {
    pub identity: PolicySet,
    pub boundary: Option<PolicySet>,
}

/// One published state, with the principals' compiled policies cached for its lifetime.
pub struct Snapshot {
    pub state: IamState,
    compiled: Mutex<HashMap<(String, String), Arc<PrincipalPolicies>>>,
    sessions: Mutex<HashMap<String, Arc<PolicySet>>>,
    trust: Mutex<HashMap<(String, String), Arc<PolicySet>>>,
}

impl Snapshot {
    fn new(state: IamState) -> Snapshot {
        Snapshot {
            state,
            compiled: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
            trust: Mutex::new(HashMap::new()),
        }
    }

    /// A managed policy by ARN: the account's own, or an AWS managed one.
    pub fn managed_policy<'a>(
        &'a self,
        account: &'a AccountState,
        arn: &str,
    ) -> Option<&'a ManagedPolicy> {
        account.policies.get(arn).or_else(|| aws_managed(arn))
    }

    /// The compiled identity policies and boundary of a user (its own and its groups').
    pub fn user_policies(
        &self,
        account_id: &str,
        user_name: &str,
    ) -> Option<Arc<PrincipalPolicies>> {
        let key = (
            account_id.to_owned(),
            format!("user/{}", user_name.to_lowercase()),
        );
        if let Some(hit) = self.cached(&key) {
            return Some(hit);
        }
        let account = self.state.accounts.get(account_id)?;
        let user = account.users.get(&user_name.to_lowercase())?;
        let mut policies = Vec::new();
        for (name, doc) in &user.inline_policies {
            policies.push(labeled(format!("user/{}:{name}", user.name), doc));
        }
        for arn in &user.attached_policies {
            self.push_managed(account, arn, &mut policies);
        }
        for group_name in &user.groups {
            if let Some(group) = account.groups.get(&group_name.to_lowercase()) {
                for (name, doc) in &group.inline_policies {
                    policies.push(labeled(format!("group/{}:{name}", group.name), doc));
                }
                for arn in &group.attached_policies {
                    self.push_managed(account, arn, &mut policies);
                }
            }
        }
        let boundary = self.boundary(account, user.permissions_boundary.as_deref());
        Some(self.remember(key, policies, boundary))
    }

    /// The identity policy of a federation session the root user made: the root user's full
    /// access (`Allow * on *`, labelled as the root user's), for its session policy to limit.
    pub fn root_policies(&self, account_id: &str) -> Arc<PrincipalPolicies> {
        let key = (account_id.to_owned(), "root".to_owned());
        if let Some(hit) = self.cached(&key) {
            return hit;
        }
        let mut policies = Vec::new();
        if let Ok(policy) = portcullis_policy::Policy::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        ) {
            policies.push(LabeledPolicy {
                label: format!("arn:aws:iam::{account_id}:root (the root user's access)"),
                policy,
            });
        }
        self.remember(key, policies, None)
    }

    /// The compiled identity policies and boundary of a role, as its sessions are authorized
    /// (a session policy, when a session has one, is the caller's to add).
    pub fn role_policies(
        &self,
        account_id: &str,
        role_name: &str,
    ) -> Option<Arc<PrincipalPolicies>> {
        let key = (
            account_id.to_owned(),
            format!("role/{}", role_name.to_lowercase()),
        );
        if let Some(hit) = self.cached(&key) {
            return Some(hit);
        }
        let account = self.state.accounts.get(account_id)?;
        let role = account.roles.get(&role_name.to_lowercase())?;
        let mut policies = Vec::new();
        for (name, doc) in &role.inline_policies {
            policies.push(labeled(format!("role/{}:{name}", role.name), doc));
        }
        for arn in &role.attached_policies {
            self.push_managed(account, arn, &mut policies);
        }
        let boundary = self.boundary(account, role.permissions_boundary.as_deref());
        Some(self.remember(key, policies, boundary))
    }

    /// A role's trust policy, compiled once per snapshot (labelled `ROLE_ARN trust policy`).
    pub fn trust_policy(&self, account_id: &str, role_name: &str) -> Option<Arc<PolicySet>> {
        let key = (account_id.to_owned(), role_name.to_lowercase());
        if let Some(hit) = self.trust.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Some(hit);
        }
        let role = self.state.accounts.get(account_id)?.roles.get(&key.1)?;
        let arn = format!("arn:aws:iam::{account_id}:role{}{}", role.path, role.name);
        let set = Arc::new(PolicySet::single(
            format!("{arn} trust policy"),
            (*role.assume_role_policy.parsed).clone(),
        ));
        if let Ok(mut cache) = self.trust.lock() {
            cache.insert(key, set.clone());
        }
        Some(set)
    }

    fn cached(&self, key: &(String, String)) -> Option<Arc<PrincipalPolicies>> {
        self.compiled.lock().ok().and_then(|c| c.get(key).cloned())
    }

    fn remember(
        &self,
        key: (String, String),
        policies: Vec<LabeledPolicy>,
        boundary: Option<PolicySet>,
    ) -> Arc<PrincipalPolicies> {
        let compiled = Arc::new(PrincipalPolicies {
            identity: PolicySet::new(policies),
            boundary,
        });
        if let Ok(mut cache) = self.compiled.lock() {
            cache.insert(key, compiled.clone());
        }
        compiled
    }

    /// The compiled permissions boundary named by `arn`, if it exists.
    fn boundary(&self, account: &AccountState, arn: Option<&str>) -> Option<PolicySet> {
        arn.and_then(|arn| self.managed_policy(account, arn))
            .and_then(|p| p.default_version().map(|v| (p.arn.clone(), &v.document)))
            .map(|(arn, doc)| PolicySet::new(vec![labeled(arn, doc)]))
    }

    /// The compiled session policies of a session (inline and managed, combined with OR);
    /// `None` when the session has none. Cached per session for the snapshot's lifetime.
    pub fn session_policies(&self, claims: &SessionClaims) -> Option<Arc<PolicySet>> {
        if claims.policies.is_empty() && claims.policy_arns.is_empty() {
            return None;
        }
        if let Some(hit) = self
            .sessions
            .lock()
            .ok()
            .and_then(|c| c.get(&claims.access_key_id).cloned())
        {
            return Some(hit);
        }
        let mut policies = Vec::new();
        for (i, text) in claims.policies.iter().enumerate() {
            // Checked when the session was made; a token is sealed, so this cannot fail
            // unless the policy language itself changed since.
            if let Ok(policy) =
                portcullis_policy::parse_policy(text, portcullis_policy::PolicyKind::Session)
            {
                policies.push(LabeledPolicy {
                    label: format!("session policy {i}"),
                    policy,
                });
            }
        }
        if let Some(account) = self.state.accounts.get(&claims.account_id) {
            for arn in &claims.policy_arns {
                self.push_managed(account, arn, &mut policies);
            }
        }
        let set = Arc::new(PolicySet::new(policies));
        if let Ok(mut cache) = self.sessions.lock() {
            // Bounded: a flood of sessions costs recompilation, never unbounded memory.
            if cache.len() >= 10_000 {
                cache.clear();
            }
            cache.insert(claims.access_key_id.clone(), set.clone());
        }
        Some(set)
    }

    fn push_managed(&self, account: &AccountState, arn: &str, out: &mut Vec<LabeledPolicy>) {
        if let Some(version) = self
            .managed_policy(account, arn)
            .and_then(ManagedPolicy::default_version)
        {
            out.push(labeled(arn.to_owned(), &version.document));
        }
    }
}

fn labeled(label: String, doc: &PolicyDocument) -> LabeledPolicy {
    LabeledPolicy {
        label,
        policy: (*doc.parsed).clone(),
    }
}

/// The IAM service: state, store, sealing key.
pub struct IamService {
    snapshot: ArcSwap<Snapshot>,
    writer: Arc<WriterLock>,
    store: Arc<dyn Store>,
    /// The audit trail's writer, when auditing is on.
    trail: Option<Trail>,
    master_key: MasterKey,
    /// Access-key uses not yet written to the store: recorded on the request path without a
    /// write, flushed in batches by [`IamService::flush_key_uses`].
    key_uses: Mutex<HashMap<String, AccessKeyLastUsed>>,
    /// Role uses not yet written, by (account, lowercased role name); flushed with key uses.
    role_uses: Mutex<HashMap<(String, String), RoleLastUsed>>,
    /// Failed MFA codes and password verifications (in memory, per process).
    attempts: Attempts,
    /// Each account's latest credential report (in memory: a report lives four hours, and
    /// after a restart GetCredentialReport says ReportNotPresent until one is generated).
    credential_reports: Mutex<HashMap<String, crate::credential_report::CredentialReport>>,
    /// Attempts of users and roles not yet stored (last-accessed data).
    access_uses: access::AccessUses,
    /// Access advisor jobs (in memory, a day each).
    access_jobs: access::AccessJobs,
}

/// Root credentials made or adopted at first start.
#[derive(Debug)]
pub struct RootCredentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    /// `true` when generated now (so they are saved to the 0600 root-credentials file; the
    /// secret is never printed).
    pub generated: bool,
}

/// The store's record of the format its sealed values are in ([`Table::Meta`]).
const SEALED_FORMAT_KEY: &str = "sealed_format";
/// Every sealed field bound to its kind and row ([`crate::seal::SealedField`]).
const SEALED_FORMAT: &str = "v1";

impl IamService {
    /// Loads the state from `store`, with this deployment's quotas.
    pub fn open(
        store: Box<dyn Store>,
        master_key: MasterKey,
        limits: Limits,
    ) -> IamResult<IamService> {
        let failure = |e: StoreError| IamError::ServiceFailure(e.to_string());
        let rows = store.load().map_err(failure)?;
        let migrated = store.meta(SEALED_FORMAT_KEY).map_err(failure)?;
        let mut state = if migrated.as_deref() == Some(SEALED_FORMAT) {
            IamState::from_rows(rows, &master_key, None).map_err(IamError::ServiceFailure)?
        } else {
            // The one-time migration: values sealed before they were bound to their rows
            // (empty associated data) are opened, sealed again bound to their rows, and the
            // store records that it holds only the current format (in the same transaction).
            // From then on the legacy form is refused.
            let mut legacy = Touched::default();
            let state = IamState::from_rows(rows, &master_key, Some(&mut legacy))
                .map_err(IamError::ServiceFailure)?;
            let mut changes = legacy.changes(&state, &master_key)?;
            changes.push(Change {
                table: Table::Meta,
                account_id: String::new(),
                key: SEALED_FORMAT_KEY.to_owned(),
                data: Some(SEALED_FORMAT.to_owned()),
            });
            store.commit(&changes).map_err(failure)?;
            if !legacy.is_empty() {
                tracing::info!(
                    rows = legacy.len(),
                    "sealed secrets of the legacy format sealed again, bound to their rows"
                );
            }
            state
        };
        state.limits = limits;
        let store: Arc<dyn Store> = Arc::from(store);
        let attempts = Attempts::new(
            limits.mfa_max_failures,
            limits.mfa_lockout,
            limits.password_checks_per_minute,
        )
        .shared_by(store.clone());
        Ok(IamService {
            snapshot: ArcSwap::from_pointee(Snapshot::new(state)),
            writer: Arc::new(WriterLock::default()),
            store,
            trail: None,
            master_key,
            key_uses: Mutex::new(HashMap::new()),
            role_uses: Mutex::new(HashMap::new()),
            attempts,
            credential_reports: Mutex::new(HashMap::new()),
            access_uses: access::AccessUses::default(),
            access_jobs: access::AccessJobs::default(),
        })
    }

    /// The bounds on guessing credentials (MFA lockout, password verifications).
    pub fn attempts(&self) -> &Attempts {
        &self.attempts
    }

    /// Notes that `access_key_id` was just used (no store write on the request path).
    pub fn record_key_use(&self, access_key_id: &str, service: &str, region: &str) {
        if let Ok(mut uses) = self.key_uses.lock() {
            uses.insert(
                access_key_id.to_owned(),
                AccessKeyLastUsed {
                    date: now_timestamp(),
                    service: service.to_owned(),
                    region: region.to_owned(),
                },
            );
        }
    }

    /// The last use of a key: a recorded one not yet flushed, else the stored one.
    pub fn key_last_used(&self, access_key_id: &str) -> Option<AccessKeyLastUsed> {
        let pending = self
            .key_uses
            .lock()
            .ok()
            .and_then(|u| u.get(access_key_id).cloned());
        pending.or_else(|| {
            self.snapshot()
                .state
                .access_keys
                .get(access_key_id)
                .and_then(|k| k.last_used.clone())
        })
    }

    /// Notes that a role was just used (assumed, or its session made a request).
    pub fn record_role_use(&self, account_id: &str, role_name: &str, region: &str) {
        if let Ok(mut uses) = self.role_uses.lock() {
            uses.insert(
                (account_id.to_owned(), role_name.to_lowercase()),
                RoleLastUsed {
                    last_used_date: now_timestamp(),
                    region: region.to_owned(),
                },
            );
        }
    }

    /// The last use of a role: a recorded one not yet flushed, else the stored one.
    pub fn role_last_used(&self, account_id: &str, role_name: &str) -> Option<RoleLastUsed> {
        let key = (account_id.to_owned(), role_name.to_lowercase());
        let pending = self
            .role_uses
            .lock()
            .ok()
            .and_then(|u| u.get(&key).cloned());
        pending.or_else(|| {
            self.snapshot()
                .state
                .accounts
                .get(account_id)
                .and_then(|a| a.roles.get(&key.1))
                .and_then(|r| r.last_used.clone())
        })
    }

    /// Writes the recorded key and role uses to the store in one transaction, then the
    /// attempts of users and roles (last-accessed data) in another.
    pub fn flush_usage(&self) -> IamResult<usize> {
        let now_ms = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
        let uses = self.flush_key_and_role_uses()?;
        let attempts = self.store_action_uses(self.drain_action_uses(), now_ms)?;
        Ok(uses + attempts)
    }

    fn flush_key_and_role_uses(&self) -> IamResult<usize> {
        let keys: Vec<(String, AccessKeyLastUsed)> = match self.key_uses.lock() {
            Ok(mut u) => u.drain().collect(),
            Err(_) => Vec::new(),
        };
        let roles: Vec<((String, String), RoleLastUsed)> = match self.role_uses.lock() {
            Ok(mut u) => u.drain().collect(),
            Err(_) => Vec::new(),
        };
        if keys.is_empty() && roles.is_empty() {
            return Ok(0);
        }
        self.write(|state, touched| {
            let mut n = 0;
            for (id, used) in keys {
                if let Some(key) = state.access_keys.get_mut(&id) {
                    key.last_used = Some(used);
                    touched.access_key(&key.account_id.clone(), &id);
                    n += 1;
                }
            }
            for ((account_id, role_key), used) in roles {
                if let Some(role) = state
                    .accounts
                    .get_mut(&account_id)
                    .and_then(|a| a.roles.get_mut(&role_key))
                {
                    role.last_used = Some(used);
                    touched.role(&account_id, &role_key);
                    n += 1;
                }
            }
            Ok(n)
        })
    }

    /// Seals session claims into a session token.
    pub fn seal_session(&self, claims: &SessionClaims) -> String {
        claims.seal(&self.master_key)
    }

    /// Opens a session token at `now` (unix seconds).
    pub fn open_session(&self, token: &str, now: i64) -> Result<SessionClaims, TokenError> {
        SessionClaims::open(token, &self.master_key, now)
    }

    /// Seals the explanation of a denied request made by a caller of `account_id`.
    pub fn seal_authorization_message(&self, account_id: &str, explanation: &str) -> String {
        crate::authz_message::seal(&self.master_key, account_id, explanation)
    }

    /// Opens an encoded authorization message for a caller of `account_id`; `None` when it
    /// is not a message this service sealed for that account, or was altered.
    pub fn open_authorization_message(&self, account_id: &str, encoded: &str) -> Option<String> {
        crate::authz_message::open(&self.master_key, account_id, encoded)
    }

    /// GenerateCredentialReport: makes `account`'s report from the current snapshot unless
    /// one younger than four hours exists. Returns whether it made one.
    pub fn generate_credential_report(&self, account: &str, now: i64) -> IamResult<bool> {
        use crate::credential_report::{CredentialReport, LIFETIME_SECONDS, generate};
        let mut reports = self
            .credential_reports
            .lock()
            .map_err(|_| IamError::ServiceFailure("credential reports lock poisoned".into()))?;
        if reports
            .get(account)
            .is_some_and(|r| now - r.generated_unix < LIFETIME_SECONDS)
        {
            return Ok(false);
        }
        let csv = generate(&self.snapshot().state, account, &|key| {
            self.key_uses.lock().ok().and_then(|u| u.get(key).cloned())
        })?;
        let generated = time::OffsetDateTime::from_unix_timestamp(now)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_else(crate::model::now_timestamp);
        reports.insert(
            account.to_owned(),
            CredentialReport {
                generated,
                generated_unix: now,
                csv,
            },
        );
        Ok(true)
    }

    /// GetCredentialReport: `account`'s report, if one was generated in the last four hours.
    pub fn credential_report(
        &self,
        account: &str,
        now: i64,
    ) -> IamResult<crate::credential_report::CredentialReport> {
        use crate::credential_report::LIFETIME_SECONDS;
        let reports = self
            .credential_reports
            .lock()
            .map_err(|_| IamError::ServiceFailure("credential reports lock poisoned".into()))?;
        match reports.get(account) {
            None => Err(IamError::ReportNotPresent(
                "Credential report not present. Use GenerateCredentialReport to generate one."
                    .into(),
            )),
            Some(r) if now - r.generated_unix >= LIFETIME_SECONDS => Err(IamError::ReportExpired(
                "Credential report expired. Use GenerateCredentialReport to generate a new one."
                    .into(),
            )),
            Some(r) => Ok(r.clone()),
        }
    }

    /// Turns auditing on: every request's [`Unit`] records its event in the store's trail.
    pub fn enable_audit(&mut self, config: TrailConfig) -> IamResult<()> {
        let trail = Trail::open(self.store.clone(), &self.master_key, config)
            .map_err(|e| IamError::ServiceFailure(e.to_string()))?;
        self.trail = Some(trail);
        Ok(())
    }

    /// How many audit events wait for the trail's writer (0 without auditing).
    pub fn audit_backlog(&self) -> usize {
        self.trail.as_ref().map_or(0, Trail::backlog)
    }

    /// Whether requests are audited.
    pub fn audited(&self) -> bool {
        self.trail.is_some()
    }

    /// A search of one account's trail, newest first. It sees every event answered before
    /// it (batched ones are committed first).
    pub fn audit_lookup(
        &self,
        query: &crate::audit::AuditQuery,
    ) -> IamResult<Vec<crate::audit::StoredEvent>> {
        if let Some(trail) = &self.trail {
            trail
                .flush()
                .map_err(|e| IamError::ServiceFailure(e.to_string()))?;
        }
        self.store
            .audit_lookup(query)
            .map_err(|e| IamError::ServiceFailure(e.to_string()))
    }

    /// The public key the trail's digests are signed with (raw Ed25519), when auditing.
    pub fn audit_public_key(&self) -> Option<Vec<u8>> {
        self.trail.as_ref().map(Trail::public_key)
    }

    /// Signs a digest of the trail's head now, if events were added since the last one
    /// (on shutdown, and by the periodic flusher).
    pub fn audit_sign_now(&self) -> IamResult<()> {
        match &self.trail {
            Some(trail) => trail
                .sign_now()
                .map_err(|e| IamError::ServiceFailure(e.to_string())),
            None => Ok(()),
        }
    }

    /// Deletes the trail's events older than `before_ms`, keeping what remains verifiable.
    pub fn audit_prune(&self, before_ms: i64) -> IamResult<usize> {
        self.store
            .audit_prune(before_ms)
            .map_err(|e| IamError::ServiceFailure(e.to_string()))
    }

    /// Checks the stored trail against this service's signing key.
    pub fn audit_verify(&self) -> Result<crate::trail::TrailReport, crate::trail::TrailError> {
        let key = crate::trail::public_key(&*self.store, &self.master_key)
            .map_err(|e| crate::trail::TrailError::Store(e.0))?
            .unwrap_or_default();
        crate::trail::verify(&*self.store, &key)
    }

    /// The current snapshot; never waits.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.staged_snapshot()
            .unwrap_or_else(|| self.snapshot.load_full())
    }

    /// The ids of the accounts that exist.
    pub fn account_ids(&self) -> Vec<String> {
        self.snapshot().state.accounts.keys().cloned().collect()
    }

    /// Runs `change` on a copy of the state, commits what it touched, publishes the copy.
    /// Inside a request's [`Unit`], the change is staged instead and committed with the
    /// request's audit event when the unit finishes.
    pub fn write<T>(
        &self,
        change: impl FnOnce(&mut IamState, &mut Touched) -> IamResult<T>,
    ) -> IamResult<T> {
        if self.in_unit() {
            return self.write_staged(change);
        }
        let _turn = self.take_turn()?;
        let mut state = self.snapshot.load().state.clone();
        let mut touched = Touched::default();
        let out = change(&mut state, &mut touched)?;
        if !touched.is_empty() {
            let changes = touched.changes(&state, &self.master_key)?;
            self.store.commit(&changes).map_err(|e| {
                tracing::error!(error = %e, "store commit failed");
                IamError::ServiceFailure(
                    "The request could not be stored; nothing was changed.".into(),
                )
            })?;
        }
        self.snapshot.store(Arc::new(Snapshot::new(state)));
        Ok(out)
    }

    /// The writer's turn; on a shared store also the cluster's write lock, with the state
    /// caught up (and published) with every commit of the other nodes before it, so the
    /// change runs on the latest state of the whole cluster.
    fn take_turn(&self) -> IamResult<unit::WriterTurn> {
        let mut turn = self.writer.acquire();
        if let Some(cluster) = self.store.cluster() {
            let caught_up = cluster.lock_writes().map_err(|e| {
                tracing::error!(error = %e, "the cluster's write lock was not taken");
                IamError::ServiceFailure(
                    "The request could not be stored; nothing was changed.".into(),
                )
            });
            // From here the turn releases the lock whatever happens.
            turn.cluster = Some(self.store.clone());
            self.apply_catch_up(caught_up?)?;
        }
        Ok(turn)
    }

    /// Publishes what other nodes committed (under the writer's turn).
    fn apply_catch_up(&self, caught_up: CatchUp) -> IamResult<()> {
        let failed = |e: String| {
            tracing::error!(error = %e, "a change of another node could not be applied");
            IamError::ServiceFailure("The state could not be brought up to date.".into())
        };
        let state = match caught_up {
            CatchUp::Nothing => return Ok(()),
            CatchUp::Changes(changes) => {
                let mut state = self.snapshot.load().state.clone();
                state
                    .apply_changes(changes, &self.master_key)
                    .map_err(failed)?;
                state
            }
            CatchUp::Reload(rows) => {
                let limits = self.snapshot.load().state.limits;
                let mut state =
                    IamState::from_rows(rows, &self.master_key, None).map_err(failed)?;
                state.limits = limits;
                state
            }
        };
        self.snapshot.store(Arc::new(Snapshot::new(state)));
        Ok(())
    }

    /// On a shared store, waits (`timeout` at most) for other nodes' commits and publishes
    /// them; returns at once otherwise. The server runs this in a loop: a change committed
    /// on any node reaches this node's decisions within the notification's delay, or the
    /// timeout when a notification is lost.
    pub fn follow(&self, timeout: std::time::Duration) {
        let Some(cluster) = self.store.cluster() else {
            return;
        };
        cluster.wait_for_changes(timeout);
        // The local turn only: a write of this node catches up by itself.
        let _turn = self.writer.acquire();
        match cluster.catch_up() {
            Ok(caught_up) => {
                let _ = self.apply_catch_up(caught_up);
            }
            Err(e) => tracing::warn!(error = %e, "the change feed could not be read"),
        }
    }

    /// Why this node may not be following the other nodes of its shared store now.
    pub fn lagging(&self) -> Option<String> {
        self.store.cluster().and_then(|c| c.lagging())
    }

    /// Records the one-time token `key` of `scope` (a SAML assertion) as redeemed until
    /// `until_ms` in the store the nodes share: `Some(false)` when a node redeemed it before,
    /// `None` when the store is not shared (the caller remembers it itself), or cannot be
    /// asked (then it is refused: `Some(false)`).
    pub fn redeem_once(&self, scope: &str, key: &str, until_ms: i64, now_ms: i64) -> Option<bool> {
        let cluster = self.store.cluster()?;
        Some(
            cluster
                .redeem_once(scope, key, until_ms, now_ms)
                .unwrap_or_else(|e| {
                    tracing::error!(error = %e, "a one-time token could not be recorded");
                    false
                }),
        )
    }

    /// Whether the store is shared with other nodes.
    pub fn clustered(&self) -> bool {
        self.store.cluster().is_some()
    }

    /// [`IamService::write`] for an operation that checks a code of the MFA device `serial`
    /// of `account_id` (`kind` says which error a wrong code is). A locked device is refused
    /// with that same error. The code is checked first against the current snapshot, outside
    /// the writer lock, so a wrong code neither waits for nor takes the lock and changes
    /// nothing; only a right one is run again (the race re-checked) inside `write`, where it
    /// moves the device's last used step.
    pub fn write_with_mfa_code<T>(
        &self,
        kind: crate::ops::mfa::CodeKind,
        account_id: &str,
        serial: &str,
        change: impl Fn(&mut IamState, &mut Touched) -> IamResult<T>,
    ) -> IamResult<T> {
        let attempt = match crate::ops::mfa::key_of_serial(account_id, serial) {
            Some(device) => Some(
                self.attempts
                    .mfa_begin(account_id, &device)
                    .ok_or_else(|| kind.wrong_code())?,
            ),
            None => None,
        };
        let settle = |result: IamResult<T>| {
            match (&result, attempt) {
                (Err(e), Some(a)) if *e == kind.wrong_code() => a.failed(),
                (Ok(_), Some(a)) => a.succeeded(),
                _ => {}
            }
            result
        };
        let mut scratch = self.snapshot().state.clone();
        if let Err(e) = change(&mut scratch, &mut Touched::default()) {
            return settle(Err(e));
        }
        settle(self.write(&change))
    }

    /// Creates the account (if missing) and its root access key: `preset` when given (and not
    /// yet present), else a generated one when the account has no root key.
    pub fn bootstrap(
        &self,
        account_id: &str,
        preset: Option<(String, Secret)>,
    ) -> IamResult<Option<RootCredentials>> {
        self.write(|state, touched| {
            if !state.accounts.contains_key(account_id) {
                state.accounts.insert(
                    account_id.to_owned(),
                    AccountState {
                        settings: AccountSettings {
                            account_id: account_id.to_owned(),
                            ..AccountSettings::default()
                        },
                        ..AccountState::default()
                    },
                );
                touched.account(account_id);
            }
            let has_root_key = state
                .access_keys
                .values()
                .any(|k| k.account_id == account_id && k.user_name.is_none());
            let (access_key_id, secret, generated) = match preset {
                Some((id, secret)) => {
                    if let Some(existing) = state.access_keys.get(&id) {
                        if existing.account_id != account_id || existing.user_name.is_some() {
                            return Err(IamError::InvalidInput(format!(
                                "The access key {id} already belongs to someone else."
                            )));
                        }
                        if existing.secret != secret {
                            return Err(IamError::InvalidInput(format!(
                                "The root access key {id} already exists with a different secret."
                            )));
                        }
                        return Ok(None);
                    }
                    (id, secret, false)
                }
                None if has_root_key => return Ok(None),
                None => (
                    crate::ids::new_access_key_id(false, account_id),
                    Secret::new(crate::ids::new_secret_key()),
                    true,
                ),
            };
            state.access_keys.insert(
                access_key_id.clone(),
                AccessKey {
                    access_key_id: access_key_id.clone(),
                    account_id: account_id.to_owned(),
                    user_name: None,
                    status: KeyStatus::Active,
                    create_date: now_timestamp(),
                    secret: secret.clone(),
                    last_used: None,
                },
            );
            touched.access_key(account_id, &access_key_id);
            Ok(Some(RootCredentials {
                access_key_id,
                secret_access_key: secret,
                generated,
            }))
        })
    }
}

#[cfg(test)]
mod tests {
    use portcullis_policy::{PolicyInputs, Principal, Request, RequestContext};

    use super::*;
    use crate::ops::attachments::{self, Holder};
    use crate::ops::roles::{self, NewRole};
    use crate::store::SqliteStore;

    const ACCOUNT: &str = "111122223333";

    fn allowed(policies: &PrincipalPolicies, action: &str) -> bool {
        let principal = Principal::AssumedRole {
            arn: format!("arn:aws:sts::{ACCOUNT}:assumed-role/app/s1"),
            account: ACCOUNT.into(),
            role_name: "app".into(),
            role_arn: format!("arn:aws:iam::{ACCOUNT}:role/app"),
            session_name: "s1".into(),
        };
        let request = Request::new(principal, action, "*", RequestContext::new());
        PolicyInputs {
            identity: Some(&policies.identity),
            boundary: policies.boundary.as_ref(),
            ..Default::default()
        }
        .evaluate(&request)
        .is_allowed()
    }

    #[test]
    fn a_roles_policies_and_boundary_compile_for_its_sessions() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("iam.db")).unwrap();
        let service = IamService::open(
            Box::new(store),
            MasterKey::from_bytes([7; 32]),
            Limits::default(),
        )
        .unwrap();
        service.bootstrap(ACCOUNT, None).unwrap();
        service
            .write(|s, t| {
                roles::create_role(
                    s,
                    t,
                    ACCOUNT,
                    &NewRole {
                        name: "App",
                        assume_role_policy: r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}}"#,
                        ..NewRole::default()
                    },
                )?;
                attachments::put_inline(
                    s,
                    t,
                    ACCOUNT,
                    Holder::Role,
                    "app",
                    "s3",
                    r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
                )?;
                attachments::attach(
                    s,
                    t,
                    ACCOUNT,
                    Holder::Role,
                    "app",
                    "arn:aws:iam::aws:policy/IAMReadOnlyAccess",
                )
            })
            .unwrap();
        let policies = service.snapshot().role_policies(ACCOUNT, "APP").unwrap();
        assert!(allowed(&policies, "s3:GetObject"));
        assert!(allowed(&policies, "iam:GetRole"));
        assert!(!allowed(&policies, "iam:CreateRole"));

        service
            .write(|s, t| {
                roles::put_role_boundary(
                    s,
                    t,
                    ACCOUNT,
                    "app",
                    "arn:aws:iam::aws:policy/IAMReadOnlyAccess",
                )
            })
            .unwrap();
        let policies = service.snapshot().role_policies(ACCOUNT, "app").unwrap();
        assert!(!allowed(&policies, "s3:GetObject"));
        assert!(allowed(&policies, "iam:ListRoles"));
        assert!(
            service
                .snapshot()
                .role_policies(ACCOUNT, "nobody")
                .is_none()
        );
    }
}
