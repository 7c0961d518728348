//! The escape suite: the code-execution sandbox on the real interpreter,
//! tried the ways a hostile program would. A program computes and prints;
//! it cannot read or write outside its folder, reach the network, start a
//! process, outlive its timeout or promptlab, pass its memory or folder
//! ceiling, use promptlab's open descriptors, limit or renice other
//! processes, change the mode, owner, times or attributes of a file outside
//! its folder, hold a capability, administer the machine or undo its own
//! confinement. Run as root (as CI runs), the suite also runs itself again
//! as an unprivileged user.
//!
//! `unsafe` here only to make what the program must not reach: descriptors
//! without close-on-exec (`dup`), an attribute query, a group kill.
#![allow(unsafe_code)]

use std::io::ErrorKind;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use promptlab_methods::sandbox::{python, run_python, Limits, Status};

fn run(code: &str) -> promptlab_methods::sandbox::CodeRun {
    run_with(code, Limits::default())
}

fn run_with(code: &str, limits: Limits) -> promptlab_methods::sandbox::CodeRun {
    let python = python().unwrap_or_else(|e| panic!("{e}"));
    run_python(code, python, &limits).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_program_computes_and_prints() {
    let run = run("import math\nprint(sum(range(10)) * math.factorial(3))\n");
    assert_eq!(run.status, Status::Exited { code: 0 }, "{}", run.stderr);
    assert_eq!(run.stdout.trim(), "270");
    assert!(run.succeeded());
    assert_eq!(run.failure(), None);
}

#[test]
fn an_exception_is_a_failure_with_its_last_line() {
    let run = run("x = 1 / 0\n");
    assert_eq!(run.status, Status::Exited { code: 1 });
    let failure = run.failure().expect("a failure");
    assert!(failure.contains("ZeroDivisionError"), "{failure}");
}

#[test]
fn it_reads_and_writes_its_own_folder() {
    let run = run(
        "open('notes.txt', 'w').write('kept')\nimport os\nos.mkdir('sub')\nprint(open('notes.txt').read(), sorted(os.listdir('.')))\n",
    );
    assert_eq!(
        run.stdout.trim(),
        "kept ['notes.txt', 'program.py', 'sub']",
        "{}",
        run.stderr
    );
}

#[test]
fn it_cannot_read_outside_its_folder() {
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.txt");
    std::fs::write(&secret, "the secret").unwrap();
    let project = env!("CARGO_MANIFEST_DIR");
    let code = format!(
        r#"
for path in [{secret:?}, "/etc/passwd", "/etc/hostname", {readme:?}]:
    try:
        print(path, "READ", open(path).read()[:20])
    except OSError as e:
        print(path, "DENIED", type(e).__name__)
for folder in [{outside:?}, {project:?}, "/root", "/tmp", "/proc/1"]:
    try:
        import os
        print(folder, "LISTED", os.listdir(folder)[:3])
    except OSError as e:
        print(folder, "DENIED", type(e).__name__)
"#,
        secret = secret.to_str().unwrap(),
        readme = format!("{project}/README.md"),
        outside = outside.path().to_str().unwrap(),
    );
    let run = run(&code);
    assert!(run.succeeded(), "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 9, "{}", run.stdout);
    for line in &lines {
        assert!(line.contains("DENIED"), "escaped: {line}");
    }
    assert!(!run.stdout.contains("the secret"));
}

#[test]
fn it_cannot_write_outside_its_folder() {
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("written.txt");
    let victim = outside.path().join("victim.txt");
    std::fs::write(&victim, "intact").unwrap();
    let code = format!(
        r#"
import os
for attempt in [lambda: open({target:?}, "w").write("x"),
                lambda: open({victim:?}, "a").write("x"),
                lambda: os.truncate({victim:?}, 0),
                lambda: os.remove({victim:?}),
                lambda: os.symlink({victim:?}, "link") or open("link", "w").write("x")]:
    try:
        attempt()
        print("WROTE")
    except OSError as e:
        print("DENIED", type(e).__name__)
"#,
        target = target.to_str().unwrap(),
        victim = victim.to_str().unwrap(),
    );
    let run = run(&code);
    assert!(run.succeeded(), "{}", run.stderr);
    assert_eq!(run.stdout.matches("DENIED").count(), 5, "{}", run.stdout);
    assert!(!target.exists());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "intact");
}

#[test]
fn it_cannot_reach_the_network() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let code = format!(
        r#"
import socket
for attempt in [lambda: socket.create_connection(("127.0.0.1", {port}), timeout=2),
                lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.1", {port})),
                lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM),
                lambda: socket.getaddrinfo("localhost", 80)]:
    try:
        attempt()
        print("CONNECTED")
    except OSError as e:
        print("DENIED", type(e).__name__)
"#
    );
    let run = run(&code);
    assert!(run.succeeded(), "{}", run.stderr);
    assert_eq!(run.stdout.matches("DENIED").count(), 4, "{}", run.stdout);
    match listener.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("the listener was reached: {other:?}"),
    }
}

