//! The code-execution sandbox on the real interpreter: a program computes
//! and prints; it cannot read or write outside its folder, reach the
//! network, outlive its timeout (nor can what it forks), or pass its
//! memory ceiling.

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
