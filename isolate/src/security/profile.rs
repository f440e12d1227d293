//! A seccomp filter from a list of rules (the OCI `linux.seccomp` profile), compiled to
//! classic BPF here (no libseccomp).
//!
//! The program: the architecture first (the native one passes on; another one the profile
//! lists gets the default action, since its call numbers are not known here; any other one
//! kills the process, libseccomp's "bad architecture" action); on x86_64 an x32 call gets the
//! default action; then each rule's calls in order, the first whose number and every argument
//! condition match giving the rule's action; then the default action. Call names unknown on
//! this architecture are skipped, as runc skips them. The conditions of one rule must all hold
//! (libseccomp's AND).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use rawsys::seccomp::{
    AUDIT_ARCH_AARCH64, AUDIT_ARCH_ARM, AUDIT_ARCH_I386, AUDIT_ARCH_NATIVE, AUDIT_ARCH_X86_64,
    BPF_ABS, BPF_ALU, BPF_AND, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JMP, BPF_K, BPF_LD, BPF_MAXINSNS,
    BPF_RET, BPF_W, RET_ALLOW, RET_ERRNO, RET_KILL_PROCESS, RET_KILL_THREAD, RET_LOG, RET_TRAP,
    SeccompData, SockFilter, jump, stmt,
};

use crate::error::ConfigError;

/// `SECCOMP_RET_TRACE`: notify a `ptrace` tracer (errno without one).
const RET_TRACE: u32 = 0x7ff0_0000;

/// What the filter does with a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeccompAction {
    /// `SCMP_ACT_ALLOW`.
    Allow,
    /// `SCMP_ACT_ERRNO`: fail with this errno.
    Errno(u16),
    /// `SCMP_ACT_KILL` / `SCMP_ACT_KILL_THREAD`.
    KillThread,
    /// `SCMP_ACT_KILL_PROCESS`.
    KillProcess,
    /// `SCMP_ACT_TRAP`: `SIGSYS`.
    Trap,
    /// `SCMP_ACT_LOG`: allowed and logged.
    Log,
    /// `SCMP_ACT_TRACE`: a tracer is told, with this value.
    Trace(u16),
}

impl SeccompAction {
    /// Parses an OCI action name; `errno_ret` is the rule's `errnoRet` (default `EPERM` for
    /// `SCMP_ACT_ERRNO`). `SCMP_ACT_NOTIFY` (a user-space agent) is refused.
    ///
    /// ```
    /// use isolate::security::SeccompAction;
    /// assert_eq!(SeccompAction::parse("SCMP_ACT_ERRNO", Some(38)), Ok(SeccompAction::Errno(38)));
    /// assert_eq!(SeccompAction::parse("SCMP_ACT_ERRNO", None), Ok(SeccompAction::Errno(1)));
    /// assert!(SeccompAction::parse("SCMP_ACT_NOTIFY", None).is_err());
    /// ```
    pub fn parse(name: &str, errno_ret: Option<u32>) -> Result<SeccompAction, ConfigError> {
        let e = |default: u16| -> Result<u16, ConfigError> {
            match errno_ret {
                None => Ok(default),
                Some(v) => u16::try_from(v)
                    .ok()
                    .filter(|v| *v <= 4095)
                    .ok_or_else(|| ConfigError::BadOption(format!("seccomp errnoRet {v}"))),
            }
        };
        Ok(match name {
            "SCMP_ACT_ALLOW" => SeccompAction::Allow,
            "SCMP_ACT_ERRNO" => SeccompAction::Errno(e(1)?),
            "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => SeccompAction::KillThread,
            "SCMP_ACT_KILL_PROCESS" => SeccompAction::KillProcess,
            "SCMP_ACT_TRAP" => SeccompAction::Trap,
            "SCMP_ACT_LOG" => SeccompAction::Log,
            "SCMP_ACT_TRACE" => SeccompAction::Trace(e(1)?),
            _ => {
                return Err(ConfigError::BadOption(format!(
                    "unsupported seccomp action {name:?}"
                )));
            }
        })
    }

    /// The filter's return value.
    pub fn ret(self) -> u32 {
        match self {
            SeccompAction::Allow => RET_ALLOW,
            SeccompAction::Errno(e) => RET_ERRNO | u32::from(e),
            SeccompAction::KillThread => RET_KILL_THREAD,
            SeccompAction::KillProcess => RET_KILL_PROCESS,
            SeccompAction::Trap => RET_TRAP,
            SeccompAction::Log => RET_LOG,
            SeccompAction::Trace(e) => RET_TRACE | u32::from(e),
        }
    }
}

/// How an argument is compared (`SCMP_CMP_*`), as unsigned 64-bit values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgOp {
    /// `!=`.
    NotEqual,
    /// `<`.
    LessThan,
    /// `<=`.
    LessEqual,
    /// `==`.
    Equal,
    /// `>=`.
    GreaterEqual,
    /// `>`.
    GreaterThan,
    /// `(arg & value) == value_two`.
    MaskedEqual,
}

