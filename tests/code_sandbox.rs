//! The code-execution sandbox on the real interpreter: a program computes
//! and prints; it cannot read or write outside its folder, reach the
//! network, outlive its timeout (nor can what it forks) or promptlab, pass
//! its memory ceiling, use promptlab's open descriptors, limit or renice
//! other processes, or change the mode, owner, times or attributes of a
//! file outside its folder.
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
fn it_cannot_outlive_its_timeout_nor_can_its_children() {
    // The forked child tries to leave the process group the timeout kills.
    let code = r#"
import os, time
pid = os.fork()
if pid == 0:
    try:
        os.setsid()
        print("child left the group", flush=True)
    except OSError:
        print("child setsid DENIED", flush=True)
    time.sleep(120)
    os._exit(0)
print("pids", os.getpid(), pid, flush=True)
time.sleep(120)
"#;
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
    assert!(run.stdout.contains("child setsid DENIED"), "{}", run.stdout);
    let pids: Vec<u32> = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("pids "))
        .expect("the pids line")
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 2);
    std::thread::sleep(Duration::from_millis(200));
    for pid in pids {
        assert!(is_dead(pid), "process {pid} outlived the timeout");
    }
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
            (parent_of(pid) == Some(host_pid) && name.starts_with("python")).then_some(pid)
        });
        if let Some(pid) = found {
            break pid;
        }
        assert!(Instant::now() < deadline, "the program never started");
        std::thread::sleep(Duration::from_millis(20));
    };
    host.kill().unwrap();
    host.wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let dead = is_dead(program);
    // SAFETY: killing the program's own group (its pid), whatever happened.
    unsafe {
        libc::kill(-(program as i32), libc::SIGKILL);
    }
    assert!(dead, "the program {program} outlived promptlab");
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