/// Whether process `pid` is gone (or a zombie nobody has reaped yet).
fn is_dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => {
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            state.starts_with('Z') || state.starts_with('X')
        }
    }
}

#[test]
fn it_cannot_outlive_its_timeout() {
    let code =
        "import time\nprint('pid', __import__('os').getpid(), flush=True)\ntime.sleep(120)\n";
    let limits = Limits {
        timeout: Duration::from_secs(2),
        ..Limits::default()
    };
    let start = Instant::now();
    let run = run_with(code, limits);
    let took = start.elapsed();
    assert_eq!(run.status, Status::TimedOut);
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert_eq!(run.failure().as_deref(), Some("timed out"));
    let pid: u32 = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("pid "))
        .expect("the pid line")
        .parse()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(is_dead(pid), "process {pid} outlived the timeout");
}

#[test]
fn it_starts_no_process_but_may_use_threads() {
    let code = r#"
import os, subprocess, concurrent.futures, multiprocessing
for attempt in [lambda: os.fork(),
                lambda: subprocess.run(["/bin/true"]),
                lambda: os.posix_spawn("/bin/true", ["true"], {}),
                lambda: multiprocessing.Process(target=print).start()]:
    try:
        if attempt() == 0:
            os._exit(0)
        print("STARTED")
    except OSError as e:
        print("DENIED", type(e).__name__)
with concurrent.futures.ThreadPoolExecutor(4) as pool:
    print("threads", sum(pool.map(lambda x: x * x, range(100))))
"#;
    let run = run(code);
    assert!(run.succeeded(), "{}", run.stderr);
    assert_eq!(run.stdout.matches("DENIED").count(), 4, "{}", run.stdout);
    assert!(run.stdout.contains("threads 328350"), "{}", run.stdout);
}