impl ArgOp {
    /// Parses `SCMP_CMP_NE`, `_LT`, `_LE`, `_EQ`, `_GE`, `_GT`, `_MASKED_EQ`.
    pub fn parse(name: &str) -> Result<ArgOp, ConfigError> {
        Ok(match name {
            "SCMP_CMP_NE" => ArgOp::NotEqual,
            "SCMP_CMP_LT" => ArgOp::LessThan,
            "SCMP_CMP_LE" => ArgOp::LessEqual,
            "SCMP_CMP_EQ" => ArgOp::Equal,
            "SCMP_CMP_GE" => ArgOp::GreaterEqual,
            "SCMP_CMP_GT" => ArgOp::GreaterThan,
            "SCMP_CMP_MASKED_EQ" => ArgOp::MaskedEqual,
            _ => {
                return Err(ConfigError::BadOption(format!(
                    "unknown seccomp operator {name:?}"
                )));
            }
        })
    }
}

/// One argument condition of a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArgCondition {
    /// Which argument (0 to 5).
    pub index: u8,
    /// The value compared with.
    pub value: u64,
    /// The second value ([`ArgOp::MaskedEqual`]'s expected result).
    pub value_two: u64,
    /// The comparison.
    pub op: ArgOp,
}

/// Calls and the action they get when every condition holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyscallRule {
    /// Call names (those unknown on this architecture are skipped).
    pub names: Vec<String>,
    /// The action.
    pub action: SeccompAction,
    /// Conditions on the arguments, all of which must hold.
    pub args: Vec<ArgCondition>,
}

/// A seccomp profile: a default action and rules (see the [module docs](self)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeccompProfile {
    /// The action for calls no rule matches.
    pub default_action: SeccompAction,
    /// The architectures besides the native one (`SCMP_ARCH_X86`, ...) whose calls get the
    /// default action instead of killing the process.
    pub architectures: Vec<String>,
    /// The rules, first match wins.
    pub rules: Vec<SyscallRule>,
}

fn audit_arch(name: &str) -> Result<Option<u32>, ConfigError> {
    Ok(match name {
        "SCMP_ARCH_X86_64" => Some(AUDIT_ARCH_X86_64),
        "SCMP_ARCH_X86" => Some(AUDIT_ARCH_I386),
        "SCMP_ARCH_AARCH64" => Some(AUDIT_ARCH_AARCH64),
        "SCMP_ARCH_ARM" => Some(AUDIT_ARCH_ARM),
        // x32 shares the x86_64 audit arch (its calls carry the x32 bit); the others cannot
        // run here.
        "SCMP_ARCH_X32"
        | "SCMP_ARCH_MIPS"
        | "SCMP_ARCH_MIPS64"
        | "SCMP_ARCH_MIPS64N32"
        | "SCMP_ARCH_MIPSEL"
        | "SCMP_ARCH_MIPSEL64"
        | "SCMP_ARCH_MIPSEL64N32"
        | "SCMP_ARCH_PPC"
        | "SCMP_ARCH_PPC64"
        | "SCMP_ARCH_PPC64LE"
        | "SCMP_ARCH_S390"
        | "SCMP_ARCH_S390X"
        | "SCMP_ARCH_PARISC"
        | "SCMP_ARCH_PARISC64"
        | "SCMP_ARCH_RISCV64" => None,
        _ => {
            return Err(ConfigError::BadOption(format!(
                "unknown seccomp architecture {name:?}"
            )));
        }
    })
}

/// A program being written, with the jumps to the end of the current block still open.
struct Asm {
    p: Vec<SockFilter>,
    /// (instruction, true for jt) to point at the end of the block.
    fail: Vec<(usize, bool)>,
}

/// Marks a jump offset to be patched to the block's end.
const FAIL: u8 = u8::MAX;

impl Asm {
    fn push(&mut self, i: SockFilter) {
        if i.code & 0x07 == BPF_JMP && i.code != BPF_JMP {
            let at = self.p.len();
            if i.jt == FAIL {
                self.fail.push((at, true));
            }
            if i.jf == FAIL {
                self.fail.push((at, false));
            }
        }
        self.p.push(i);
    }

    /// Points the open jumps at the next instruction.
    fn end_block(&mut self) -> Result<(), ConfigError> {
        let end = self.p.len();
        for (at, jt) in self.fail.drain(..) {
            let off = u8::try_from(end - at - 1)
                .ok()
                .filter(|o| *o != FAIL)
                .ok_or_else(|| ConfigError::BadOption("seccomp rule too long".into()))?;
            if jt {
                self.p[at].jt = off;
            } else {
                self.p[at].jf = off;
            }
        }
        Ok(())
    }

