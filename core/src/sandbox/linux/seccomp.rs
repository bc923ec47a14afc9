//! The seccomp-BPF filter of a confined command, built by hand.
//!
//! Shape of the program (classic BPF over `struct seccomp_data`):
//!
//! 1. The architecture must be the one this binary was built for. Any other
//!    (i386 via `int 0x80` on x86_64, arm32 compat on aarch64) would reach the
//!    kernel through another syscall table that the numbers below do not
//!    describe, so the process is killed; returning an error for *every*
//!    call, `exit` included, would leave it spinning. x32 calls (the
//!    0x40000000 bit on x86_64) are killed for the same reason.
//! 2. Plain denials: the syscall number alone decides. `EPERM`, so programs
//!    see a clean error instead of dying.
//! 3. Argument checks, each a block that reloads the number first: socket
//!    domains, namespace flags of clone/unshare, terminal injection ioctls,
//!    `kill(-1)`, and (for Landlock ABIs without TRUNCATE) truncation.
//! 4. Everything else is allowed: Landlock decides about files.
//!
//! Integer arguments are compared on their low 32 bits: the kernel
//! truncates `int`/`unsigned int` parameters (socket domain, ioctl request,
//! clone flags) to 32 bits, so high bits a caller sets must not let a value
//! slip past a 64-bit comparison.

use std::io;

use libc::sock_filter;

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E; // AUDIT_ARCH_X86_64
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7; // AUDIT_ARCH_AARCH64

#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

// Offsets in struct seccomp_data.
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const fn off_arg_low(n: u32) -> u32 {
    // args[] start at 16, eight bytes each; the low half comes first on a
    // little-endian machine.
    if cfg!(target_endian = "little") {
        16 + 8 * n
    } else {
        16 + 8 * n + 4
    }
}

const RET_ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
const RET_KILL: u32 = libc::SECCOMP_RET_KILL_PROCESS;
const fn ret_errno(errno: i32) -> u32 {
    libc::SECCOMP_RET_ERRNO | (errno as u32 & libc::SECCOMP_RET_DATA)
}

/// Flags that create a namespace. A confined command has no use for them,
/// and new user namespaces are a common door to kernel bugs.
const NAMESPACE_FLAGS: u32 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET) as u32;
/// `CLONE_NEWTIME` shares its bit with the exit signal in clone(2)'s flags,
/// so it is checked for unshare(2) only.
const UNSHARE_FLAGS: u32 = NAMESPACE_FLAGS | libc::CLONE_NEWTIME as u32;

/// Terminal ioctls that inject input into a terminal another process reads.
const TIOCSTI: u32 = 0x5412;
const TIOCLINUX: u32 = 0x541C;

/// What the filter must cover besides the fixed list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterOptions {
    /// Refuse sockets other than AF_UNIX.
    pub deny_network: bool,
    /// Refuse truncation by path (Landlock ABI < 3 cannot).
    pub deny_path_truncate: bool,
}

/// Syscalls refused outright: debugging other processes and reading or
/// writing their memory, io_uring (its requests bypass this filter), kernel
/// keyrings, eBPF, perf, userfaultfd, loading kernels or modules, mounts and
/// namespaces, opening files by handle (bypasses path checks on some
/// kernels), and, for a root user, rebooting, swap and raw port I/O.
fn denied_syscalls() -> Vec<libc::c_long> {
    let mut list = vec![
        libc::SYS_ptrace,
        libc::SYS_process_vm_readv,
        libc::SYS_process_vm_writev,
        libc::SYS_io_uring_setup,
        libc::SYS_io_uring_enter,
        libc::SYS_io_uring_register,
        libc::SYS_keyctl,
        libc::SYS_add_key,
        libc::SYS_request_key,
        libc::SYS_bpf,
        libc::SYS_perf_event_open,
        libc::SYS_userfaultfd,
        libc::SYS_kexec_load,
        libc::SYS_kexec_file_load,
        libc::SYS_init_module,
        libc::SYS_finit_module,
        libc::SYS_delete_module,
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_pivot_root,
        libc::SYS_setns,
        libc::SYS_fsopen,
        libc::SYS_fsconfig,
        libc::SYS_fsmount,
        libc::SYS_fspick,
        libc::SYS_move_mount,
        libc::SYS_open_tree,
        libc::SYS_mount_setattr,
        libc::SYS_open_by_handle_at,
        libc::SYS_reboot,
        libc::SYS_swapon,
        libc::SYS_swapoff,
    ];
    list.extend_from_slice(ARCH_DENIED);
    list
}

