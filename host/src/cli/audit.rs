//! `keyward audit verify|query|export`: the audit trail from the command
//! line, so that "who used this key, when, and was it allowed?" has an
//! answer without any other tool.

use std::io::Write as _;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::Value;

use super::{CliError, OutputFormat, output};
use crate::audit::query::Filter;
use crate::service::{Caller, Kms};

#[derive(Debug, Subcommand)]
pub(super) enum AuditCommand {
    /// Check every region's hash chain and signed digests; exits 1 and names
    /// the first bad position if anything was edited, deleted, inserted or
    /// cut off.
    Verify,
    /// Print the events that match, oldest first: JSON lines when piped, a
    /// table on a terminal.
    Query(FilterArgs),
    /// Write the events that match as CloudTrail log files
    /// (`{"Records": [...]}`, gzip) into a directory.
    Export {
        #[command(flatten)]
        filter: FilterArgs,
        /// The directory to write to.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Args)]
pub(super) struct FilterArgs {
    /// Only events on this key (key id, key ARN, alias name or alias ARN).
    #[arg(long)]
    key_id: Option<String>,
    /// Only events by this principal ARN, or by anyone in this account.
    /// (Not `--principal`, which says who the CLI acts as.)
    #[arg(long)]
    by_principal: Option<String>,
    /// Only this operation, such as `Decrypt`.
    #[arg(long)]
    event_name: Option<String>,
    /// Only this error code, such as `AccessDeniedException`; `none` for
    /// successful calls only.
    #[arg(long)]
    error_code: Option<String>,
    /// Only at or after this time (RFC 3339, or epoch seconds).
    #[arg(long, value_parser = parse_time)]
    start_time: Option<i64>,
    /// Only before this time (RFC 3339, or epoch seconds).
    #[arg(long, value_parser = parse_time)]
    end_time: Option<i64>,
    /// Every region, not only `--region`.
    #[arg(long)]
    all_regions: bool,
}

impl FilterArgs {
    fn filter(&self, region: &str) -> Filter {
        Filter {
            region: (!self.all_regions).then(|| region.to_owned()),
            principal: self.by_principal.clone(),
            event_name: self.event_name.clone(),
            error_code: self.error_code.as_ref().map(|code| {
                if code.eq_ignore_ascii_case("none") {
                    String::new()
                } else {
                    code.clone()
                }
            }),
            start_ms: self.start_time,
            end_ms: self.end_time,
            ..Filter::default()
        }
    }
}

/// Milliseconds since the epoch, from RFC 3339 or epoch seconds.
pub(super) fn parse_time(text: &str) -> Result<i64, String> {
    if let Ok(seconds) = text.parse::<i64>() {
        return Ok(seconds.saturating_mul(1000));
    }
    let parsed = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("`{text}` is neither RFC 3339 nor epoch seconds: {e}"))?;
    i64::try_from(parsed.unix_timestamp_nanos() / 1_000_000).map_err(|e| e.to_string())
}

pub(super) fn run(
    kms: &Kms,
    caller: &Caller,
    command: AuditCommand,
    format: OutputFormat,
) -> Result<(), CliError> {
    match command {
        AuditCommand::Verify => {
            let verification = kms.verify_audit()?;
            output::print(&verification, format)?;
            if verification.intact() {
                Ok(())
            } else {
                Err(CliError::Failed(
                    "the audit trail has been tampered with".into(),
                ))
            }
        }
        AuditCommand::Query(args) => {
            let events =
                kms.query_audit(caller, args.key_id.as_deref(), args.filter(&caller.region))?;
            match format {
                OutputFormat::Text => print_table(&events),
                OutputFormat::Json | OutputFormat::Auto => {
                    let mut out = String::new();
                    for event in &events {
                        out.push_str(&event.to_string());
                        out.push('\n');
                    }
                    write_out(&out)
                }
            }
        }
        AuditCommand::Export { filter, out } => {
            let exported = kms.export_audit(
                caller,
                filter.key_id.as_deref(),
                filter.filter(&caller.region),
                &out,
            )?;
            output::print(&exported, format)
        }
    }
}

fn write_out(text: &str) -> Result<(), CliError> {
    std::io::stdout()
        .write_all(text.as_bytes())
        .map_err(|e| CliError::io("cannot write to standard output")(e.into()))
}

/// One line per event: time, operation, outcome, principal, key.
fn print_table(events: &[Value]) -> Result<(), CliError> {
    let text = |event: &Value, pointer: &str| {
        event
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("-")
            .to_owned()
    };
    let rows: Vec<[String; 5]> = events
        .iter()
        .map(|event| {
            let outcome = event
                .get("errorCode")
                .and_then(Value::as_str)
                .unwrap_or("OK")
                .to_owned();
            let keys: Vec<&str> = event["resources"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["ARN"].as_str())
                .collect();
            [
                text(event, "/eventTime"),
                text(event, "/eventName"),
                outcome,
                event
                    .pointer("/userIdentity/arn")
                    .or_else(|| event.pointer("/userIdentity/invokedBy"))
                    .and_then(Value::as_str)
                    .unwrap_or("-")
                    .to_owned(),
                if keys.is_empty() {
                    "-".to_owned()
                } else {
                    keys.join(" ")
                },
            ]
        })
        .collect();
    let header = ["TIME", "EVENT", "OUTCOME", "PRINCIPAL", "KEY"].map(str::to_owned);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    write_out(&out)
}