#[test]
fn it_holds_no_capability() {
    let code = r#"
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
header = (ctypes.c_uint32 * 2)(0x20080522, 0)
data = (ctypes.c_uint32 * 6)()
assert libc.capget(header, data) == 0, ctypes.get_errno()
print("effective", data[0] | data[3], "permitted", data[1] | data[4], "inheritable", data[2] | data[5])
print("bounding", sum(libc.prctl(23, cap, 0, 0, 0) == 1 for cap in range(64)))
print("no_new_privs", libc.prctl(39, 0, 0, 0, 0), "seccomp", libc.prctl(21, 0, 0, 0, 0))
"#;
    let run = run(code);
    assert!(run.succeeded(), "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    assert_eq!(lines[0], "effective 0 permitted 0 inheritable 0");
    assert_eq!(lines[2], "no_new_privs 1 seccomp 2");
    // Root's bounding set is emptied too; an ordinary user may not touch
    // its own, and with no_new_privs no exec can raise a capability in it.
    // SAFETY: a query without arguments.
    if unsafe { libc::geteuid() } == 0 {
        assert_eq!(lines[1], "bounding 0");
    }
}

#[test]
fn it_cannot_administer_the_machine_nor_reset_its_confinement() {
    let hostname_before = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let code = r#"
import ctypes, os, mmap
libc = ctypes.CDLL(None, use_errno=True)
def call(f, *args):
    ctypes.set_errno(0)
    result = f(*args)
    return "DENIED" if result < 0 else "ALLOWED"
buf = ctypes.create_string_buffer(4096)
print("syslog", call(libc.klogctl, 3, buf, 4096))
print("reboot", call(libc.reboot, 0))
print("sethostname", call(libc.sethostname, b"escaped", 7))
print("unshare", call(libc.unshare, 0x10000000))
print("mount", call(libc.mount, b"none", b".", b"tmpfs", 0, None))
print("memfd", call(libc.memfd_create, b"x", 0))
print("io_uring", call(libc.syscall, 425, 8, buf))
print("bpf", call(libc.syscall, 321, 0, buf, 64))
print("keyctl", call(libc.syscall, 250, 0, 0, 0, 0, 0))
print("personality", call(libc.personality, 0x0040000))
print("pdeathsig", call(libc.prctl, 1, 0, 0, 0, 0))
print("dumpable", call(libc.prctl, 4, 1, 0, 0, 0))
print("setuid", call(libc.setuid, 0))
v = ctypes.c_int()
libc.prctl(2, ctypes.byref(v))
print("death signal now", v.value)
"#;
    let run = run(code);
    assert!(run.succeeded(), "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 14, "{}", run.stdout);
    for line in &lines[..13] {
        assert!(
            line.ends_with("DENIED"),
            "{line} was allowed: {}",
            run.stdout
        );
    }
    assert_eq!(lines[13], "death signal now 9");
    let hostname_after = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(hostname_before, hostname_after);
}

#[test]
fn its_folder_has_a_ceiling_in_bytes_and_entries() {
    let limits = Limits {
        folder_bytes: 8 << 20,
        folder_entries: 200,
        timeout: Duration::from_secs(20),
        ..Limits::default()
    };
    let start = Instant::now();
    let run = run_with(
        "import time\nfor i in range(1000):\n    open(f'f{i}', 'wb').write(b'x' * (1 << 20))\nprint('wrote all')\ntime.sleep(30)\n",
        limits,
    );
    assert_eq!(run.status, Status::FolderFull, "{}", run.stderr);
    assert!(!run.stdout.contains("wrote all"));
    assert!(start.elapsed() < Duration::from_secs(15));
    assert_eq!(
        run.failure().as_deref(),
        Some("wrote more to its folder than allowed")
    );
    // One file past the ceiling stops at the ceiling: the file size limit.
    let run = run_with(
        "f = open('big', 'wb')\nfor i in range(64):\n    f.write(b'x' * (1 << 20))\n    f.flush()\nprint('wrote all')\n",
        limits,
    );
    assert!(!run.stdout.contains("wrote all"), "{}", run.stdout);
    // Many empty entries are counted too.
    let run = run_with(
        "import os, time\nfor i in range(5000):\n    os.mkdir(f'd{i}')\nprint('made all')\ntime.sleep(30)\n",
        limits,
    );
    assert_eq!(run.status, Status::FolderFull, "{}", run.stderr);
}

#[test]
fn memory_past_the_ceiling_fails_the_program() {
    let limits = Limits {
        memory_bytes: 256 << 20,
        ..Limits::default()
    };
    let run = run_with(
        "block = bytearray(1024 * 1024 * 1024)\nprint('allocated')\n",
        limits,
    );
    assert!(!run.succeeded());
    assert!(!run.stdout.contains("allocated"));
    assert!(run.stderr.contains("MemoryError"), "{}", run.stderr);
}

#[test]
fn output_is_capped() {
    let limits = Limits {
        output_bytes: 1000,
        ..Limits::default()
    };
    let run = run_with("print('x' * 100000)\n", limits);
    assert!(run.succeeded());
    assert_eq!(run.stdout.len(), 1000);
}

/// The state, nice value and CPU ceiling of process `pid`, as the kernel
/// shows them.
fn cpu_limit_and_nice(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let cpu = limits
        .lines()
        .find(|l| l.starts_with("Max cpu time"))
        .expect("a cpu line")
        .to_string();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command: state is field 3, nice field 19.
    let nice = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .nth(16)
        .unwrap()
        .to_string();
    (cpu, nice)
}

#[test]
fn it_cannot_use_descriptors_of_promptlab() {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    let outside = tempfile::tempdir().unwrap();
    let victim_path = outside.path().join("open.txt");
    let victim = std::fs::File::create(&victim_path).unwrap();
    // SAFETY: dup of an open descriptor; the copy has no close-on-exec.
    let file_fd = unsafe { libc::dup(victim.as_raw_fd()) };
    assert!(file_fd >= 3);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut server, _) = listener.accept().unwrap();
    // SAFETY: as above, for the connected socket and the listener.
    let socket_fd = unsafe { libc::dup(client.as_raw_fd()) };
    // SAFETY: as above.
    let listener_fd = unsafe { libc::dup(listener.as_raw_fd()) };
    assert!(socket_fd >= 3 && listener_fd >= 3);
    let code = r#"
import os, socket
wrote, accepted = [], []
for fd in range(3, 256):
    try:
        os.write(fd, b"ESCAPED")
        wrote.append(fd)
    except OSError:
        pass
    try:
        s = socket.socket(fileno=fd)
        s.setblocking(False)
        s.accept()
        accepted.append(fd)
    except OSError:
        pass
print("wrote", wrote, "accepted", accepted)
"#;
    let run = run(code);
    let _ = std::net::TcpStream::connect(listener.local_addr().unwrap());
    // SAFETY: closing the copies made above.
    unsafe {
        libc::close(file_fd);
        libc::close(socket_fd);
        libc::close(listener_fd);
    }
    assert!(run.succeeded(), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&victim_path).unwrap(), "");
    server.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 64];
    match server.read(&mut buf) {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("the socket was written: {other:?}, {}", run.stdout),
    }
    assert!(
        run.stdout.contains("accepted []"),
        "the listener was used: {}",
        run.stdout
    );
}

