//! The command's error type: an `anyhow` chain plus the exit code it maps to.

use std::fmt;

/// A failed command: exit code 2 for bad arguments, 1 for everything else (bad input, I/O, store).
#[derive(Debug)]
pub struct CliError {
    code: u8,
    error: anyhow::Error,
}

impl CliError {
    /// The arguments were wrong (bad pipeline, unknown extension): exit code 2.
    pub fn usage(error: impl Into<anyhow::Error>) -> Self {
        Self {
            code: 2,
            error: error.into(),
        }
    }

    /// The input or the environment was wrong (corrupt image, missing file, store down): exit code 1.
    pub fn failure(error: impl Into<anyhow::Error>) -> Self {
        Self {
            code: 1,
            error: error.into(),
        }
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        self.code
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            write!(f, "{:#}", self.error)
        } else {
            write!(f, "{}", self.error)
        }
    }
}

impl<E: Into<anyhow::Error>> From<E> for CliError {
    fn from(error: E) -> Self {
        Self::failure(error)
    }
}

/// The result of a subcommand.
pub type CliResult = Result<(), CliError>;