/// Raw port I/O exists on x86 only.
#[cfg(target_arch = "x86_64")]
const ARCH_DENIED: &[libc::c_long] = &[libc::SYS_iopl, libc::SYS_ioperm];
#[cfg(not(target_arch = "x86_64"))]
const ARCH_DENIED: &[libc::c_long] = &[];

/// Build the program. Pure: the tests check its shape, the escape suite its
/// effect.
pub fn build(opts: FilterOptions) -> io::Result<Vec<sock_filter>> {
    let mut p = Program::default();
    let eperm = ret_errno(libc::EPERM);

    // 1. Architecture, then the number (and no x32 numbers).
    p.load(OFF_ARCH);
    p.jump_eq(AUDIT_ARCH, 1, 0);
    p.ret(RET_KILL);
    p.load(OFF_NR);
    #[cfg(target_arch = "x86_64")]
    {
        p.jump_set(X32_SYSCALL_BIT, 0, 1);
        p.ret(RET_KILL);
    }

    // 2. Plain denials: a run of comparisons that all jump to one return.
    let mut denied = denied_syscalls();
    if opts.deny_path_truncate {
        denied.push(libc::SYS_truncate);
    }
    p.deny_numbers(&denied, eperm)?;
    // clone3 passes its flags in memory the filter cannot read. ENOSYS makes
    // glibc (and others) fall back to clone(2), whose flags are checked below.
    // openat2 likewise hides its flags; nothing needs it over openat.
    let mut hidden_flags = vec![libc::SYS_clone3];
    if opts.deny_path_truncate {
        hidden_flags.push(libc::SYS_openat2);
    }
    p.deny_numbers(&hidden_flags, ret_errno(libc::ENOSYS))?;

    // 3. Argument checks.
    if opts.deny_network {
        for nr in [libc::SYS_socket, libc::SYS_socketpair] {
            p.block(nr, 0, |p| {
                p.jump_eq(libc::AF_UNIX as u32, 1, 0);
                p.ret(eperm);
            })?;
        }
    }
    p.block(libc::SYS_clone, 0, |p| {
        p.jump_set(NAMESPACE_FLAGS, 0, 1);
        p.ret(eperm);
    })?;
    p.block(libc::SYS_unshare, 0, |p| {
        p.jump_set(UNSHARE_FLAGS, 0, 1);
        p.ret(eperm);
    })?;
    p.block(libc::SYS_ioctl, 1, |p| {
        p.jump_eq(TIOCSTI, 1, 0);
        p.jump_eq(TIOCLINUX, 0, 1);
        p.ret(eperm);
    })?;
    // kill(-1, sig) signals every process the caller may signal: the agent,
    // the user's other programs. Landlock's signal scope (ABI 6) stops that
    // too where the kernel has it.
    p.block(libc::SYS_kill, 0, |p| {
        p.jump_eq(u32::MAX, 0, 1);
        p.ret(eperm);
    })?;
    if opts.deny_path_truncate {
        // O_TRUNC on a file opened read-only still truncates it, and
        // Landlock before ABI 3 only sees the read.
        let truncating_read = |p: &mut Program| {
            p.and((libc::O_TRUNC | libc::O_ACCMODE) as u32);
            p.jump_eq(libc::O_TRUNC as u32, 0, 1);
            p.ret(eperm);
        };
        #[cfg(target_arch = "x86_64")]
        p.block(libc::SYS_open, 1, truncating_read)?;
        p.block(libc::SYS_openat, 2, truncating_read)?;
    }

    // 4. The rest is Landlock's business.
    p.ret(RET_ALLOW);
    p.finish()
}