#[test]
fn it_has_a_parent_death_signal() {
    let run = run(
        "import ctypes\nv = ctypes.c_int()\nctypes.CDLL(None).prctl(2, ctypes.byref(v))\nprint(v.value)\n",
    );
    assert!(run.succeeded(), "{}", run.stderr);
    assert_eq!(run.stdout.trim(), "9");
}

/// Not a test of its own: the process `it_dies_with_promptlab` kills.
#[test]
#[ignore = "run by it_dies_with_promptlab, in a process of its own"]
fn host_for_the_death_test() {
    if std::env::var_os("PROMPTLAB_SANDBOX_DEATH_HOST").is_none() {
        return;
    }
    let limits = Limits {
        timeout: Duration::from_secs(60),
        ..Limits::default()
    };
    let _ = run_with("import time\ntime.sleep(60)\n", limits);
}

/// The parent of process `pid`, if it lives.
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')')
        .next()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[test]
fn it_dies_with_promptlab() {
    let mut host = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "host_for_the_death_test",
            "--ignored",
            "--test-threads=1",
        ])
        .env("PROMPTLAB_SANDBOX_DEATH_HOST", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let host_pid = host.id();
    let deadline = Instant::now() + Duration::from_secs(20);
    let program = loop {
        let found = std::fs::read_dir("/proc").unwrap().find_map(|entry| {
            let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
            let name = exe.file_name()?.to_str()?.to_string();
            // The program, not the interpreter's install query before it.
            let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).ok()?;
            let in_its_folder = cwd.file_name()?.to_str()?.starts_with("promptlab-code-");
            (parent_of(pid) == Some(host_pid) && name.starts_with("python") && in_its_folder)
                .then_some(pid)
        });
        if let Some(pid) = found {
            break pid;
        }
        assert!(Instant::now() < deadline, "the program never started");
        std::thread::sleep(Duration::from_millis(20));
    };
    let folder = std::fs::read_link(format!("/proc/{program}/cwd")).unwrap();
    host.kill().unwrap();
    host.wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let dead = is_dead(program);
    // SAFETY: killing the program's own group (its pid), whatever happened.
    unsafe {
        libc::kill(-(program as i32), libc::SIGKILL);
    }
    assert!(dead, "the program {program} outlived promptlab");
    // A killed promptlab cannot remove the folder; the next one does.
    assert!(folder.is_dir(), "{}", folder.display());
    promptlab_methods::sandbox::sweep_abandoned_folders(folder.parent().unwrap());
    assert!(!folder.exists(), "{} was left behind", folder.display());
}

