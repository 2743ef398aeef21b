//! Logging through the host, with `format!`-style macros:
//!
//! ```
//! lanyard_policy::log::info!("tier {} for {}", "pro", "https://api.example.com/mcp");
//! ```
//!
//! In a component the line goes to the host's `log` import, which tags it with the policy,
//! version and request. Natively (unit tests) it goes to stderr, which the test harness
//! captures and shows for failing tests.

#[doc(inline)]
pub use crate::{
    __lanyard_log_debug as debug, __lanyard_log_error as error, __lanyard_log_info as info,
    __lanyard_log_warn as warn,
};

/// How serious a log line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Detail for a policy author debugging a decision.
    Debug,
    /// A normal event worth keeping.
    Info,
    /// Something odd that did not stop the decision, e.g. malformed metadata.
    Warn,
    /// Something that made the policy fail.
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }
}

/// Writes one log line; the macros in this module are usually more convenient.
pub fn write(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    {
        crate::guest::log(level, message);
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        eprintln!("[policy {}] {message}", level.as_str());
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[doc(hidden)]
#[macro_export]
macro_rules! __lanyard_log_debug {
    ($($arg:tt)+) => {
        $crate::log::write($crate::log::Level::Debug, &::std::format!($($arg)+))
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __lanyard_log_info {
    ($($arg:tt)+) => {
        $crate::log::write($crate::log::Level::Info, &::std::format!($($arg)+))
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __lanyard_log_warn {
    ($($arg:tt)+) => {
        $crate::log::write($crate::log::Level::Warn, &::std::format!($($arg)+))
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __lanyard_log_error {
    ($($arg:tt)+) => {
        $crate::log::write($crate::log::Level::Error, &::std::format!($($arg)+))
    };
}

#[cfg(test)]
mod tests {
    use super::Level;

    #[test]
    fn macros_format_their_arguments() {
        crate::log::debug!("debug {}", 1);
        crate::log::info!("info {}", 2);
        crate::log::warn!("warn {}", 3);
        crate::log::error!("error {}", 4);
    }

    #[test]
    fn levels_print_as_the_wit_names() {
        assert_eq!(Level::Warn.to_string(), "warn");
        assert!(Level::Debug < Level::Error);
    }
}
