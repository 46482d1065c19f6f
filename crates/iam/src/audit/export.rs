//! The trail as CloudTrail log files: events grouped by account, region and five-minute
//! window into `{"Records":[...]}` documents named as CloudTrail names its objects,
//! `AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<unique>.json.gz`,
//! so tools that read a CloudTrail bucket read an export. The timestamp is the end of the
//! window (CloudTrail's is when it delivered the file, after its events); the unique part is
//! the first event's sequence, so exporting again writes the same files.
//!
//! Pure: the caller reads the links in order and writes the files (`crate::trail::export`).

use std::collections::BTreeMap;

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::ChainLink;

/// CloudTrail delivers a file about every five minutes.
pub const WINDOW_SECONDS: i64 = 300;

/// One log file: its key under the output directory and its JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFile {
    pub key: String,
    pub json: Vec<u8>,
    pub events: usize,
}

/// Why an event could not be exported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event {sequence} is not a CloudTrail record: {reason}")]
pub struct ExportError {
    pub sequence: u64,
    pub reason: String,
}

/// The fields a file's key is made of.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Head {
    event_time: String,
    aws_region: String,
    recipient_account_id: String,
}

/// Where an event goes: account, region, window start (unix seconds).
type Group = (String, String, i64);

/// Events gathered into files, streaming: a window is written once the trail has moved two
/// windows past it (events are in sequence order, which is time order up to the few
/// milliseconds between taking an event's time and chaining it; a later straggler gets a file
/// of its own for the same window, as CloudTrail may deliver several).
#[derive(Debug, Default)]
pub struct Exporter {
    since: Option<i64>,
    until: Option<i64>,
    open: BTreeMap<Group, (u64, Vec<Vec<u8>>)>,
}

impl Exporter {
    /// Keeps the events whose time is in `[since, until)` (unix seconds; `None`: unbounded).
    pub fn new(since: Option<i64>, until: Option<i64>) -> Exporter {
        Exporter {
            since,
            until,
            open: BTreeMap::new(),
        }
    }

    /// Adds the next event of the trail; returns the files it completed.
    pub fn add(&mut self, link: &ChainLink) -> Result<Vec<LogFile>, ExportError> {
        let bad = |reason: String| ExportError {
            sequence: link.sequence,
            reason,
        };
        let (head, time) = head(&link.body).map_err(bad)?;
        if self.since.is_some_and(|s| time < s) || self.until.is_some_and(|u| time >= u) {
            return Ok(Vec::new());
        }
        let window = time.div_euclid(WINDOW_SECONDS) * WINDOW_SECONDS;
        let group = (head.recipient_account_id, head.aws_region, window);
        self.open
            .entry(group)
            .or_insert_with(|| (link.sequence, Vec::new()))
            .1
            .push(link.body.clone());
        let done: Vec<Group> = self
            .open
            .keys()
            .filter(|g| g.2 + 2 * WINDOW_SECONDS <= window)
            .cloned()
            .collect();
        Ok(done
            .into_iter()
            .filter_map(|g| self.open.remove_entry(&g))
            .map(|(g, (first, bodies))| file(&g, first, &bodies))
            .collect())
    }

    /// The files still open, once the trail has been read to its end.
    pub fn finish(self) -> Vec<LogFile> {
        self.open
            .into_iter()
            .map(|(g, (first, bodies))| file(&g, first, &bodies))
            .collect()
    }
}

/// An event's filing fields and its time (unix seconds).
fn head(body: &[u8]) -> Result<(Head, i64), String> {
    let head: Head = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let time = OffsetDateTime::parse(&head.event_time, &Rfc3339)
        .map_err(|e| format!("eventTime {:?}: {e}", head.event_time))?
        .unix_timestamp();
    Ok((head, time))
}

/// The time of a stored event (unix seconds).
pub fn event_time(link: &ChainLink) -> Result<i64, ExportError> {
    head(&link.body)
        .map(|(_, t)| t)
        .map_err(|reason| ExportError {
            sequence: link.sequence,
            reason,
        })
}

