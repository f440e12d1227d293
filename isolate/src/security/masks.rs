//! Masked and read-only kernel paths (the lists runc applies to a Docker default container).

/// Whether `/proc` and `/sys` get the masked and read-only paths below.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SystemPaths {
    /// [`MASKED_PATHS`] hidden, [`READONLY_PATHS`] read-only.
    #[default]
    Masked,
    /// Left as mounted (`--system-paths unconfined`, Docker's `systempaths=unconfined`).
    Unconfined,
}

/// Paths hidden inside the container: a file gets `/dev/null` bound over it (verified to be
/// the null device first), a directory an empty read-only tmpfs. Missing ones are skipped.
pub const MASKED_PATHS: &[&str] = &[
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths made read-only inside the container (bound onto themselves, remounted read-only).
pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];
