//! A classic-BPF interpreter for the instructions the filters here emit, so their logic can
//! be checked without installing them (tests only).

use rawsys::seccomp::{
    BPF_ABS, BPF_ALU, BPF_AND, BPF_JA, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W, SockFilter,
};

/// Runs `prog` on a call `nr` of architecture `arch` with `args`; returns the action.
pub(crate) fn eval(prog: &[SockFilter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    let mut a: u32 = 0;
    let mut pc = 0usize;
    loop {
        let ins = prog[pc];
        pc += 1;
        match ins.code {
            c if c == BPF_LD | BPF_W | BPF_ABS => {
                a = match ins.k {
                    0 => nr,
                    4 => arch,
                    k if (16..64).contains(&k) => {
                        let i = ((k - 16) / 8) as usize;
                        if (k - 16) % 8 == 0 {
                            args[i] as u32
                        } else {
                            (args[i] >> 32) as u32
                        }
                    }
                    k => panic!("load {k}"),
                }
            }
            c if c == BPF_ALU | BPF_AND | BPF_K => a &= ins.k,
            c if c == BPF_RET | BPF_K => return ins.k,
            c if c == BPF_JMP | BPF_JA => pc += ins.k as usize,
            c if c & 0x07 == BPF_JMP => {
                let cond = match c & 0xf0 {
                    0x10 => a == ins.k,
                    0x20 => a > ins.k,
                    0x30 => a >= ins.k,
                    0x40 => a & ins.k != 0,
                    op => panic!("jump op {op:#x}"),
                };
                pc += if cond { ins.jt } else { ins.jf } as usize;
            }
            c => panic!("opcode {c:#x}"),
        }
    }
}