#[test]
fn it_cannot_limit_or_renice_other_processes() {
    let mut victim = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let pid = victim.id();
    let before = cpu_limit_and_nice(pid);
    let code = format!(
        r#"
import os, resource
for attempt in [lambda: resource.prlimit({pid}, resource.RLIMIT_CPU, (1, 1)),
                lambda: resource.prlimit({pid}, resource.RLIMIT_CPU),
                lambda: os.setpriority(os.PRIO_PROCESS, {pid}, 19),
                lambda: os.setpriority(os.PRIO_PROCESS, 0, 19)]:
    try:
        attempt()
        print("CHANGED")
    except OSError as e:
        print("DENIED", type(e).__name__)
soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
resource.setrlimit(resource.RLIMIT_CPU, (soft - 1, hard))
print("own", resource.prlimit(0, resource.RLIMIT_CPU) == (soft - 1, hard))
"#
    );
    let run = run(&code);
    let after = cpu_limit_and_nice(pid);
    let _ = victim.kill();
    let _ = victim.wait();
    assert!(run.succeeded(), "{}", run.stderr);
    assert_eq!(before, after, "{}", run.stdout);
    assert_eq!(run.stdout.matches("DENIED").count(), 4, "{}", run.stdout);
    assert!(run.stdout.contains("own True"), "{}", run.stdout);
}

#[test]
fn it_cannot_change_files_outside_its_folder_nor_make_devices() {
    use std::os::unix::fs::MetadataExt;
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim.txt");
    std::fs::write(&victim, "intact").unwrap();
    let before = std::fs::metadata(&victim).unwrap();
    let code = format!(
        r#"
import os, stat
path = {victim:?}
for attempt in [lambda: os.chmod(path, 0o777),
                lambda: os.chown(path, 1234, 1234),
                lambda: os.utime(path, (0, 0)),
                lambda: os.setxattr(path, "user.promptlab", b"x"),
                lambda: os.mknod("null", 0o666 | stat.S_IFCHR, os.makedev(1, 3)),
                lambda: os.chroot(".")]:
    try:
        attempt()
        print("CHANGED")
    except OSError as e:
        print("DENIED", type(e).__name__)
"#,
        victim = victim.to_str().unwrap(),
    );
    let run = run(&code);
    assert!(run.succeeded(), "{}", run.stderr);
    let after = std::fs::metadata(&victim).unwrap();
    assert_eq!(before.mode(), after.mode());
    assert_eq!((before.uid(), before.gid()), (after.uid(), after.gid()));
    assert_eq!(before.mtime(), after.mtime());
    let c_path = std::ffi::CString::new(victim.to_str().unwrap()).unwrap();
    // SAFETY: a size query (null buffer, length 0) on a NUL-terminated path.
    let size = unsafe {
        libc::getxattr(
            c_path.as_ptr(),
            c"user.promptlab".as_ptr(),
            std::ptr::null_mut(),
            0,
        )
    };
    assert!(size < 0, "the attribute was set");
    assert_eq!(run.stdout.matches("DENIED").count(), 6, "{}", run.stdout);
}

/// Set in the inner run of `the_suite_holds_for_an_unprivileged_user_too`.
const UNPRIVILEGED_RUN: &str = "PROMPTLAB_ESCAPE_UNPRIVILEGED";
/// The user and group the inner run takes (`nobody`).
const NOBODY: u32 = 65534;

/// A Python every user may run: `PROMPTLAB_PYTHON` when set, else the
/// system's.
fn python_for_anyone() -> std::path::PathBuf {
    std::env::var_os("PROMPTLAB_PYTHON")
        .map(Into::into)
        .unwrap_or_else(|| "/usr/bin/python3".into())
}

#[test]
fn the_suite_holds_for_an_unprivileged_user_too() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    if std::env::var_os(UNPRIVILEGED_RUN).is_some() {
        return;
    }
    // SAFETY: a query without arguments.
    if unsafe { libc::geteuid() } != 0 {
        // This run is the unprivileged case already.
        return;
    }
    // The test binary and a folder nobody may use, outside root's home.
    let home = tempfile::Builder::new()
        .prefix("promptlab-escape-")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let exe = home.path().join("escape");
    std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let python = python_for_anyone();
    let output = std::process::Command::new(&exe)
        .args([
            "--test-threads=2",
            "--skip",
            "the_suite_holds_for_an_unprivileged_user_too",
        ])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home.path())
        .env("TMPDIR", "/tmp")
        .env("PROMPTLAB_PYTHON", &python)
        .env(UNPRIVILEGED_RUN, "1")
        .current_dir(home.path())
        .uid(NOBODY)
        .gid(NOBODY)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "as user {NOBODY} with {}: {text}\n{}",
        python.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let passed: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("test result: ok. "))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("a test summary");
    assert!(passed >= 17, "only {passed} ran unprivileged: {text}");
}
