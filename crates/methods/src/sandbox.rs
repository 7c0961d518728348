//! Running a model-written Python program, confined. The program runs in a
//! fresh temporary folder and:
//! - reads only that folder, the interpreter's own install and the system's
//!   shared libraries, and writes only that folder (Landlock);
//! - opens no socket, sends no signal, leaves no process group, limits or
//!   reschedules no other process, changes no file's mode, owner, times or
//!   attributes, makes no device node and administers nothing (a seccomp
//!   filter), and under Landlock 4+ connects to no TCP port;
//! - inherits no descriptor of promptlab's beyond stdin, stdout and stderr,
//!   and is killed when the thread that started it dies;
//! - has a memory ceiling, a CPU ceiling and a wall-clock timeout, after
//!   which its whole process group is killed.
//!
//! When the kernel offers no Landlock the run is refused: code runs confined
//! or not at all. Code execution is off unless the user allows it
//! (`RunOptions::allow_code`); this module does not decide that.
//!
//! With the memory map of model files, the only module allowed `unsafe`:
//! raw system calls between fork and exec, each with its SAFETY comment.
//!
//! Why a program could not be run confined is a [`SandboxError`]; a
//! program that runs and fails is a [`CodeRun`] with its status.
#![allow(unsafe_code)]

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde::Serialize;

/// Ceilings for one program.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub timeout: Duration,
    /// Address-space ceiling of the interpreter.
    pub memory_bytes: u64,
    /// Bytes of stdout and of stderr kept (the rest is dropped).
    pub output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(10),
            memory_bytes: 512 << 20,
            output_bytes: 64 << 10,
        }
    }
}

/// How a program ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Status {
    Exited {
        code: i32,
    },
    /// Killed by a signal it did not ask for (e.g. the CPU ceiling).
    Killed {
        signal: i32,
    },
    /// Still running at the timeout; its process group was killed.
    TimedOut,
}

/// One program's run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CodeRun {
    pub code: String,
    pub stdout: String,
    pub stderr: String,
    pub status: Status,
    pub seconds: f64,
}

impl CodeRun {
    pub fn succeeded(&self) -> bool {
        self.status == Status::Exited { code: 0 }
    }

    /// One line on how it went wrong (the error's last line, the timeout…).
    pub fn failure(&self) -> Option<String> {
        let last_err = || {
            self.stderr
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim()
                .to_string()
        };
        match &self.status {
            Status::Exited { code: 0 } => None,
            Status::Exited { code } => Some(format!("exit status {code}: {}", last_err())),
            Status::Killed { signal } => Some(format!("killed by signal {signal}")),
            Status::TimedOut => Some("timed out".into()),
        }
    }
}

/// Why a program could not be run confined (plain data, so it can cross
/// to a UI inside a [`crate::MethodError`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SandboxError {
    #[error(
        "cannot start `{name}` for code execution: {message} (set {var} to a Python 3 interpreter)",
        var = promptlab_host::PYTHON_VAR
    )]
    NoInterpreter { name: String, message: String },
    #[error("`{name}` failed to start: {stderr}")]
    InterpreterFailed { name: String, stderr: String },
    #[error("`{name}` did not report its install: {output:?}")]
    NoInstallReport { name: String, output: String },
    #[error("`{name}` reports executable {executable}: {message}")]
    BadExecutable {
        name: String,
        executable: String,
        message: String,
    },
    #[error("creating the program's folder: {0}")]
    Folder(String),
    #[error("writing the program: {0}")]
    WriteProgram(String),
    #[error("starting {}: {message}", executable.display())]
    Start {
        executable: PathBuf,
        message: String,
    },
    #[error("waiting for the program: {0}")]
    Wait(String),
    #[error(
        "code execution needs Landlock (Linux 5.13 or later, enabled in the kernel) to confine programs, and it is not available here: {0}"
    )]
    NoLandlock(String),
    #[error("creating the Landlock ruleset: {0}")]
    Ruleset(String),
    #[error("{}: path has a NUL byte", path.display())]
    NulInPath { path: PathBuf },
    #[error("{}: {message}", path.display())]
    OpenPath { path: PathBuf, message: String },
    #[error("allowing {} in the Landlock ruleset: {message}", path.display())]
    AddRule { path: PathBuf, message: String },
    #[error("code execution is confined on x86_64 and aarch64 only")]
    UnsupportedArch,
    #[error("code execution is confined with Landlock and runs on Linux only")]
    NotLinux,
}

