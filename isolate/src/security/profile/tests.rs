use super::*;
use alloc::vec;

use crate::security::bpf_eval::eval;

fn nr(name: &str) -> u32 {
    rawsys::seccomp::syscall_number(name).unwrap()
}

fn rule(name: &str, action: SeccompAction, args: Vec<ArgCondition>) -> SyscallRule {
    SyscallRule {
        names: vec![name.into()],
        action,
        args,
    }
}

fn cond(index: u8, op: ArgOp, value: u64, value_two: u64) -> ArgCondition {
    ArgCondition {
        index,
        value,
        value_two,
        op,
    }
}

#[test]
fn rules_match_by_number_and_every_condition() {
    let big = 0x1_0000_0005u64;
    let ops = [
        ("getuid", ArgOp::Equal),
        ("getgid", ArgOp::NotEqual),
        ("getpid", ArgOp::LessThan),
        ("getppid", ArgOp::LessEqual),
        ("geteuid", ArgOp::GreaterEqual),
        ("getegid", ArgOp::GreaterThan),
    ];
    let mut rules: Vec<SyscallRule> = ops
        .iter()
        .map(|(n, op)| rule(n, SeccompAction::Errno(42), vec![cond(1, *op, big, 0)]))
        .collect();
    rules.push(rule(
        "dup",
        SeccompAction::Errno(7),
        vec![
            cond(0, ArgOp::MaskedEqual, 0xff00_0000_00ff, 0x0100_0000_0001),
            cond(2, ArgOp::Equal, 3, 0),
        ],
    ));
    rules.push(SyscallRule {
        names: vec!["no_such_call".into(), "getsid".into()],
        action: SeccompAction::Errno(9),
        args: vec![],
    });
    let p = SeccompProfile {
        default_action: SeccompAction::Allow,
        architectures: vec!["SCMP_ARCH_X86".into()],
        rules,
    }
    .compile()
    .unwrap();
    let arch = AUDIT_ARCH_NATIVE;
    let e42 = RET_ERRNO | 42;
    let with = |v: u64| [0, v, 0, 0, 0, 0];
    for v in [0, 5, big - 1, big, big + 1, 0x2_0000_0000, u64::MAX] {
        let want = |holds: bool| if holds { e42 } else { RET_ALLOW };
        assert_eq!(
            eval(&p, arch, nr("getuid"), with(v)),
            want(v == big),
            "eq {v:#x}"
        );
        assert_eq!(
            eval(&p, arch, nr("getgid"), with(v)),
            want(v != big),
            "ne {v:#x}"
        );
        assert_eq!(
            eval(&p, arch, nr("getpid"), with(v)),
            want(v < big),
            "lt {v:#x}"
        );
        assert_eq!(
            eval(&p, arch, nr("getppid"), with(v)),
            want(v <= big),
            "le {v:#x}"
        );
        assert_eq!(
            eval(&p, arch, nr("geteuid"), with(v)),
            want(v >= big),
            "ge {v:#x}"
        );
        assert_eq!(
            eval(&p, arch, nr("getegid"), with(v)),
            want(v > big),
            "gt {v:#x}"
        );
    }
    let dup = |a0: u64, a2: u64| eval(&p, arch, nr("dup"), [a0, 0, a2, 0, 0, 0]);
    assert_eq!(dup(0x0100_0000_0001, 3), RET_ERRNO | 7);
    assert_eq!(dup(0x01ff_0000_ff01, 3), RET_ERRNO | 7);
    assert_eq!(dup(0x0100_0000_0001, 4), RET_ALLOW);
    assert_eq!(dup(0x0200_0000_0001, 3), RET_ALLOW);
    assert_eq!(eval(&p, arch, nr("getsid"), with(0)), RET_ERRNO | 9);
    assert_eq!(eval(&p, arch, nr("read"), with(0)), RET_ALLOW);
    // A listed foreign architecture gets the default action, another one is killed.
    if AUDIT_ARCH_NATIVE != AUDIT_ARCH_I386 {
        assert_eq!(eval(&p, AUDIT_ARCH_I386, 1, with(0)), RET_ALLOW);
    }
    assert_eq!(eval(&p, AUDIT_ARCH_ARM, 1, with(0)), RET_KILL_PROCESS);
}

#[test]
fn names_and_limits_are_checked() {
    assert!(SeccompAction::parse("SCMP_ACT_FLY", None).is_err());
    assert!(SeccompAction::parse("SCMP_ACT_ERRNO", Some(5000)).is_err());
    assert_eq!(
        SeccompAction::parse("SCMP_ACT_KILL", None),
        Ok(SeccompAction::KillThread)
    );
    assert!(ArgOp::parse("SCMP_CMP_XX").is_err());
    assert_eq!(ArgOp::parse("SCMP_CMP_MASKED_EQ"), Ok(ArgOp::MaskedEqual));
    let mut p = SeccompProfile {
        default_action: SeccompAction::Errno(1),
        architectures: vec!["SCMP_ARCH_NOPE".into()],
        rules: vec![],
    };
    assert!(p.compile().is_err());
    p.architectures.clear();
    p.rules.push(rule(
        "read",
        SeccompAction::Allow,
        vec![cond(6, ArgOp::Equal, 0, 0)],
    ));
    assert!(p.compile().is_err());
    p.rules[0].args.clear();
    let prog = p.compile().unwrap();
    assert_eq!(
        eval(&prog, AUDIT_ARCH_NATIVE, nr("read"), [0; 6]),
        RET_ALLOW
    );
    assert_eq!(
        eval(&prog, AUDIT_ARCH_NATIVE, nr("write"), [0; 6]),
        RET_ERRNO | 1
    );
}