/// A classic BPF program with the few instruction shapes the filter needs.
#[derive(Default)]
struct Program {
    code: Vec<sock_filter>,
}

impl Program {
    fn push(&mut self, code: u32, jt: u8, jf: u8, k: u32) {
        self.code.push(sock_filter {
            code: code as u16,
            jt,
            jf,
            k,
        });
    }

    /// A <- 32-bit word at `offset` of seccomp_data.
    fn load(&mut self, offset: u32) {
        self.push(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0, 0, offset);
    }

    fn and(&mut self, mask: u32) {
        self.push(libc::BPF_ALU | libc::BPF_AND | libc::BPF_K, 0, 0, mask);
    }

    /// if A == k skip `jt` instructions else skip `jf`.
    fn jump_eq(&mut self, k: u32, jt: u8, jf: u8) {
        self.push(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, jt, jf, k);
    }

    /// if A & k != 0 skip `jt` instructions else skip `jf`.
    fn jump_set(&mut self, k: u32, jt: u8, jf: u8) {
        self.push(libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K, jt, jf, k);
    }

    fn jump_always(&mut self, skip: u32) {
        self.push(libc::BPF_JMP | libc::BPF_JA, 0, 0, skip);
    }

    fn ret(&mut self, value: u32) {
        self.push(libc::BPF_RET | libc::BPF_K, 0, 0, value);
    }

    /// Return `action` for any of `numbers`; otherwise fall through with the
    /// number still in A. Expects the number in A.
    fn deny_numbers(&mut self, numbers: &[libc::c_long], action: u32) -> io::Result<()> {
        let n = numbers.len();
        for (i, nr) in numbers.iter().enumerate() {
            // Skip the remaining comparisons and the `ja` to land on the return.
            let to_return = u8::try_from(n - i).map_err(|_| too_long())?;
            self.jump_eq(syscall_number(*nr)?, to_return, 0);
        }
        self.jump_always(1);
        self.ret(action);
        Ok(())
    }

    /// A self-contained check of one syscall: load the number, skip the
    /// block unless it is `nr`, load the low half of argument `arg`, then
    /// `body`, which must end in a return or jump just past its own end.
    fn block(
        &mut self,
        nr: libc::c_long,
        arg: u32,
        body: impl FnOnce(&mut Program),
    ) -> io::Result<()> {
        self.load(OFF_NR);
        let check = self.code.len();
        self.jump_eq(syscall_number(nr)?, 0, 0);
        self.load(off_arg_low(arg));
        body(self);
        // Not this syscall: land on whatever follows (the next block, which
        // loads the number again, or the final allow).
        let skip = self.code.len() - check - 1;
        self.code[check].jf = u8::try_from(skip).map_err(|_| too_long())?;
        Ok(())
    }

    fn finish(self) -> io::Result<Vec<sock_filter>> {
        if self.code.len() > libc::BPF_MAXINSNS as usize {
            return Err(too_long());
        }
        Ok(self.code)
    }
}

fn syscall_number(nr: libc::c_long) -> io::Result<u32> {
    u32::try_from(nr).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("syscall number {nr} out of range"),
        )
    })
}

fn too_long() -> io::Error {
    io::Error::other("the seccomp program is too long for BPF jumps")
}

