//! `keyward policy validate|test|explain`: the offline harness
//! (`authz::harness`), with no server and no store.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::CliError;
use crate::authz::harness::{self, Folder};
use crate::authz::{self, iam};

/// The harness commands.
#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Validate a policy file, or every policy, entity and request file
    /// under a folder, against the schema.
    Validate {
        /// A `.cedar` file or a folder.
        path: PathBuf,
    },
    /// Run the request cases (ALLOW/*.json, DENY/*.json) of every case
    /// folder under a folder.
    Test {
        /// A case folder, or a folder of them (such as policies/examples).
        path: PathBuf,
    },
    /// Show the decision on one request file and the policies or grants
    /// behind it.
    Explain {
        /// A request file inside a case folder.
        request: PathBuf,
    },
    /// Print the Cedar that an IAM JSON key policy compiles to: what
    /// keyward decides with.
    Translate {
        /// An IAM JSON policy document.
        file: PathBuf,
        /// Translate it as an identity policy of this user or role (ARN)
        /// rather than as a key policy.
        #[arg(long)]
        identity_of: Option<String>,
    },
}

fn harness_error(e: harness::HarnessError) -> CliError {
    CliError::Usage(e.to_string())
}

pub(crate) fn run(command: PolicyCommand) -> Result<(), CliError> {
    match command {
        PolicyCommand::Validate { path } => validate(&path),
        PolicyCommand::Test { path } => test(&path),
        PolicyCommand::Explain { request } => explain(&request),
        PolicyCommand::Translate { file, identity_of } => translate(&file, identity_of.as_deref()),
    }
}

fn validate(path: &Path) -> Result<(), CliError> {
    let problems = harness::validate(path).map_err(harness_error)?;
    if problems.is_empty() {
        println!("{}: valid", path.display());
        return Ok(());
    }
    for (file, diagnostics) in &problems {
        for line in diagnostics.lines() {
            println!("{}:{line}", file.display());
        }
    }
    Err(CliError::Failed(format!(
        "{} file(s) with errors",
        problems.len()
    )))
}

fn test(path: &Path) -> Result<(), CliError> {
    let (mut passed, mut failed) = (0usize, 0usize);
    for folder in harness::case_folders(path).map_err(harness_error)? {
        let loaded = Folder::load(&folder).map_err(harness_error)?;
        for result in loaded.run().map_err(harness_error)? {
            let shown = result
                .file
                .strip_prefix(path)
                .unwrap_or(&result.file)
                .display()
                .to_string();
            let verdict = if result.decision.allowed {
                "allow"
            } else {
                "deny"
            };
            let reasons = if result.decision.reasons.is_empty() {
                "default deny".to_owned()
            } else {
                result.decision.reasons.join(", ")
            };
            if result.passed() {
                passed += 1;
                println!("PASS {shown}: {verdict} ({reasons})");
            } else {
                failed += 1;
                println!("FAIL {shown}: {verdict} ({reasons})");
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 || passed == 0 {
        return Err(CliError::Failed(format!("{failed} case(s) failed")));
    }
    Ok(())
}

fn explain(request: &Path) -> Result<(), CliError> {
    let (case, decision) = harness::explain(request).map_err(harness_error)?;
    let report = serde_json::json!({
        "Principal": case.principal,
        "Action": case.action,
        "Resource": case.resource,
        "Decision": if decision.allowed { "ALLOW" } else { "DENY" },
        "Reasons": decision.reasons,
        "Explanation": if decision.allowed {
            "allowed by the policies or grants listed"
        } else if decision.reasons.is_empty() {
            "denied by default: no key policy, identity policy or grant allows it"
        } else {
            "denied by the explicit forbid policies listed"
        },
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&report)
            .map_err(|e| CliError::io("cannot render the report")(e.into()))?
    );
    Ok(())
}

fn translate(file: &Path, identity_of: Option<&str>) -> Result<(), CliError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| CliError::io(file.display().to_string())(e.into()))?;
    if !iam::is_json(&text) {
        return Err(CliError::Usage(format!(
            "{}: not an IAM JSON policy (it is already Cedar)",
            file.display()
        )));
    }
    let owner = identity_of
        .map(authz::Principal::parse)
        .transpose()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let attachment = match &owner {
        Some(owner) => iam::Attachment::Identity(owner),
        None => iam::Attachment::KeyPolicy,
    };
    let cedar = iam::compile(&text, attachment)
        .map_err(|e| CliError::Failed(format!("{}: {e}", file.display())))?;
    // What it compiles to must also validate, as it must when it is set.
    authz::parse_policy_set(authz::Source::KeyPolicy, &cedar)
        .map_err(|e| CliError::Failed(format!("{}: {e}", file.display())))?;
    print!("{cedar}");
    Ok(())
}