/// The interpreter: its real executable and the folders it reads.
#[derive(Debug, Clone)]
pub struct Python {
    pub(crate) executable: PathBuf,
    pub(crate) read_dirs: Vec<PathBuf>,
}

/// The interpreter named by `PROMPTLAB_PYTHON`, else `python3` on PATH
/// (see [`promptlab_host::python_command`]), found once per process.
pub fn python() -> Result<&'static Python, SandboxError> {
    static FOUND: OnceLock<Result<Python, SandboxError>> = OnceLock::new();
    FOUND
        .get_or_init(|| Python::locate(&promptlab_host::python_command()))
        .as_ref()
        .map_err(Clone::clone)
}

impl Python {
    /// Asks `name` (a wrapper or shim is fine) for its real executable and
    /// install prefixes.
    fn locate(name: &str) -> Result<Python, SandboxError> {
        let out = Command::new(name)
            .args([
                "-I",
                "-S",
                "-c",
                "import sys; print(sys.executable); print(sys.base_prefix); print(sys.base_exec_prefix)",
            ])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| SandboxError::NoInterpreter {
                name: name.to_string(),
                message: e.to_string(),
            })?;
        if !out.status.success() {
            return Err(SandboxError::InterpreterFailed {
                name: name.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let lines: Vec<&str> = text.lines().collect();
        let [executable, prefix, exec_prefix] = lines.as_slice() else {
            return Err(SandboxError::NoInstallReport {
                name: name.to_string(),
                output: text,
            });
        };
        let executable =
            std::fs::canonicalize(executable).map_err(|e| SandboxError::BadExecutable {
                name: name.to_string(),
                executable: executable.to_string(),
                message: e.to_string(),
            })?;
        let mut read_dirs = vec![PathBuf::from(prefix), PathBuf::from(exec_prefix)];
        if let Some(dir) = executable.parent() {
            read_dirs.push(dir.to_path_buf());
        }
        for system in ["/usr/lib", "/usr/lib64", "/lib", "/lib64"] {
            read_dirs.push(PathBuf::from(system));
        }
        read_dirs.retain(|d| d.is_dir());
        read_dirs.sort();
        read_dirs.dedup();
        Ok(Python {
            executable,
            read_dirs,
        })
    }
}

/// Runs `code` under `python` within `limits`. An error means it could
/// not be run confined (no Landlock, no interpreter); a program that fails
/// is a [`CodeRun`] with its status and stderr.
pub fn run_python(code: &str, python: &Python, limits: &Limits) -> Result<CodeRun, SandboxError> {
    let folder = tempfile::Builder::new()
        .prefix("promptlab-code-")
        .tempdir()
        .map_err(|e| SandboxError::Folder(e.to_string()))?;
    let script = folder.path().join("program.py");
    std::fs::write(&script, code).map_err(|e| SandboxError::WriteProgram(e.to_string()))?;
    let confinement = confine::Confinement::prepare(python, folder.path(), limits)?;

    let mut command = Command::new(&python.executable);
    command
        .args(["-I", "-S", "-B", "program.py"])
        .current_dir(folder.path())
        .env_clear()
        .env("HOME", folder.path())
        .env("TMPDIR", folder.path())
        .env("LANG", "C.UTF-8")
        .env("PYTHONIOENCODING", "utf-8")
        .env("PYTHONHASHSEED", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    confinement.apply_on_spawn(&mut command);

    let start = Instant::now();
    let mut child = command.spawn().map_err(|e| SandboxError::Start {
        executable: python.executable.clone(),
        message: e.to_string(),
    })?;
    let group = child.id() as i32;
    let stdout = capture(child.stdout.take(), limits.output_bytes);
    let stderr = capture(child.stderr.take(), limits.output_bytes);
    // A timeout too far ahead to represent waits as long as the clock can.
    let deadline = start
        .checked_add(limits.timeout)
        .unwrap_or_else(|| start + Duration::from_secs(u32::MAX as u64));
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => break None,
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(SandboxError::Wait(e.to_string())),
        }
    };
    // The whole group goes: a timed-out program and anything it forked.
    confine::kill_group(group);
    let status = match status {
        Some(status) => status,
        None => {
            let _ = child.wait();
            return Ok(CodeRun {
                code: code.to_string(),
                stdout: stdout.join().unwrap_or_default(),
                stderr: stderr.join().unwrap_or_default(),
                status: Status::TimedOut,
                seconds: start.elapsed().as_secs_f64(),
            });
        }
    };
    use std::os::unix::process::ExitStatusExt;
    let status = match (status.code(), status.signal()) {
        (Some(code), _) => Status::Exited { code },
        (None, Some(signal)) => Status::Killed { signal },
        (None, None) => Status::Killed { signal: 0 },
    };
    Ok(CodeRun {
        code: code.to_string(),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
        status,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Reads a pipe to its end on a thread, keeping the first `limit` bytes.
fn capture(
    pipe: Option<impl Read + Send + 'static>,
    limit: usize,
) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        if let Some(mut pipe) = pipe {
            let mut buf = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let room = limit.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
        String::from_utf8_lossy(&kept).into_owned()
    })
}

/// Whether this machine can run code confined, and if not, why.
pub fn available() -> Result<(), SandboxError> {
    python()?;
    confine::landlock_abi()?;
    Ok(())
}

#[cfg(target_os = "linux")]
mod confine {
    //! The kernel side: Landlock rules built before the fork, and what the
    //! child does between fork and exec (only async-signal-safe calls).

    use std::ffi::CString;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::process::CommandExt;
    use std::path::Path;
    use std::process::Command;

    use super::{Limits, Python, SandboxError};

    // Landlock filesystem rights (linux/landlock.h), by ABI version.
    const FS_EXECUTE: u64 = 1 << 0;
    const FS_READ_FILE: u64 = 1 << 2;
    const FS_READ_DIR: u64 = 1 << 3;
    /// Rights 0..=12 exist from ABI 1; REFER (13) from 2, TRUNCATE (14) from
    /// 3, IOCTL_DEV (15) from 5.
    fn fs_rights(abi: i64) -> u64 {
        let last = match abi {
            1 => 12,
            2 => 13,
            3 | 4 => 14,
            _ => 15,
        };
        (1u64 << (last + 1)) - 1
    }
    const NET_BIND_TCP: u64 = 1 << 0;
    const NET_CONNECT_TCP: u64 = 1 << 1;
    const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
    const SCOPE_SIGNAL: u64 = 1 << 1;
    const CREATE_RULESET_VERSION: u32 = 1 << 0;
    const RULE_PATH_BENEATH: i32 = 1;

    #[repr(C)]
    struct RulesetAttr {
        handled_access_fs: u64,
        handled_access_net: u64,
        scoped: u64,
    }

    #[repr(C, packed)]
    struct PathBeneathAttr {
        allowed_access: u64,
        parent_fd: i32,
    }

    /// The kernel's Landlock ABI version, or why there is none.
    pub fn landlock_abi() -> Result<i64, SandboxError> {
        // SAFETY: the version query takes no attribute pointer.
        let abi = unsafe {
            libc::syscall(
                libc::SYS_landlock_create_ruleset,
                std::ptr::null::<RulesetAttr>(),
                0usize,
                CREATE_RULESET_VERSION,
            )
        };
        if abi < 1 {
            return Err(SandboxError::NoLandlock(
                std::io::Error::last_os_error().to_string(),
            ));
        }
        Ok(abi)
    }

    /// Everything the child needs, made before the fork.
    pub struct Confinement {
        ruleset: OwnedFd,
        filter: Vec<SockFilter>,
        memory_bytes: u64,
        cpu_seconds: u64,
    }

    impl Confinement {
        pub fn prepare(
            python: &Python,
            folder: &Path,
            limits: &Limits,
        ) -> Result<Self, SandboxError> {
            let abi = landlock_abi()?;
            let fs = fs_rights(abi);
            let attr = RulesetAttr {
                handled_access_fs: fs,
                handled_access_net: if abi >= 4 {
                    NET_BIND_TCP | NET_CONNECT_TCP
                } else {
                    0
                },
                scoped: if abi >= 6 {
                    SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
                } else {
                    0
                },
            };
            let size = match abi {
                1..=3 => 8,
                4 | 5 => 16,
                _ => std::mem::size_of::<RulesetAttr>(),
            };
            // SAFETY: `attr` outlives the call and `size` covers only its
            // leading fields the kernel knows.
            let fd = unsafe {
                libc::syscall(
                    libc::SYS_landlock_create_ruleset,
                    &attr as *const RulesetAttr,
                    size,
                    0u32,
                )
            };
            if fd < 0 {
                return Err(SandboxError::Ruleset(
                    std::io::Error::last_os_error().to_string(),
                ));
            }
            // SAFETY: the kernel just gave us this descriptor.
            let ruleset = unsafe { OwnedFd::from_raw_fd(fd as i32) };
            let read = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR;
            for dir in &python.read_dirs {
                allow(&ruleset, dir, read)?;
            }
            let ld_cache = Path::new("/etc/ld.so.cache");
            if ld_cache.is_file() {
                allow(&ruleset, ld_cache, FS_READ_FILE)?;
            }
            allow(&ruleset, folder, fs)?;
            Ok(Confinement {
                ruleset,
                filter: seccomp_filter()?,
                memory_bytes: limits.memory_bytes,
                cpu_seconds: limits.timeout.as_secs().saturating_add(1),
            })
        }

        /// Arranges for the child to confine itself just before exec.
        pub fn apply_on_spawn(self, command: &mut Command) {
            let Confinement {
                ruleset,
                filter,
                memory_bytes,
                cpu_seconds,
            } = self;
            // Captured before the fork: the child checks it is still ours.
            let parent = std::process::id() as libc::pid_t;
            // SAFETY: the closure runs in the forked child and makes only
            // raw system calls on data prepared before the fork (no
            // allocation, no locks).
            unsafe {
                command.pre_exec(move || {
                    let fail = || Err(std::io::Error::last_os_error());
                    // No descriptor of promptlab's (an open file, a socket)
                    // reaches the program: all from 3 up close at exec, std's
                    // own exec-error pipe among them, as it expects.
                    if libc::syscall(
                        libc::SYS_close_range,
                        3u32,
                        u32::MAX,
                        libc::CLOSE_RANGE_CLOEXEC,
                    ) < 0
                    {
                        return fail();
                    }
                    // The program dies with the thread that started it, even
                    // when promptlab is killed and cannot kill its group;
                    // if promptlab died before this line, it never starts.
                    if libc::prctl(
                        libc::PR_SET_PDEATHSIG,
                        libc::SIGKILL as libc::c_ulong,
                        0,
                        0,
                        0,
                    ) < 0
                    {
                        return fail();
                    }
                    if libc::getppid() != parent {
                        return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                    }
                    if libc::setsid() < 0 {
                        return fail();
                    }
                    let limit = |resource, value: u64| {
                        let rlim = libc::rlimit {
                            rlim_cur: value,
                            rlim_max: value,
                        };
                        libc::setrlimit(resource, &rlim)
                    };
                    if limit(libc::RLIMIT_AS, memory_bytes) < 0
                        || limit(libc::RLIMIT_CPU, cpu_seconds) < 0
                        || limit(libc::RLIMIT_CORE, 0) < 0
                        || limit(libc::RLIMIT_FSIZE, 64 << 20) < 0
                    {
                        return fail();
                    }
                    if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 {
                        return fail();
                    }
                    if libc::syscall(libc::SYS_landlock_restrict_self, ruleset.as_raw_fd(), 0u32)
                        < 0
                    {
                        return fail();
                    }
                    let program = SockFprog {
                        len: filter.len() as u16,
                        filter: filter.as_ptr(),
                    };
                    if libc::prctl(
                        libc::PR_SET_SECCOMP,
                        libc::SECCOMP_MODE_FILTER as libc::c_ulong,
                        &program as *const SockFprog,
                        0,
                        0,
                    ) < 0
                    {
                        return fail();
                    }
                    Ok(())
                });
            }
        }
    }

    /// Allows `access` beneath `path`.
    fn allow(ruleset: &OwnedFd, path: &Path, access: u64) -> Result<(), SandboxError> {
        let c_path =
            CString::new(path.as_os_str().as_bytes()).map_err(|_| SandboxError::NulInPath {
                path: path.to_path_buf(),
            })?;
        // SAFETY: a plain open of a NUL-terminated path.
        let fd = unsafe { libc::open(c_path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(SandboxError::OpenPath {
                path: path.to_path_buf(),
                message: std::io::Error::last_os_error().to_string(),
            });
        }
        // SAFETY: `fd` was just opened.
        let parent = unsafe { OwnedFd::from_raw_fd(fd) };
        let rule = PathBeneathAttr {
            allowed_access: access,
            parent_fd: parent.as_raw_fd(),
        };
        // SAFETY: `rule` outlives the call; both descriptors are open.
        let done = unsafe {
            libc::syscall(
                libc::SYS_landlock_add_rule,
                ruleset.as_raw_fd(),
                RULE_PATH_BENEATH,
                &rule as *const PathBeneathAttr,
                0u32,
            )
        };
        if done < 0 {
            return Err(SandboxError::AddRule {
                path: path.to_path_buf(),
                message: std::io::Error::last_os_error().to_string(),
            });
        }
        Ok(())
    }

    #[repr(C)]
    #[derive(Clone, Copy)]
    pub struct SockFilter {
        code: u16,
        jt: u8,
        jf: u8,
        k: u32,
    }

    #[repr(C)]
    struct SockFprog {
        len: u16,
        filter: *const SockFilter,
    }

    // Classic BPF opcodes: class | size/op | mode/source.
    /// BPF_LD | BPF_W | BPF_ABS: load a 32-bit word of seccomp_data.
    const BPF_LD_W_ABS: u16 = 0x20;
    /// BPF_JMP | BPF_JEQ | BPF_K.
    const BPF_JEQ_K: u16 = 0x05 | 0x10;
    /// BPF_JMP | BPF_JGE | BPF_K.
    const BPF_JGE_K: u16 = 0x05 | 0x30;
    /// BPF_RET | BPF_K.
    const BPF_RET_K: u16 = 0x06;
    const RET_ALLOW: u32 = 0x7fff_0000;
    const RET_KILL_PROCESS: u32 = 0x8000_0000;
    const RET_EPERM: u32 = 0x0005_0000 | libc::EPERM as u32;

    #[cfg(target_arch = "x86_64")]
    const AUDIT_ARCH: u32 = 0xC000_003E;
    #[cfg(target_arch = "aarch64")]
    const AUDIT_ARCH: u32 = 0xC000_00B7;

    /// System calls a program computing an answer has no business making:
    /// sockets, signals to others, process groups and sessions, tracing,
    /// namespaces and mounts, path truncation (unconfined before Landlock 3),
    /// the priority of other processes, file modes, owners, times and
    /// extended attributes (Landlock does not cover them), device nodes, and
    /// the administration of the machine (modules, swap, reboot, host name,
    /// keyrings…), which a program run by root could otherwise reach.
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    const DENIED: &[libc::c_long] = &[
        libc::SYS_socket,
        libc::SYS_socketpair,
        libc::SYS_kill,
        libc::SYS_tkill,
        libc::SYS_tgkill,
        libc::SYS_rt_sigqueueinfo,
        libc::SYS_rt_tgsigqueueinfo,
        libc::SYS_pidfd_open,
        libc::SYS_pidfd_send_signal,
        libc::SYS_setsid,
        libc::SYS_setpgid,
        libc::SYS_ptrace,
        libc::SYS_process_vm_readv,
        libc::SYS_process_vm_writev,
        libc::SYS_kcmp,
        libc::SYS_unshare,
        libc::SYS_setns,
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_fsopen,
        libc::SYS_fsconfig,
        libc::SYS_fsmount,
        libc::SYS_fspick,
        libc::SYS_move_mount,
        libc::SYS_open_tree,
        libc::SYS_mount_setattr,
        libc::SYS_pivot_root,
        libc::SYS_chroot,
        libc::SYS_bpf,
        libc::SYS_perf_event_open,
        libc::SYS_io_uring_setup,
        libc::SYS_userfaultfd,
        libc::SYS_truncate,
        libc::SYS_setpriority,
        libc::SYS_ioprio_set,
        libc::SYS_migrate_pages,
        libc::SYS_fchmod,
        libc::SYS_fchmodat,
        SYS_FCHMODAT2,
        libc::SYS_fchown,
        libc::SYS_fchownat,
        libc::SYS_utimensat,
        libc::SYS_setxattr,
        libc::SYS_lsetxattr,
        libc::SYS_fsetxattr,
        SYS_SETXATTRAT,
        libc::SYS_removexattr,
        libc::SYS_lremovexattr,
        libc::SYS_fremovexattr,
        SYS_REMOVEXATTRAT,
        SYS_FILE_SETATTR,
        libc::SYS_mknodat,
        libc::SYS_name_to_handle_at,
        libc::SYS_open_by_handle_at,
        libc::SYS_fanotify_init,
        libc::SYS_quotactl,
        libc::SYS_syslog,
        libc::SYS_reboot,
        libc::SYS_sethostname,
        libc::SYS_setdomainname,
        libc::SYS_acct,
        libc::SYS_swapon,
        libc::SYS_swapoff,
        libc::SYS_init_module,
        libc::SYS_finit_module,
        libc::SYS_delete_module,
        libc::SYS_kexec_load,
        libc::SYS_kexec_file_load,
        libc::SYS_add_key,
        libc::SYS_request_key,
        libc::SYS_keyctl,
    ];

    /// The older calls only x86_64 has (aarch64 has just their `*at` forms),
    /// and its port I/O.
    #[cfg(target_arch = "x86_64")]
    const DENIED_LEGACY: &[libc::c_long] = &[
        libc::SYS_chmod,
        libc::SYS_chown,
        libc::SYS_lchown,
        libc::SYS_utime,
        libc::SYS_utimes,
        libc::SYS_futimesat,
        libc::SYS_mknod,
        libc::SYS_iopl,
        libc::SYS_ioperm,
    ];
    #[cfg(target_arch = "aarch64")]
    const DENIED_LEGACY: &[libc::c_long] = &[];

    // Calls newer than the libc crate knows, numbered alike on both
    // architectures (Linux 6.6, 6.13, 6.13, 6.17); an older kernel answers
    // ENOSYS, and EPERM is as good.
    const SYS_FCHMODAT2: libc::c_long = 452;
    const SYS_SETXATTRAT: libc::c_long = 463;
    const SYS_REMOVEXATTRAT: libc::c_long = 466;
    const SYS_FILE_SETATTR: libc::c_long = 468;

    /// Calls whose first argument is a process: allowed on the caller
    /// (pid 0, which is how glibc's getrlimit/setrlimit call prlimit64),
    /// EPERM on any other process, which as the same user (or root) the
    /// program could otherwise limit or reschedule, promptlab included.
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    const SELF_ONLY: &[libc::c_long] = &[
        libc::SYS_prlimit64,
        libc::SYS_sched_setaffinity,
        libc::SYS_sched_setscheduler,
        libc::SYS_sched_setparam,
        libc::SYS_sched_setattr,
        libc::SYS_move_pages,
    ];

    /// A classic-BPF seccomp program: foreign architectures and x32 calls
    /// kill the process, the denied calls fail with EPERM, so do the
    /// self-only calls aimed at another process, the rest pass.
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    fn seccomp_filter() -> Result<Vec<SockFilter>, SandboxError> {
        let op = |code, jt, jf, k| SockFilter { code, jt, jf, k };
        // seccomp_data: nr at offset 0, arch at offset 4, then the 64-bit
        // instruction pointer, then args[0..6] as 64-bit words from offset
        // 16 (little-endian on both architectures: low half first).
        let mut program = vec![
            op(BPF_LD_W_ABS, 0, 0, 4),
            op(BPF_JEQ_K, 1, 0, AUDIT_ARCH),
            op(BPF_RET_K, 0, 0, RET_KILL_PROCESS),
            op(BPF_LD_W_ABS, 0, 0, 0),
            op(BPF_JGE_K, 0, 1, 0x4000_0000),
            op(BPF_RET_K, 0, 0, RET_KILL_PROCESS),
        ];
        for &nr in DENIED.iter().chain(DENIED_LEGACY) {
            program.push(op(BPF_JEQ_K, 0, 1, nr as u32));
            program.push(op(BPF_RET_K, 0, 0, RET_EPERM));
        }
        for &nr in SELF_ONLY {
            // Not this call: on to the next check, the nr reloaded.
            program.push(op(BPF_JEQ_K, 0, 6, nr as u32));
            program.push(op(BPF_LD_W_ABS, 0, 0, 16));
            program.push(op(BPF_JEQ_K, 0, 2, 0));
            program.push(op(BPF_LD_W_ABS, 0, 0, 20));
            program.push(op(BPF_JEQ_K, 1, 0, 0));
            program.push(op(BPF_RET_K, 0, 0, RET_EPERM));
            program.push(op(BPF_RET_K, 0, 0, RET_ALLOW));
            program.push(op(BPF_LD_W_ABS, 0, 0, 0));
        }
        program.push(op(BPF_RET_K, 0, 0, RET_ALLOW));
        Ok(program)
    }

    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    fn seccomp_filter() -> Result<Vec<SockFilter>, SandboxError> {
        Err(SandboxError::UnsupportedArch)
    }

    /// Kills process group `group` (it may be gone already).
    pub fn kill_group(group: i32) {
        // SAFETY: a signal to a process group we created; ESRCH is fine.
        unsafe {
            libc::kill(-group, libc::SIGKILL);
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod confine {
    use super::{Limits, Python, SandboxError};
    use std::path::Path;
    use std::process::Command;

    pub fn landlock_abi() -> Result<i64, SandboxError> {
        Err(SandboxError::NotLinux)
    }

    pub struct Confinement;

    impl Confinement {
        pub fn prepare(_: &Python, _: &Path, _: &Limits) -> Result<Self, SandboxError> {
            Err(SandboxError::NotLinux)
        }
        pub fn apply_on_spawn(self, _: &mut Command) {}
    }

    pub fn kill_group(_: i32) {}
}
