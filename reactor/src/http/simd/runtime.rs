//! Detecting AVX2 at run time without `std`: `cpuid` leaf 7 for AVX2 (and BMI1 and BMI2,
//! which the AVX2 code is compiled with), leaf 1 for OSXSAVE + AVX, and `xgetbv` to check
//! that the OS saves the YMM registers. The answer is cached in an atomic.

use core::arch::x86_64::{__cpuid, __cpuid_count, _xgetbv};
use core::sync::atomic::{AtomicU8, Ordering};

const UNKNOWN: u8 = 0;
const ABSENT: u8 = 1;
const PRESENT: u8 = 2;
static AVX2: AtomicU8 = AtomicU8::new(UNKNOWN);

/// Whether the CPU and the OS support AVX2, and the CPU BMI1 and BMI2 (which every AVX2
/// CPU has, and the AVX2 functions are compiled with: `tzcnt` without a fallback value,
/// shifts by any register), detected once, then cached.
#[inline]
pub(super) fn avx2_available() -> bool {
    if cfg!(all(
        target_feature = "avx2",
        target_feature = "bmi1",
        target_feature = "bmi2"
    )) {
        return true;
    }
    match AVX2.load(Ordering::Relaxed) {
        PRESENT => true,
        ABSENT => false,
        _ => {
            let present = detect_avx2();
            AVX2.store(if present { PRESENT } else { ABSENT }, Ordering::Relaxed);
            present
        }
    }
}

#[cold]
fn detect_avx2() -> bool {
    // cpuid exists on every x86_64 CPU.
    let max_leaf = __cpuid(0).eax;
    if max_leaf < 7 {
        return false;
    }
    let leaf1 = __cpuid(1);
    let osxsave = leaf1.ecx & (1 << 27) != 0;
    let avx = leaf1.ecx & (1 << 28) != 0;
    if !(osxsave && avx) {
        return false;
    }
    // SAFETY: OSXSAVE is set, so the CPU has XGETBV and the OS enabled it (CR4.OSXSAVE).
    let xcr0 = unsafe { _xgetbv(0) };
    // Bits 1 and 2: the OS saves and restores the XMM and YMM state.
    if xcr0 & 0b110 != 0b110 {
        return false;
    }
    // Bits 3, 5 and 8: BMI1, AVX2, BMI2.
    let bits = 1 << 3 | 1 << 5 | 1 << 8;
    __cpuid_count(7, 0).ebx & bits == bits
}
