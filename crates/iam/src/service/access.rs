//! Last-accessed data on the service: attempts noted on the request path without a store
//! write (flushed with key uses by the usage flusher), and access advisor jobs
//! (GenerateServiceLastAccessedDetails), kept in memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::IamService;
use crate::access_advisor::{ActionUse, Granularity, Report, TRACKING_PERIOD_MS, plan};
use crate::error::{IamError, IamResult};
use crate::model::Timestamp;

/// Attempts not yet stored, by entity id: (account, action as asked → (time ms, region)).
type Pending = HashMap<String, (String, HashMap<String, (i64, String)>)>;

/// At most this many attempts wait for the flusher; beyond it new (entity, action) pairs are
/// not noted until the next flush (a flood of invented action names costs no memory).
const MAX_PENDING: usize = 100_000;

/// How long a job's report is kept, and how many per account.
pub const JOB_LIFETIME_SECONDS: i64 = 24 * 3600;
const MAX_JOBS_PER_ACCOUNT: usize = 100;

#[derive(Default)]
pub(super) struct AccessUses {
    pending: Mutex<(Pending, usize)>,
}

/// A finished access advisor job.
#[derive(Debug)]
pub struct AccessJob {
    pub account_id: String,
    pub created: Timestamp,
    pub created_unix: i64,
    pub completed: Timestamp,
    pub report: Report,
}

#[derive(Default)]
pub(super) struct AccessJobs {
    jobs: Mutex<HashMap<String, Arc<AccessJob>>>,
}

fn iso(unix: i64) -> Timestamp {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(crate::model::now_timestamp)
}

impl IamService {
    /// Notes that the user or role `entity_id` of `account_id` attempted `action` (allowed or
    /// not) now, from `region`.
    pub fn record_action_use(&self, account_id: &str, entity_id: &str, action: &str, region: &str) {
        let now_ms = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
        let Ok(mut guard) = self.access_uses.pending.lock() else {
            return;
        };
        let (pending, count) = &mut *guard;
        if let Some((_, actions)) = pending.get_mut(entity_id) {
            if let Some(slot) = actions.get_mut(action) {
                slot.0 = now_ms;
                if slot.1 != region {
                    region.clone_into(&mut slot.1);
                }
                return;
            }
            if *count < MAX_PENDING {
                actions.insert(action.to_owned(), (now_ms, region.to_owned()));
                *count += 1;
            }
            return;
        }
        if *count < MAX_PENDING {
            let mut actions = HashMap::new();
            actions.insert(action.to_owned(), (now_ms, region.to_owned()));
            pending.insert(entity_id.to_owned(), (account_id.to_owned(), actions));
            *count += 1;
        }
    }

    /// Takes the attempts noted since the last flush.
    pub(super) fn drain_action_uses(&self) -> Vec<ActionUse> {
        let Ok(mut guard) = self.access_uses.pending.lock() else {
            return Vec::new();
        };
        let (pending, count) = &mut *guard;
        *count = 0;
        pending
            .drain()
            .flat_map(|(entity_id, (account_id, actions))| {
                actions
                    .into_iter()
                    .map(move |(action, (time_ms, region))| ActionUse {
                        account_id: account_id.clone(),
                        entity_id: entity_id.clone(),
                        action: action.to_lowercase(),
                        time_ms,
                        region,
                    })
            })
            .collect()
    }

    /// Stores `uses` (taken by [`Self::drain_action_uses`]); on failure they are noted again so
    /// that the next flush retries them.
    pub(super) fn store_action_uses(&self, uses: Vec<ActionUse>, now_ms: i64) -> IamResult<usize> {
        if uses.is_empty() {
            return Ok(0);
        }
        match self.store.record_access(&uses, now_ms - TRACKING_PERIOD_MS) {
            Ok(()) => Ok(uses.len()),
            Err(e) => {
                if let Ok(mut guard) = self.access_uses.pending.lock() {
                    let (pending, count) = &mut *guard;
                    for u in uses {
                        let (_, actions) = pending
                            .entry(u.entity_id)
                            .or_insert_with(|| (u.account_id, HashMap::new()));
                        match actions.get_mut(&u.action) {
                            // An attempt noted since the drain is newer: keep it.
                            Some(_) => {}
                            None => {
                                actions.insert(u.action, (u.time_ms, u.region));
                                *count += 1;
                            }
                        }
                    }
                }
                Err(IamError::ServiceFailure(e.to_string()))
            }
        }
    }

    /// The recorded attempts of `entity_ids`: stored ones and those not yet flushed.
    pub fn action_uses(&self, account_id: &str, entity_ids: &[&str]) -> IamResult<Vec<ActionUse>> {
        let mut uses = self
            .store
            .access_of(account_id, entity_ids)
            .map_err(|e| IamError::ServiceFailure(e.to_string()))?;
        if let Ok(guard) = self.access_uses.pending.lock() {
            for id in entity_ids {
                if let Some((account, actions)) = guard.0.get(*id) {
                    if account == account_id {
                        uses.extend(actions.iter().map(|(action, (time_ms, region))| ActionUse {
                            account_id: account.clone(),
                            entity_id: (*id).to_owned(),
                            action: action.to_lowercase(),
                            time_ms: *time_ms,
                            region: region.clone(),
                        }));
                    }
                }
            }
        }
        Ok(uses)
    }

    /// GenerateServiceLastAccessedDetails: makes the report on `arn` now (from the current
    /// snapshot and every recorded attempt) and returns its job id.
    pub fn generate_access_report(
        &self,
        account_id: &str,
        arn: &str,
        granularity: Granularity,
        now: i64,
    ) -> IamResult<String> {
        let plan = plan(&self.snapshot().state, account_id, arn)?;
        let ids: Vec<&str> = plan.entities.iter().map(|e| e.id.as_str()).collect();
        let uses = self.action_uses(account_id, &ids)?;
        let report = plan.report(granularity, &uses, now * 1000);
        let job_id = crate::ids::new_request_id();
        let job = Arc::new(AccessJob {
            account_id: account_id.to_owned(),
            created: iso(now),
            created_unix: now,
            completed: iso(now),
            report,
        });
        let mut jobs =
            self.access_jobs.jobs.lock().map_err(|_| {
                IamError::ServiceFailure("access advisor jobs lock poisoned".into())
            })?;
        jobs.retain(|_, j| now - j.created_unix < JOB_LIFETIME_SECONDS);
        let mine: Vec<(i64, String)> = jobs
            .iter()
            .filter(|(_, j)| j.account_id == account_id)
            .map(|(id, j)| (j.created_unix, id.clone()))
            .collect();
        if mine.len() >= MAX_JOBS_PER_ACCOUNT {
            if let Some((_, oldest)) = mine.iter().min() {
                jobs.remove(oldest);
            }
        }
        jobs.insert(job_id.clone(), job);
        Ok(job_id)
    }

    /// The job `job_id` of `account_id`, or NoSuchEntity (unknown, another account's, or
    /// older than a day).
    pub fn access_report(
        &self,
        account_id: &str,
        job_id: &str,
        now: i64,
    ) -> IamResult<Arc<AccessJob>> {
        let jobs =
            self.access_jobs.jobs.lock().map_err(|_| {
                IamError::ServiceFailure("access advisor jobs lock poisoned".into())
            })?;
        jobs.get(job_id)
            .filter(|j| j.account_id == account_id && now - j.created_unix < JOB_LIFETIME_SECONDS)
            .cloned()
            .ok_or_else(|| IamError::NoSuchEntity(format!("No such job: {job_id}.")))
    }
}