/// Install `program` on the calling thread (inherited by everything it
/// execs or forks). Needs `PR_SET_NO_NEW_PRIVS` (or CAP_SYS_ADMIN) first.
/// Runs in the forked child: the `sock_fprog` lives on the stack and points
/// into memory prepared by the parent.
pub fn install(program: &[sock_filter]) -> io::Result<()> {
    let prog = libc::sock_fprog {
        len: program.len() as libc::c_ushort,
        filter: program.as_ptr() as *mut sock_filter,
    };
    // SAFETY: `prog` points at `program`, valid for the call; the kernel
    // copies the instructions and keeps no pointer.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0u32,
            &prog as *const libc::sock_fprog,
        )
    };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether this kernel can install the filter: seccomp built in, with the
/// actions the program returns.
pub fn available() -> bool {
    [RET_KILL, libc::SECCOMP_RET_ERRNO, RET_ALLOW]
        .iter()
        .all(|action| {
            // SAFETY: the kernel reads one u32 from `action`, valid here.
            let ret = unsafe {
                libc::syscall(
                    libc::SYS_seccomp,
                    libc::SECCOMP_GET_ACTION_AVAIL,
                    0u32,
                    action as *const u32,
                )
            };
            ret == 0
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_options() -> Vec<FilterOptions> {
        let mut all = Vec::new();
        for deny_network in [false, true] {
            for deny_path_truncate in [false, true] {
                all.push(FilterOptions {
                    deny_network,
                    deny_path_truncate,
                });
            }
        }
        all
    }

    /// Every jump lands inside the program and it ends in a return, which
    /// the kernel would otherwise reject at install time (in the child,
    /// where the error is least helpful).
    #[test]
    fn programs_are_well_formed() -> anyhow::Result<()> {
        for opts in all_options() {
            let prog = build(opts)?;
            let last = prog.last().map(|i| (i.code, i.k));
            assert_eq!(
                last,
                Some(((libc::BPF_RET | libc::BPF_K) as u16, RET_ALLOW))
            );
            for (i, ins) in prog.iter().enumerate() {
                let class = u32::from(ins.code) & 0x07;
                if class == libc::BPF_JMP {
                    let op = u32::from(ins.code) & 0xf0;
                    let targets: Vec<usize> = if op == libc::BPF_JA {
                        vec![i + 1 + ins.k as usize]
                    } else {
                        vec![i + 1 + usize::from(ins.jt), i + 1 + usize::from(ins.jf)]
                    };
                    for t in targets {
                        assert!(t < prog.len(), "jump at {i} lands at {t} of {}", prog.len());
                    }
                }
            }
        }
        Ok(())
    }

    /// A tiny interpreter, enough to run the filter on made-up calls.
    fn run(prog: &[sock_filter], nr: libc::c_long, args: [u64; 6]) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&(nr as u32).to_ne_bytes());
        data[4..8].copy_from_slice(&AUDIT_ARCH.to_ne_bytes());
        for (i, a) in args.iter().enumerate() {
            data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_ne_bytes());
        }
        let mut acc: u32 = 0;
        let mut pc = 0usize;
        loop {
            let ins = prog[pc];
            let code = u32::from(ins.code);
            pc += 1;
            match code & 0x07 {
                c if c == libc::BPF_LD => {
                    let o = ins.k as usize;
                    acc = u32::from_ne_bytes([data[o], data[o + 1], data[o + 2], data[o + 3]]);
                }
                c if c == libc::BPF_ALU => acc &= ins.k,
                c if c == libc::BPF_RET => return ins.k,
                _ => {
                    let op = code & 0xf0;
                    if op == libc::BPF_JA {
                        pc += ins.k as usize;
                    } else {
                        let hit = if op == libc::BPF_JEQ {
                            acc == ins.k
                        } else {
                            acc & ins.k != 0
                        };
                        pc += usize::from(if hit { ins.jt } else { ins.jf });
                    }
                }
            }
        }
    }

    #[test]
    fn decisions() -> anyhow::Result<()> {
        let eperm = ret_errno(libc::EPERM);
        let net_off = build(FilterOptions {
            deny_network: true,
            deny_path_truncate: true,
        })?;
        let net_on = build(FilterOptions {
            deny_network: false,
            deny_path_truncate: false,
        })?;
        let inet = libc::AF_INET as u64;
        let unix = libc::AF_UNIX as u64;
        assert_eq!(
            run(&net_off, libc::SYS_socket, [inet, 1, 0, 0, 0, 0]),
            eperm
        );
        // High bits must not smuggle AF_INET past the comparison... nor make
        // AF_UNIX look like something else.
        assert_eq!(
            run(&net_off, libc::SYS_socket, [unix, 1, 0, 0, 0, 0]),
            RET_ALLOW
        );
        assert_eq!(
            run(
                &net_off,
                libc::SYS_socket,
                [(1 << 32) | unix, 1, 0, 0, 0, 0]
            ),
            RET_ALLOW
        );
        assert_eq!(
            run(&net_on, libc::SYS_socket, [inet, 1, 0, 0, 0, 0]),
            RET_ALLOW
        );
        for prog in [&net_off, &net_on] {
            assert_eq!(run(prog, libc::SYS_ptrace, [16, 1, 0, 0, 0, 0]), eperm);
            assert_eq!(
                run(prog, libc::SYS_io_uring_setup, [1, 0, 0, 0, 0, 0]),
                eperm
            );
            assert_eq!(run(prog, libc::SYS_read, [0; 6]), RET_ALLOW);
            assert_eq!(run(prog, libc::SYS_clone3, [0; 6]), ret_errno(libc::ENOSYS));
            let fork_flags = (libc::CLONE_CHILD_SETTID | libc::SIGCHLD) as u64;
            assert_eq!(
                run(prog, libc::SYS_clone, [fork_flags, 0, 0, 0, 0, 0]),
                RET_ALLOW
            );
            let userns = (libc::CLONE_NEWUSER | libc::SIGCHLD) as u64;
            assert_eq!(run(prog, libc::SYS_clone, [userns, 0, 0, 0, 0, 0]), eperm);
            assert_eq!(
                run(
                    prog,
                    libc::SYS_unshare,
                    [libc::CLONE_NEWNET as u64, 0, 0, 0, 0, 0]
                ),
                eperm
            );
            assert_eq!(
                run(
                    prog,
                    libc::SYS_unshare,
                    [libc::CLONE_FILES as u64, 0, 0, 0, 0, 0]
                ),
                RET_ALLOW
            );
            assert_eq!(
                run(prog, libc::SYS_ioctl, [1, TIOCSTI as u64, 0, 0, 0, 0]),
                eperm
            );
            assert_eq!(
                run(prog, libc::SYS_ioctl, [1, 0x5401, 0, 0, 0, 0]),
                RET_ALLOW
            );
            let minus_one = (-1i64) as u64;
            assert_eq!(run(prog, libc::SYS_kill, [minus_one, 9, 0, 0, 0, 0]), eperm);
            assert_eq!(run(prog, libc::SYS_kill, [1234, 9, 0, 0, 0, 0]), RET_ALLOW);
        }
        let rdonly_trunc = (libc::O_RDONLY | libc::O_TRUNC) as u64;
        let wronly_trunc = (libc::O_WRONLY | libc::O_TRUNC) as u64;
        assert_eq!(
            run(&net_off, libc::SYS_openat, [0, 0, rdonly_trunc, 0, 0, 0]),
            eperm
        );
        assert_eq!(
            run(&net_off, libc::SYS_openat, [0, 0, wronly_trunc, 0, 0, 0]),
            RET_ALLOW
        );
        assert_eq!(
            run(&net_on, libc::SYS_openat, [0, 0, rdonly_trunc, 0, 0, 0]),
            RET_ALLOW
        );
        assert_eq!(run(&net_off, libc::SYS_truncate, [0; 6]), eperm);
        assert_eq!(run(&net_on, libc::SYS_truncate, [0; 6]), RET_ALLOW);
        Ok(())
    }
}
