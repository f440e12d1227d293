//! Replacing and ending the process: `execve` and `exit_group`.

use core::ffi::{CStr, c_char};

use crate::errno::Errno;
use crate::sys::{self, Sysno};

/// `execve(2)`: replaces the process image. Returns only on failure, with the error.
///
/// `argv` and `envp` are the kernel's null-terminated arrays of pointers to C strings: each
/// slice must end with a null pointer, otherwise `EINVAL` is returned without calling the
/// kernel.
///
/// The arrays are raw pointers, not `&CStr`s, because a fork-like child must not allocate: the
/// parent builds them before `clone` and the child passes them on as they are.
///
/// # Safety
///
/// Every pointer in `argv` and `envp` before the final null must point to a NUL-terminated
/// string that stays alive and unchanged for the duration of the call. (The kernel copies the
/// strings with checked accesses, but a dangling pointer may land in memory that has been
/// reused and is being written, and the new program would receive whatever is there.)
///
/// ```
/// use core::ptr::null;
/// use rawsys::{process, Errno};
///
/// let argv = [c"true".as_ptr(), null()];
/// // SAFETY: every pointer before the final null is a string literal.
/// unsafe {
///     // Not null-terminated: refused before the kernel sees it.
///     assert_eq!(process::execve(c"/bin/true", &argv[..1], &[null()]), Errno::EINVAL);
///     assert_eq!(process::execve(c"/nonexistent/lp-test", &argv, &[null()]), Errno::ENOENT);
/// }
/// ```
pub unsafe fn execve(path: &CStr, argv: &[*const c_char], envp: &[*const c_char]) -> Errno {
    let terminated = |v: &[*const c_char]| v.last().is_some_and(|p| p.is_null());
    if !terminated(argv) || !terminated(envp) {
        return Errno::EINVAL;
    }
    // SAFETY: path is NUL-terminated; both arrays end with a null pointer, so the kernel's walk
    // stays inside them, and the caller guarantees every other pointer is a live C string.
    match unsafe {
        sys::syscall3(
            Sysno::execve,
            sys::c_str(path),
            sys::by_ref(argv),
            sys::by_ref(envp),
        )
    } {
        Err(e) => e,
        // execve does not return on success; a zero return cannot happen.
        Ok(_) => Errno::EINVAL,
    }
}

/// `exit_group(2)`: ends every thread of the process with status `code & 0xff`. No destructors,
/// atexit handlers or stdio flushing run.
pub fn exit_group(code: i32) -> ! {
    // SAFETY: exit_group takes an integer and never returns.
    let _ = unsafe { sys::syscall1(Sysno::exit_group, code as usize) };
    // SAFETY: the process no longer exists once exit_group has been issued.
    unsafe { core::hint::unreachable_unchecked() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;
    use crate::process::testing::*;
    use crate::process::*;

    #[test]
    fn execve_runs_a_program_with_argv_and_envp() {
        use core::ptr::null;
        let sh = c"/bin/sh";
        assert!(std::path::Path::new("/bin/sh").exists());
        let argv = [
            c"sh".as_ptr(),
            c"-c".as_ptr(),
            c"test \"$LP_TEST\" = yes && exit 7; exit 1".as_ptr(),
            null(),
        ];
        let envp = [c"LP_TEST=yes".as_ptr(), null()];
        let execve = |path: &CStr, argv: &[*const c_char], envp: &[*const c_char]| {
            // SAFETY: this test passes only the arrays above, whose pointers are string
            // literals, and slices of them.
            unsafe { execve(path, argv, envp) }
        };
        let st = run(CloneFlags::empty(), &[], || {
            execve(sh, &argv, &envp).raw() + 100
        });
        assert_eq!(st, WaitStatus::Exited(7));
        let st = run(CloneFlags::empty(), &[], || {
            execve(sh, &argv, &[null()]).raw() + 100
        });
        assert_eq!(st, WaitStatus::Exited(1), "the environment is exactly envp");
        // Failures return before anything changes, so they are safe in the harness itself.
        assert_eq!(execve(sh, &argv[..3], &envp), Errno::EINVAL);
        assert_eq!(execve(sh, &argv, &envp[..1]), Errno::EINVAL);
        assert_eq!(execve(sh, &[], &envp), Errno::EINVAL);
        assert_eq!(execve(c"/nonexistent/lp-test", &argv, &envp), Errno::ENOENT);
        assert_eq!(execve(c"/proc/self", &argv, &envp), Errno::EACCES);
    }
}
