//! The lab's error type: a command that could not run or failed, or text
//! that could not be read.

use std::process::Output;

/// Why a lab operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// A program could not be started at all.
    #[error("cannot run `{cmd}`: {source}")]
    Spawn {
        /// The command line.
        cmd: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A program ran and failed.
    #[error("`{cmd}` failed ({status}): {stderr}")]
    Command {
        /// The command line.
        cmd: String,
        /// Its exit status.
        status: String,
        /// Its standard error, trimmed.
        stderr: String,
    },
    /// Output or a file could not be understood.
    #[error("{what}: {msg}")]
    Parse {
        /// What was being read.
        what: String,
        /// What was wrong.
        msg: String,
    },
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// The lab's result type.
pub type Result<T> = std::result::Result<T, LabError>;

impl LabError {
    /// The error for a command whose `output` reports failure.
    pub fn from_output(cmd: &str, output: &Output) -> LabError {
        LabError::Command {
            cmd: cmd.to_string(),
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        }
    }
}
