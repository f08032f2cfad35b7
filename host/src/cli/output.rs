//! Printing responses: compact JSON for programs, indented text for people.

use std::io::Write;

use serde::Serialize;
use serde_json::Value;

use super::{CliError, OutputFormat};

/// Prints `value` in `format` on stdout.
pub(super) fn print<T: Serialize>(value: &T, format: OutputFormat) -> Result<(), CliError> {
    let value = serde_json::to_value(value)
        .map_err(|e| CliError::io("cannot render the output")(e.into()))?;
    let text = match format {
        OutputFormat::Text => {
            let mut text = String::new();
            write_text(&mut text, &value, 0);
            text
        }
        OutputFormat::Json | OutputFormat::Auto => format!("{value}\n"),
    };
    std::io::stdout()
        .write_all(text.as_bytes())
        .map_err(|e| CliError::io("cannot write to standard output")(e.into()))
}

/// `Field: value` lines, nested values indented under their field.
fn write_text(out: &mut String, value: &Value, depth: usize) {
    let indent = "  ".repeat(depth);
    match value {
        Value::Object(map) => {
            for (name, field) in map {
                if field.is_object() || field.is_array() {
                    out.push_str(&format!("{indent}{name}:\n"));
                    write_text(out, field, depth + 1);
                } else {
                    out.push_str(&format!("{indent}{name}: {}\n", scalar(field)));
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                if item.is_object() {
                    out.push_str(&format!("{indent}-\n"));
                    write_text(out, item, depth + 1);
                } else {
                    out.push_str(&format!("{indent}- {}\n", scalar(item)));
                }
            }
        }
        other => out.push_str(&format!("{indent}{}\n", scalar(other))),
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
