//! Reading the audit trail: filters for `keyward audit query`, and
//! CloudTrail log files for `keyward audit export`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::log::{AuditLog, Entry};
use crate::store::StoreResult;

/// How many records a CloudTrail log file holds at most.
pub const PAGE: usize = 1000;

/// Which events a query wants. Every field that is set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only this region.
    pub region: Option<String>,
    /// Only events whose resources include one of these key ARNs.
    pub key_arns: Option<Vec<String>>,
    /// Only events whose resources include a key with this id (for keys
    /// that no longer exist, which cannot be resolved to an ARN).
    pub key_id: Option<String>,
    /// Only this principal (ARN), or this account.
    pub principal: Option<String>,
    /// Only this operation.
    pub event_name: Option<String>,
    /// Only this error code; `Some("")` for successes only.
    pub error_code: Option<String>,
    /// Only at or after this time (milliseconds since the epoch).
    pub start_ms: Option<i64>,
    /// Only before this time (milliseconds since the epoch).
    pub end_ms: Option<i64>,
}

impl Filter {
    fn matches(&self, time_ms: i64, event: &Value) -> bool {
        let text = |pointer: &str| event.pointer(pointer).and_then(Value::as_str);
        let arns = || {
            event["resources"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["ARN"].as_str())
        };
        self.start_ms.is_none_or(|start| time_ms >= start)
            && self.end_ms.is_none_or(|end| time_ms < end)
            && self
                .event_name
                .as_deref()
                .is_none_or(|name| text("/eventName") == Some(name))
            && self
                .error_code
                .as_deref()
                .is_none_or(|code| text("/errorCode").unwrap_or("") == code)
            && self.principal.as_deref().is_none_or(|who| {
                text("/userIdentity/arn") == Some(who)
                    || text("/userIdentity/accountId") == Some(who)
            })
            && self
                .key_arns
                .as_ref()
                .is_none_or(|wanted| arns().any(|arn| wanted.iter().any(|w| w == arn)))
            && self.key_id.as_deref().is_none_or(|id| {
                arns().any(|arn| arn.rsplit_once("key/").is_some_and(|(_, tail)| tail == id))
            })
    }
}

/// The events that match `filter`, oldest first within each region
/// (regions in name order), as JSON values.
pub fn query(log: &AuditLog, filter: &Filter) -> StoreResult<Vec<Value>> {
    let mut found = Vec::new();
    for region in log.regions()? {
        if filter.region.as_ref().is_some_and(|r| *r != region) {
            continue;
        }
        log.read(&region, |entry| {
            if let Entry::Event(stored) = entry
                && let Ok(event) = serde_json::from_str::<Value>(&stored.json)
                && filter.matches(stored.time_ms, &event)
            {
                found.push(event);
            }
            true
        })?;
    }
    Ok(found)
}

/// Writes `events` as CloudTrail log files in `dir`: gzip-compressed
/// `{"Records": [...]}`, at most `PAGE` records a file, named as CloudTrail
/// names them (`<account>_CloudTrail_<region>_<time>_<unique>.json.gz`).
/// Returns the files written.
pub fn export(events: &[Value], dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    let mut by_region: Vec<(&str, &str, Vec<&Value>)> = Vec::new();
    for event in events {
        let region = event["awsRegion"].as_str().unwrap_or("unknown");
        let account = event["recipientAccountId"].as_str().unwrap_or("unknown");
        match by_region
            .iter_mut()
            .find(|(r, a, _)| *r == region && *a == account)
        {
            Some((_, _, records)) => records.push(event),
            None => by_region.push((region, account, vec![event])),
        }
    }
    for (region, account, records) in by_region {
        for chunk in records.chunks(PAGE) {
            let time = chunk
                .first()
                .and_then(|e| e["eventTime"].as_str())
                .unwrap_or("")
                .replace(['-', ':'], "");
            let stamp = time.get(..13).unwrap_or("");
            let unique: String = uuid::Uuid::new_v4()
                .simple()
                .to_string()
                .chars()
                .take(16)
                .collect();
            let path = dir.join(format!(
                "{account}_CloudTrail_{region}_{stamp}Z_{unique}.json.gz"
            ));
            let file = std::fs::File::create(&path)?;
            let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
            serde_json::to_writer(&mut gz, &serde_json::json!({ "Records": chunk }))?;
            gz.finish()?.flush()?;
            written.push(path);
        }
    }
    Ok(written)
}
