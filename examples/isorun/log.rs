//! Errors (and with `--debug`, steps) as runc writes them: to the `--log` file in logrus'
//! text or JSON format (`{"level":"error","msg":"...","time":"..."}`, which containerd's
//! shim reads back), and errors also to stderr (which podman reads for runtimes it does not
//! know by name).

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::cli::LogFormat;

/// Where messages go.
pub(crate) struct Log {
    file: Option<File>,
    format: LogFormat,
    debug: bool,
}

impl Log {
    /// Opens `path` for appending (created if missing); a file that cannot be opened is
    /// reported on stderr and logging goes on there.
    pub(crate) fn open(path: Option<&Path>, format: LogFormat, debug: bool) -> Log {
        let file = path.and_then(|p| {
            match std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
            {
                Ok(f) => Some(f),
                Err(e) => {
                    eprintln!("isorun: cannot open the log {}: {e}", p.display());
                    None
                }
            }
        });
        Log {
            file,
            format,
            debug,
        }
    }

    /// An error: one line in the log file and one on stderr.
    pub(crate) fn error(&mut self, msg: &str) {
        self.line("error", msg);
        eprintln!("isorun: {msg}");
    }

    /// A warning (a failed poststart or poststop hook): log file and stderr.
    pub(crate) fn warn(&mut self, msg: &str) {
        self.line("warning", msg);
        eprintln!("isorun: warning: {msg}");
    }

    /// A step, with `--debug` only (log file, else stderr).
    pub(crate) fn debug(&mut self, msg: &str) {
        if !self.debug {
            return;
        }
        if self.file.is_some() {
            self.line("debug", msg);
        } else {
            eprintln!("isorun: debug: {msg}");
        }
    }

    fn line(&mut self, level: &str, msg: &str) {
        let Some(f) = &mut self.file else { return };
        let time = rfc3339(SystemTime::now());
        let line = match self.format {
            LogFormat::Json => {
                let v = serde_json::json!({"level": level, "msg": msg, "time": time});
                format!("{v}\n")
            }
            LogFormat::Text => format!(
                "time={} level={level} msg={}\n",
                serde_json::Value::from(time),
                serde_json::Value::from(msg)
            ),
        };
        // One write per line: concurrent writers (the shim's other calls) do not interleave.
        let _ = f.write_all(line.as_bytes());
    }
}

/// `t` as RFC 3339 in UTC with nanoseconds (`2026-12-07T19:30:00.123456789Z`), as Go's
/// `time.Time` marshals and parses it.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    rfc3339_secs(d.as_secs() as i64, d.subsec_nanos())
}

/// Seconds since the epoch (and nanoseconds) as RFC 3339 in UTC.
pub(crate) fn rfc3339_secs(secs: i64, nanos: u32) -> String {
    crate::rfc3339::rfc3339(secs, Some(nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc3339_utc() {
        assert_eq!(rfc3339_secs(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            rfc3339_secs(951_782_400, 5),
            "2000-02-29T00:00:00.000000005Z"
        );
        assert_eq!(
            rfc3339_secs(1_796_674_210, 0),
            "2026-12-07T20:10:10.000000000Z"
        );
    }
}