    /// A condition: falls through when it holds, jumps to the block's end when not.
    fn condition(&mut self, c: &ArgCondition) {
        let i = u32::from(c.index);
        let ld_hi = stmt(BPF_LD | BPF_W | BPF_ABS, SeccompData::arg_high_offset(i));
        let ld_lo = stmt(BPF_LD | BPF_W | BPF_ABS, SeccompData::arg_low_offset(i));
        let (hi, lo) = ((c.value >> 32) as u32, c.value as u32);
        let j = |op: u16, k: u32, jt: u8, jf: u8| jump(BPF_JMP | op | BPF_K, k, jt, jf);
        match c.op {
            ArgOp::Equal => {
                self.push(ld_hi);
                self.push(j(BPF_JEQ, hi, 0, FAIL));
                self.push(ld_lo);
                self.push(j(BPF_JEQ, lo, 0, FAIL));
            }
            ArgOp::MaskedEqual => {
                let (h2, l2) = ((c.value_two >> 32) as u32, c.value_two as u32);
                self.push(ld_hi);
                self.push(stmt(BPF_ALU | BPF_AND | BPF_K, hi));
                self.push(j(BPF_JEQ, h2, 0, FAIL));
                self.push(ld_lo);
                self.push(stmt(BPF_ALU | BPF_AND | BPF_K, lo));
                self.push(j(BPF_JEQ, l2, 0, FAIL));
            }
            ArgOp::NotEqual => {
                self.push(ld_hi);
                // High words differ: holds (skip the low compare).
                self.push(j(BPF_JEQ, hi, 0, 2));
                self.push(ld_lo);
                self.push(j(BPF_JEQ, lo, FAIL, 0));
            }
            ArgOp::GreaterThan | ArgOp::GreaterEqual => {
                let low = if c.op == ArgOp::GreaterThan {
                    BPF_JGT
                } else {
                    BPF_JGE
                };
                self.push(ld_hi);
                self.push(j(BPF_JGT, hi, 3, 0));
                self.push(j(BPF_JEQ, hi, 0, FAIL));
                self.push(ld_lo);
                self.push(j(low, lo, 0, FAIL));
            }
            ArgOp::LessThan | ArgOp::LessEqual => {
                // The negation of >= (for <) or > (for <=).
                let low = if c.op == ArgOp::LessThan {
                    BPF_JGE
                } else {
                    BPF_JGT
                };
                self.push(ld_hi);
                self.push(j(BPF_JGT, hi, FAIL, 0));
                self.push(j(BPF_JEQ, hi, 0, 2));
                self.push(ld_lo);
                self.push(j(low, lo, FAIL, 0));
            }
        }
    }
}

impl SeccompProfile {
    /// The BPF program; an unknown architecture, an argument index above 5 or a program over
    /// the kernel's 4096 instructions is an error.
    pub fn compile(&self) -> Result<Vec<SockFilter>, ConfigError> {
        let ld = |off: u32| stmt(BPF_LD | BPF_W | BPF_ABS, off);
        let ret = |k: u32| stmt(BPF_RET | BPF_K, k);
        let default = self.default_action.ret();
        let mut a = Asm {
            p: Vec::new(),
            fail: Vec::new(),
        };
        a.push(ld(SeccompData::ARCH_OFFSET));
        for name in &self.architectures {
            if let Some(arch) = audit_arch(name)? {
                if arch != AUDIT_ARCH_NATIVE {
                    a.push(jump(BPF_JMP | BPF_JEQ | BPF_K, arch, 0, 1));
                    a.push(ret(default));
                }
            }
        }
        a.push(jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_NATIVE, 1, 0));
        a.push(ret(RET_KILL_PROCESS));
        #[cfg(target_arch = "x86_64")]
        {
            use rawsys::seccomp::X32_SYSCALL_BIT;
            a.push(ld(SeccompData::NR_OFFSET));
            a.push(jump(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1));
            a.push(ret(default));
        }
        for rule in &self.rules {
            if let Some(c) = rule.args.iter().find(|c| c.index > 5) {
                return Err(ConfigError::BadOption(format!(
                    "seccomp argument index {} (0 to 5)",
                    c.index
                )));
            }
            for name in &rule.names {
                let Some(nr) = rawsys::seccomp::syscall_number(name) else {
                    continue;
                };
                a.push(ld(SeccompData::NR_OFFSET));
                a.push(jump(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, FAIL));
                for c in &rule.args {
                    a.condition(c);
                }
                a.push(ret(rule.action.ret()));
                a.end_block()?;
            }
        }
        a.push(ret(default));
        if a.p.len() > BPF_MAXINSNS {
            return Err(ConfigError::BadOption(format!(
                "seccomp profile compiles to {} instructions (at most {BPF_MAXINSNS})",
                a.p.len()
            )));
        }
        Ok(a.p)
    }
}

#[cfg(test)]
mod tests;
