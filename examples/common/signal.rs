//! Signal names as `kill` takes them, shared by the programs (included with `#[path]`).

use isolate::Signal;

/// Parses `KILL`, `SIGKILL`, `sigkill`, `9`.
pub(crate) fn parse_signal(s: &str) -> Result<Signal, String> {
    if let Ok(n) = s.parse::<i32>() {
        return Signal::from_raw(n).ok_or_else(|| format!("invalid signal number {n}"));
    }
    let up = s.to_ascii_uppercase();
    let bare = up.strip_prefix("SIG").unwrap_or(&up);
    (1..=31)
        .filter_map(Signal::from_raw)
        .find(|sig| sig.name().and_then(|n| n.strip_prefix("SIG")) == Some(bare))
        .ok_or_else(|| format!("unknown signal {s:?}"))
}
