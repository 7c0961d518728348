//! Running a model-written Python program, confined. The program runs in a
//! fresh temporary folder and:
//! - reads only that folder, the interpreter's own install and the system's
//!   shared libraries, and writes only that folder (Landlock);
//! - opens no socket, sends no signal, leaves no process group, limits or
//!   reschedules no other process, changes no file's mode, owner, times or
//!   attributes, makes no device node and administers nothing (a seccomp
//!   allowlist), and under Landlock 4+ connects to no TCP port;
//! - inherits no descriptor of promptlab's beyond stdin, stdout and stderr,
//!   and is killed when the thread that started it dies;
//! - starts no process (threads only), holds no capability even when
//!   promptlab runs as root, and gets no system call outside an allowlist;
//! - has a memory ceiling (one process, so it is the total), a CPU ceiling,
//!   a ceiling on what its folder holds and a wall-clock timeout; past the
//!   last two its whole process group is killed.
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
    /// What the program may leave in its folder: bytes in all (also the
    /// largest one file may grow to) and entries (files and folders).
    pub folder_bytes: u64,
    pub folder_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(10),
            memory_bytes: 512 << 20,
            output_bytes: 64 << 10,
            folder_bytes: 64 << 20,
            folder_entries: 4096,
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
    /// Its folder grew past the ceiling; its process group was killed.
    FolderFull,
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
            Status::FolderFull => Some("wrote more to its folder than allowed".into()),
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
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(|| sweep_abandoned_folders(&std::env::temp_dir()));
    let folder = tempfile::Builder::new()
        .prefix(&format!("{FOLDER_PREFIX}{}-", std::process::id()))
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
    // The folder is measured every so often: a program writing past its
    // ceiling is stopped within one interval (each file is capped anyway).
    let mut next_measure = start;
    let ended = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if Instant::now() >= deadline => break Err(Status::TimedOut),
            Ok(None) => {
                if Instant::now() >= next_measure {
                    next_measure = Instant::now() + Duration::from_millis(50);
                    if !folder_within(folder.path(), limits) {
                        break Err(Status::FolderFull);
                    }
                }
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(e) => return Err(SandboxError::Wait(e.to_string())),
        }
    };
    // The whole group goes: a stopped program and anything it started.
    confine::kill_group(group);
    let status = match ended {
        Ok(status) => status,
        Err(stopped) => {
            let _ = child.wait();
            return Ok(CodeRun {
                code: code.to_string(),
                stdout: stdout.join().unwrap_or_default(),
                stderr: stderr.join().unwrap_or_default(),
                status: stopped,
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

/// Programs' folders are `promptlab-code-PID-…`, PID the promptlab that
/// made them, so one a killed promptlab left can be told from a live one's.
const FOLDER_PREFIX: &str = "promptlab-code-";

/// Removes the program folders in `dir` whose promptlab is gone (killed
/// before it could remove them).
pub fn sweep_abandoned_folders(dir: &std::path::Path) {
    let Ok(listing) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in listing.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(FOLDER_PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let path = entry.path();
        if path.is_dir() && promptlab_host::maker_is_gone(pid, &path) {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

/// Whether `folder` holds at most the bytes and entries `limits` allow
/// (counted without following links; it stops counting past the ceiling).
fn folder_within(folder: &std::path::Path, limits: &Limits) -> bool {
    let mut bytes = 0u64;
    let mut entries = 0usize;
    let mut pending = vec![folder.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(listing) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in listing.flatten() {
            entries += 1;
            if entries > limits.folder_entries {
                return false;
            }
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            if meta.is_dir() {
                pending.push(entry.path());
            } else {
                use std::os::unix::fs::MetadataExt;
                // Blocks really used, or the length (a sparse file counts
                // as what it could become on a copy).
                bytes = bytes.saturating_add(meta.len().max(meta.blocks() * 512));
                if bytes > limits.folder_bytes {
                    return false;
                }
            }
        }
    }
    true
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
        file_bytes: u64,
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
                file_bytes: limits.folder_bytes,
                cpu_seconds: limits.timeout.as_secs().saturating_add(1),
            })
        }

        /// Arranges for the child to confine itself just before exec.
        pub fn apply_on_spawn(self, command: &mut Command) {
            let Confinement {
                ruleset,
                filter,
                memory_bytes,
                file_bytes,
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
                        || limit(libc::RLIMIT_FSIZE, file_bytes) < 0
                        || limit(libc::RLIMIT_NOFILE, 256) < 0
                    {
                        return fail();
                    }
                    if !drop_capabilities() {
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

    /// Leaves the child no capability, now or after exec, so a program run
    /// by root is root in name only: the bounding and ambient sets are
    /// emptied and the root exemptions locked off (where the process may:
    /// an ordinary user has nothing to drop), then the own sets cleared.
    /// Runs between fork and exec: system calls only.
    ///
    /// # Safety
    /// Only in the forked child, before exec.
    unsafe fn drop_capabilities() -> bool {
        const CAPABILITY_VERSION_3: u32 = 0x2008_0522;
        // SECBIT_NOROOT, _NO_SETUID_FIXUP, _KEEP_CAPS, _NO_CAP_AMBIENT_RAISE
        // and their locks, KEEP_CAPS itself off.
        const SECURE_BITS: libc::c_ulong = 0b1110_1111;
        #[repr(C)]
        struct Header {
            version: u32,
            pid: i32,
        }
        #[repr(C)]
        struct Data {
            effective: u32,
            permitted: u32,
            inheritable: u32,
        }
        // SAFETY: plain system calls on local data, errno read right after.
        unsafe {
            if libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
                0,
                0,
                0,
            ) < 0
                && *libc::__errno_location() != libc::EINVAL
            {
                return false;
            }
            for cap in 0..64 {
                if libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) < 0 {
                    match *libc::__errno_location() {
                        // Past the last capability this kernel knows.
                        libc::EINVAL => break,
                        // No CAP_SETPCAP: an ordinary user, nothing to drop.
                        libc::EPERM => break,
                        _ => return false,
                    }
                }
            }
            if libc::prctl(libc::PR_SET_SECUREBITS, SECURE_BITS, 0, 0, 0) < 0
                && *libc::__errno_location() != libc::EPERM
            {
                return false;
            }
            let header = Header {
                version: CAPABILITY_VERSION_3,
                pid: 0,
            };
            let none = [
                Data {
                    effective: 0,
                    permitted: 0,
                    inheritable: 0,
                },
                Data {
                    effective: 0,
                    permitted: 0,
                    inheritable: 0,
                },
            ];
            libc::syscall(libc::SYS_capset, &header as *const Header, none.as_ptr()) == 0
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
    /// BPF_JMP | BPF_JSET | BPF_K: jumps when any of the bits is set.
    const BPF_JSET_K: u16 = 0x05 | 0x40;
    /// BPF_RET | BPF_K.
    const BPF_RET_K: u16 = 0x06;
    const RET_ALLOW: u32 = 0x7fff_0000;
    const RET_KILL_PROCESS: u32 = 0x8000_0000;
    const RET_EPERM: u32 = 0x0005_0000 | libc::EPERM as u32;
    const RET_ENOSYS: u32 = 0x0005_0000 | libc::ENOSYS as u32;

    #[cfg(target_arch = "x86_64")]
    const AUDIT_ARCH: u32 = 0xC000_003E;
    #[cfg(target_arch = "aarch64")]
    const AUDIT_ARCH: u32 = 0xC000_00B7;

    /// The system calls a program computing an answer makes: files (within
    /// what Landlock allows), memory, threads, time, its own signals and
    /// limits, and the start of the interpreter. Everything else fails with
    /// EPERM: sockets, other processes (no fork, no signal, no trace, no
    /// rescheduling), process groups, namespaces, mounts, file modes,
    /// owners, times and attributes, device nodes, prctl (so the death
    /// signal stays), anonymous memory files, io_uring, BPF and the
    /// administration of the machine — and any call newer than this list.
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    const ALLOWED: &[libc::c_long] = &[
        // Descriptors.
        libc::SYS_read,
        libc::SYS_write,
        libc::SYS_readv,
        libc::SYS_writev,
        libc::SYS_pread64,
        libc::SYS_pwrite64,
        libc::SYS_preadv,
        libc::SYS_pwritev,
        libc::SYS_preadv2,
        libc::SYS_pwritev2,
        libc::SYS_lseek,
        libc::SYS_close,
        libc::SYS_close_range,
        libc::SYS_dup,
        libc::SYS_dup3,
        libc::SYS_fcntl,
        libc::SYS_ioctl,
        libc::SYS_pipe2,
        libc::SYS_ppoll,
        libc::SYS_pselect6,
        libc::SYS_epoll_create1,
        libc::SYS_epoll_ctl,
        libc::SYS_epoll_pwait,
        libc::SYS_epoll_pwait2,
        libc::SYS_eventfd2,
        libc::SYS_flock,
        libc::SYS_fsync,
        libc::SYS_fdatasync,
        libc::SYS_ftruncate,
        libc::SYS_fallocate,
        libc::SYS_fadvise64,
        libc::SYS_sendfile,
        libc::SYS_copy_file_range,
        // Paths (Landlock decides which).
        libc::SYS_openat,
        libc::SYS_openat2,
        libc::SYS_fstat,
        libc::SYS_newfstatat,
        libc::SYS_statx,
        libc::SYS_statfs,
        libc::SYS_fstatfs,
        libc::SYS_faccessat,
        libc::SYS_faccessat2,
        libc::SYS_getdents64,
        libc::SYS_getcwd,
        libc::SYS_chdir,
        libc::SYS_fchdir,
        libc::SYS_mkdirat,
        libc::SYS_unlinkat,
        libc::SYS_renameat,
        libc::SYS_renameat2,
        libc::SYS_linkat,
        libc::SYS_symlinkat,
        libc::SYS_readlinkat,
        libc::SYS_umask,
        libc::SYS_getxattr,
        libc::SYS_lgetxattr,
        libc::SYS_fgetxattr,
        libc::SYS_listxattr,
        libc::SYS_llistxattr,
        libc::SYS_flistxattr,
        // Memory.
        libc::SYS_brk,
        libc::SYS_mmap,
        libc::SYS_munmap,
        libc::SYS_mprotect,
        libc::SYS_mremap,
        libc::SYS_madvise,
        libc::SYS_mincore,
        libc::SYS_msync,
        libc::SYS_membarrier,
        // Threads (clone only for threads: see the filter) and waiting.
        libc::SYS_futex,
        libc::SYS_set_robust_list,
        libc::SYS_get_robust_list,
        libc::SYS_set_tid_address,
        libc::SYS_rseq,
        libc::SYS_sched_yield,
        libc::SYS_sched_getaffinity,
        libc::SYS_sched_getparam,
        libc::SYS_sched_getscheduler,
        libc::SYS_sched_get_priority_max,
        libc::SYS_sched_get_priority_min,
        libc::SYS_getcpu,
        libc::SYS_wait4,
        libc::SYS_waitid,
        libc::SYS_exit,
        libc::SYS_exit_group,
        // The interpreter's own start (Landlock limits what may run).
        libc::SYS_execve,
        // Its own signals and timers.
        libc::SYS_rt_sigaction,
        libc::SYS_rt_sigprocmask,
        libc::SYS_rt_sigreturn,
        libc::SYS_rt_sigpending,
        libc::SYS_rt_sigtimedwait,
        libc::SYS_rt_sigsuspend,
        libc::SYS_sigaltstack,
        libc::SYS_getitimer,
        libc::SYS_setitimer,
        // Time.
        libc::SYS_clock_gettime,
        libc::SYS_clock_getres,
        libc::SYS_clock_nanosleep,
        libc::SYS_nanosleep,
        libc::SYS_gettimeofday,
        libc::SYS_times,
        // Who and where it is.
        libc::SYS_getpid,
        libc::SYS_getppid,
        libc::SYS_gettid,
        libc::SYS_getuid,
        libc::SYS_geteuid,
        libc::SYS_getgid,
        libc::SYS_getegid,
        libc::SYS_getresuid,
        libc::SYS_getresgid,
        libc::SYS_getgroups,
        libc::SYS_getpgid,
        libc::SYS_getsid,
        libc::SYS_getpriority,
        libc::SYS_capget,
        libc::SYS_getrlimit,
        libc::SYS_getrusage,
        libc::SYS_uname,
        libc::SYS_sysinfo,
        libc::SYS_getrandom,
    ];

    /// The older forms only x86_64 has (aarch64 has just their `*at` and
    /// `p*` successors).
    #[cfg(target_arch = "x86_64")]
    const ALLOWED_LEGACY: &[libc::c_long] = &[
        libc::SYS_open,
        libc::SYS_creat,
        libc::SYS_stat,
        libc::SYS_lstat,
        libc::SYS_access,
        libc::SYS_pipe,
        libc::SYS_poll,
        libc::SYS_select,
        libc::SYS_dup2,
        libc::SYS_epoll_create,
        libc::SYS_epoll_wait,
        libc::SYS_eventfd,
        libc::SYS_getdents,
        libc::SYS_mkdir,
        libc::SYS_rmdir,
        libc::SYS_unlink,
        libc::SYS_rename,
        libc::SYS_link,
        libc::SYS_symlink,
        libc::SYS_readlink,
        libc::SYS_time,
        libc::SYS_alarm,
        libc::SYS_pause,
        libc::SYS_getpgrp,
        libc::SYS_arch_prctl,
    ];
    #[cfg(target_arch = "aarch64")]
    const ALLOWED_LEGACY: &[libc::c_long] = &[];

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
    /// kill the process; the allowed calls pass; the self-only calls pass
    /// when aimed at the caller; `clone` passes when it makes a thread and
    /// no namespace; `clone3`, whose flags sit behind a pointer a filter
    /// cannot read, answers ENOSYS so the C library falls back to `clone`;
    /// everything else fails with EPERM.
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
        for &nr in ALLOWED.iter().chain(ALLOWED_LEGACY) {
            program.push(op(BPF_JEQ_K, 0, 1, nr as u32));
            program.push(op(BPF_RET_K, 0, 0, RET_ALLOW));
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
        // prctl(option, …): reading options only, and naming a thread.
        let prctl_block = (3 + PRCTL_ALLOWED.len()) as u8;
        program.push(op(BPF_JEQ_K, 0, prctl_block, libc::SYS_prctl as u32));
        program.push(op(BPF_LD_W_ABS, 0, 0, 16));
        for (i, &option) in PRCTL_ALLOWED.iter().enumerate() {
            let to_allow = (PRCTL_ALLOWED.len() - i) as u8;
            program.push(op(BPF_JEQ_K, to_allow, 0, option as u32));
        }
        program.push(op(BPF_RET_K, 0, 0, RET_EPERM));
        program.push(op(BPF_RET_K, 0, 0, RET_ALLOW));
        // The accumulator holds args[0] now; nr again for what follows.
        program.push(op(BPF_LD_W_ABS, 0, 0, 0));
        // clone(flags, …): the flags are the low word of args[0].
        program.push(op(BPF_JEQ_K, 0, 5, libc::SYS_clone as u32));
        program.push(op(BPF_LD_W_ABS, 0, 0, 16));
        program.push(op(BPF_JSET_K, 2, 0, CLONE_NAMESPACES));
        program.push(op(BPF_JSET_K, 0, 1, libc::CLONE_THREAD as u32));
        program.push(op(BPF_RET_K, 0, 0, RET_ALLOW));
        program.push(op(BPF_RET_K, 0, 0, RET_EPERM));
        program.push(op(BPF_JEQ_K, 0, 1, libc::SYS_clone3 as u32));
        program.push(op(BPF_RET_K, 0, 0, RET_ENOSYS));
        program.push(op(BPF_RET_K, 0, 0, RET_EPERM));
        Ok(program)
    }

    /// The prctl options a program may use: queries, and a thread's name.
    /// Setting the death signal, dumpability, seccomp or anything else is
    /// refused.
    const PRCTL_ALLOWED: &[libc::c_int] = &[
        libc::PR_GET_PDEATHSIG,
        libc::PR_GET_DUMPABLE,
        libc::PR_SET_NAME,
        libc::PR_GET_NAME,
        libc::PR_GET_SECCOMP,
        libc::PR_GET_NO_NEW_PRIVS,
        libc::PR_CAPBSET_READ,
    ];

    /// Every CLONE_NEW* flag (0x80 is CLONE_NEWTIME), refused even on a
    /// thread.
    const CLONE_NAMESPACES: u32 = (libc::CLONE_NEWNS
        | libc::CLONE_NEWCGROUP
        | libc::CLONE_NEWUTS
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWUSER
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWNET
        | 0x80) as u32;

    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    fn seccomp_filter() -> Result<Vec<SockFilter>, SandboxError> {
        Err(SandboxError::UnsupportedArch)
    }

    #[cfg(all(test, any(target_arch = "x86_64", target_arch = "aarch64")))]
    mod filter_tests {
        //! The seccomp program run on a small classic-BPF evaluator: every
        //! decision it makes, and every jump inside it.
        use super::*;

        /// What the filter answers for call `nr` with `args` from `arch`.
        fn decide(program: &[SockFilter], arch: u32, nr: i64, args: [u64; 6]) -> u32 {
            let mut data = [0u8; 64];
            data[0..4].copy_from_slice(&(nr as u32).to_le_bytes());
            data[4..8].copy_from_slice(&arch.to_le_bytes());
            for (i, a) in args.iter().enumerate() {
                data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
            }
            let (mut pc, mut acc) = (0usize, 0u32);
            loop {
                let ins = program[pc];
                let k = ins.k;
                let jump = |taken: bool| pc + 1 + if taken { ins.jt } else { ins.jf } as usize;
                pc = match ins.code {
                    BPF_LD_W_ABS => {
                        let at = k as usize;
                        acc = u32::from_le_bytes(data[at..at + 4].try_into().expect("a word"));
                        pc + 1
                    }
                    BPF_JEQ_K => jump(acc == k),
                    BPF_JGE_K => jump(acc >= k),
                    BPF_JSET_K => jump(acc & k != 0),
                    BPF_RET_K => return k,
                    other => panic!("unknown instruction {other:#x} at {pc}"),
                };
                assert!(pc < program.len(), "a jump past the end");
            }
        }

        fn call(nr: i64, args: [u64; 6]) -> u32 {
            decide(&seccomp_filter().expect("a filter"), AUDIT_ARCH, nr, args)
        }

        #[test]
        fn every_allowed_call_passes_and_nothing_else_does() {
            for &nr in ALLOWED.iter().chain(ALLOWED_LEGACY) {
                assert_eq!(call(nr, [7; 6]), RET_ALLOW, "call {nr}");
            }
            for nr in [
                libc::SYS_socket,
                libc::SYS_kill,
                libc::SYS_ptrace,
                libc::SYS_setsid,
                libc::SYS_mount,
                libc::SYS_unshare,
                libc::SYS_fchmodat,
                libc::SYS_mknodat,
                libc::SYS_memfd_create,
                libc::SYS_io_uring_setup,
                libc::SYS_bpf,
                libc::SYS_reboot,
                libc::SYS_setpriority,
                libc::SYS_personality,
                999,
            ] {
                assert_eq!(call(nr, [0; 6]), RET_EPERM, "call {nr}");
            }
        }

        #[test]
        fn other_architectures_and_x32_are_killed() {
            let program = seccomp_filter().expect("a filter");
            assert_eq!(
                decide(&program, 0x4000_0003, libc::SYS_read, [0; 6]),
                RET_KILL_PROCESS
            );
            assert_eq!(
                decide(&program, AUDIT_ARCH, 0x4000_0000 | libc::SYS_read, [0; 6]),
                RET_KILL_PROCESS
            );
        }

        #[test]
        fn clone_makes_threads_only_and_clone3_falls_back() {
            let thread = (libc::CLONE_VM
                | libc::CLONE_FS
                | libc::CLONE_FILES
                | libc::CLONE_SIGHAND
                | libc::CLONE_THREAD
                | libc::CLONE_SYSVSEM) as u64;
            assert_eq!(call(libc::SYS_clone, [thread, 0, 0, 0, 0, 0]), RET_ALLOW);
            let fork = libc::SIGCHLD as u64;
            assert_eq!(call(libc::SYS_clone, [fork, 0, 0, 0, 0, 0]), RET_EPERM);
            let with_namespace = thread | libc::CLONE_NEWUSER as u64;
            assert_eq!(
                call(libc::SYS_clone, [with_namespace, 0, 0, 0, 0, 0]),
                RET_EPERM
            );
            assert_eq!(call(libc::SYS_clone3, [0; 6]), RET_ENOSYS);
        }

        #[test]
        fn prctl_reads_but_does_not_set() {
            let option = |o: libc::c_int| [o as u64, 0, 0, 0, 0, 0];
            for &o in PRCTL_ALLOWED {
                assert_eq!(call(libc::SYS_prctl, option(o)), RET_ALLOW, "option {o}");
            }
            for o in [
                libc::PR_SET_PDEATHSIG,
                libc::PR_SET_DUMPABLE,
                libc::PR_SET_SECCOMP,
                libc::PR_SET_PTRACER,
                libc::PR_CAP_AMBIENT,
            ] {
                assert_eq!(call(libc::SYS_prctl, option(o)), RET_EPERM, "option {o}");
            }
        }

        #[test]
        fn self_only_calls_reach_the_caller_only() {
            for &nr in SELF_ONLY {
                assert_eq!(call(nr, [0; 6]), RET_ALLOW, "call {nr} on itself");
                assert_eq!(call(nr, [1234; 6]), RET_EPERM, "call {nr} on another");
                // A pid whose low word is 0 is another process still.
                assert_eq!(call(nr, [1 << 32, 0, 0, 0, 0, 0]), RET_EPERM);
            }
        }
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