fn file((account, region, window): &Group, first: u64, bodies: &[Vec<u8>]) -> LogFile {
    let end = OffsetDateTime::from_unix_timestamp(window + WINDOW_SECONDS)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let (y, m, d) = (end.year(), u8::from(end.month()), end.day());
    let stamp = format!("{y:04}{m:02}{d:02}T{:02}{:02}Z", end.hour(), end.minute());
    let key = format!(
        "AWSLogs/{account}/CloudTrail/{region}/{y:04}/{m:02}/{d:02}/{account}_CloudTrail_{region}_{stamp}_{first:016x}.json.gz"
    );
    let mut json = Vec::with_capacity(bodies.iter().map(|b| b.len() + 1).sum::<usize>() + 16);
    json.extend_from_slice(b"{\"Records\":[");
    for (i, body) in bodies.iter().enumerate() {
        if i > 0 {
            json.push(b',');
        }
        json.extend_from_slice(body);
    }
    json.extend_from_slice(b"]}");
    LogFile {
        key,
        json,
        events: bodies.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(sequence: u64, time: &str, account: &str, region: &str) -> ChainLink {
        let body = format!(
            r#"{{"eventTime":"{time}","awsRegion":"{region}","recipientAccountId":"{account}","eventName":"E{sequence}"}}"#
        );
        ChainLink::new(sequence, &crate::audit::GENESIS, body.into_bytes())
    }

    #[test]
    fn events_are_filed_by_account_region_and_window_in_cloudtrails_layout() {
        let mut export = Exporter::new(None, None);
        let mut files = Vec::new();
        for (i, (t, a, r)) in [
            ("2026-12-04T20:01:00Z", "111122223333", "us-east-1"),
            ("2026-12-04T20:04:59Z", "111122223333", "us-east-1"),
            ("2026-12-04T20:03:00Z", "444455556666", "us-east-1"),
            ("2026-12-04T20:03:00Z", "111122223333", "eu-west-1"),
            // Two windows later: the 20:00 windows are complete.
            ("2026-12-04T20:10:00Z", "111122223333", "us-east-1"),
        ]
        .into_iter()
        .enumerate()
        {
            files.extend(export.add(&link(i as u64 + 1, t, a, r)).expect("an event"));
        }
        assert_eq!(
            files.len(),
            3,
            "the 20:00 windows are written as the trail moves on"
        );
        files.extend(export.finish());
        let keys: Vec<&str> = files.iter().map(|f| f.key.as_str()).collect();
        assert!(keys.contains(
            &"AWSLogs/111122223333/CloudTrail/us-east-1/2026/12/04/111122223333_CloudTrail_us-east-1_20261204T2005Z_0000000000000001.json.gz"
        ));
        assert!(keys.contains(
            &"AWSLogs/111122223333/CloudTrail/us-east-1/2026/12/04/111122223333_CloudTrail_us-east-1_20261204T2015Z_0000000000000005.json.gz"
        ));
        let first = files
            .iter()
            .find(|f| f.key.ends_with("20261204T2005Z_0000000000000001.json.gz"))
            .expect("file");
        let parsed: serde_json::Value = serde_json::from_slice(&first.json).expect("JSON");
        let names: Vec<&str> = parsed["Records"]
            .as_array()
            .expect("records")
            .iter()
            .filter_map(|r| r["eventName"].as_str())
            .collect();
        assert_eq!(names, ["E1", "E2"]);
        assert_eq!(files.iter().map(|f| f.events).sum::<usize>(), 5);
    }

    #[test]
    fn the_time_range_is_half_open_and_a_malformed_event_is_named() {
        let since = OffsetDateTime::parse("2026-12-04T20:00:00Z", &Rfc3339)
            .expect("time")
            .unix_timestamp();
        let mut export = Exporter::new(Some(since), Some(since + 60));
        assert!(
            export
                .add(&link(1, "2026-12-04T19:59:59Z", "1", "r"))
                .expect("ok")
                .is_empty()
        );
        export
            .add(&link(2, "2026-12-04T20:00:00Z", "1", "r"))
            .expect("ok");
        export
            .add(&link(3, "2026-12-04T20:01:00Z", "1", "r"))
            .expect("ok");
        let files = export.finish();
        assert_eq!(files.iter().map(|f| f.events).sum::<usize>(), 1);
        let broken = ChainLink::new(9, &crate::audit::GENESIS, b"{}".to_vec());
        let e = Exporter::new(None, None)
            .add(&broken)
            .expect_err("malformed");
        assert_eq!(e.sequence, 9);
    }
}
