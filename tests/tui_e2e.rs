//! The real binary in a real terminal: tmux at 80×24 on the default model.
//! Types a question, waits for the streamed answer, stops a long answer
//! with Esc, types while an answer streams, quits with Ctrl+C, and checks
//! the terminal was restored (cooked mode, main screen).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
}

impl Tmux {
    /// A detached session `app` of `width`×`height` running `script`, on a
    /// server of its own (`name` and this process's id).
    fn start(name: &str, width: u16, height: u16, script: &str) -> Tmux {
        let tmux = Tmux {
            socket: format!("promptlab-{name}-{}", std::process::id()),
        };
        let (width, height) = (width.to_string(), height.to_string());
        tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "app",
            "-x",
            &width,
            "-y",
            &height,
            script,
        ]);
        tmux
    }

    fn wait_for_model(&self) {
        self.wait_for("the model to load", Duration::from_secs(60), |s| {
            !s.contains("loading model") && s.contains("ctx 0/8192")
        });
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux must be installed for the terminal tests (.ci/run installs it)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "app"])
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "app"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// Polls the screen until `pred` holds; returns the screen and the wait.
    fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> (String, Duration) {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if pred(&screen) {
                return (screen, start.elapsed());
            }
            if start.elapsed() > timeout {
                panic!("timed out waiting for {what}; screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

/// The app on the default model, greedy, with its home, data, config and
/// cache in `dir`.
fn app_command(dir: &Path) -> String {
    format!(
        "cd {dir}; HOME={dir} XDG_DATA_HOME={dir}/data XDG_CONFIG_HOME={dir}/config \
         PROMPTLAB_CACHE_DIR={dir}/cache {bin} --model {model} --temperature 0",
        dir = shell_quote(dir),
        bin = shell_quote(Path::new(env!("CARGO_BIN_EXE_promptlab"))),
        model = shell_quote(&common::default_model_path()),
    )
}

fn shell_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

#[test]
fn chat_in_tmux_streams_stops_and_restores_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let script = format!(
        "{app} --max-tokens 120; stty -a > {dir}/stty.txt; echo PROMPTLAB-EXITED; sleep 120",
        app = app_command(d),
        dir = shell_quote(d),
    );
    let tmux = Tmux::start("chat", 80, 24, &script);
    tmux.wait_for_model();

    // A question and its streamed answer.
    tmux.keys(&["-l", "What is the capital of France?"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("the answer to start", Duration::from_secs(60), |s| {
        s.contains("generating")
    });
    let (screen, _) = tmux.wait_for("the answer to finish", Duration::from_secs(120), |s| {
        !s.contains("generating") && s.contains("tok/s")
    });
    assert!(
        screen.contains("What is the capital of France?"),
        "{screen}"
    );
    assert!(screen.contains("Paris"), "{screen}");
    assert!(screen.contains("SmolLM2-135M-Instruct"), "{screen}");

    // A long answer: type while it streams, then stop it with Esc.
    tmux.keys(&[
        "-l",
        "Write a long story about a dragon who learns to cook.",
    ]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("the story to stream", Duration::from_secs(60), |s| {
        s.contains("generating")
    });
    std::thread::sleep(Duration::from_millis(500));
    tmux.keys(&["-l", "typed while streaming"]);
    let (_, latency) = tmux.wait_for("typed text to show", Duration::from_secs(10), |s| {
        s.contains("typed while streaming")
    });
    eprintln!("typing echoed on screen after {latency:?} while tokens streamed");
    tmux.keys(&["Escape"]);
    let (screen, _) = tmux.wait_for("the stop", Duration::from_secs(20), |s| {
        s.contains("[stopped")
    });
    assert!(!screen.contains("generating"), "{screen}");
    assert!(
        screen.contains("typed while streaming"),
        "the typed text is kept: {screen}"
    );

    // Ctrl+C quits; the shell after it runs in a restored terminal.
    tmux.keys(&["C-c"]);
    let (screen, _) = tmux.wait_for("exit", Duration::from_secs(20), |s| {
        s.contains("PROMPTLAB-EXITED")
    });
    assert!(
        !screen.contains("┌ chat"),
        "alternate screen left: {screen}"
    );
    let stty = std::fs::read_to_string(d.join("stty.txt")).unwrap();
    assert!(
        stty.contains(" icanon") && !stty.contains("-icanon"),
        "raw mode left on: {stty}"
    );
    assert!(
        stty.contains(" echo ") && !stty.contains("-echo "),
        "echo left off: {stty}"
    );
    // The session was autosaved.
    let saved = std::fs::read_to_string(only_conversation_file(d)).unwrap();
    assert!(saved.contains("What is the capital of France?"));
    assert!(saved.contains("\"stop_reason\": \"cancelled\""));
}

#[test]
fn compare_pane_in_tmux_runs_a_method_and_shows_its_answer() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Max tokens caps every call of the comparison: a short run.
    let script = format!(
        "{app} --max-tokens 24; echo PROMPTLAB-EXITED; sleep 120",
        app = app_command(d),
    );
    let tmux = Tmux::start("compare", 100, 30, &script);
    tmux.wait_for_model();
    tmux.keys(&["F3"]);
    tmux.wait_for("the compare pane", Duration::from_secs(10), |s| {
        s.contains("methods · 0 selected") && s.contains("code execution: off")
    });
    // Typing in the list finds a method; space selects it.
    tmux.keys(&["-l", "basic-zero"]);
    tmux.wait_for("the search", Duration::from_secs(10), |s| {
        s.contains("find: basic-zero")
    });
    tmux.keys(&["Space"]);
    tmux.wait_for("the selection", Duration::from_secs(10), |s| {
        s.contains("[x] 2.1  basic-zero-shot")
    });
    tmux.keys(&["Tab"]);
    tmux.keys(&["-l", "What is 2 + 3?"]);
    tmux.keys(&["Enter"]);
    let (screen, waited) = tmux.wait_for("the summary row", Duration::from_secs(120), |s| {
        s.contains("done: 1 method") && s.contains("answer: ")
    });
    eprintln!("basic-zero-shot answered in the pane after {waited:?}");
    assert!(screen.contains("┌ basic-zero-shot"), "{screen}");
    assert!(screen.contains("Q: What is 2 + 3?"), "{screen}");
    assert!(screen.contains("answer: 5"), "{screen}");
    assert!(screen.contains("1 call ·"), "{screen}");
    // The answer's step opens with its full prompt.
    tmux.keys(&["Home"]);
    tmux.keys(&["Down"]);
    tmux.keys(&["Enter"]);
    let (screen, _) = tmux.wait_for("the step overlay", Duration::from_secs(10), |s| {
        s.contains("basic-zero-shot · response · call 1/1")
    });
    assert!(
        screen.contains("prompt") && screen.contains("output"),
        "{screen}"
    );
    tmux.keys(&["Escape"]);
    tmux.wait_for("the overlay to close", Duration::from_secs(10), |s| {
        !s.contains("call 1/1")
    });
    // The run exports as Markdown and JSON lines.
    tmux.keys(&["C-x"]);
    tmux.wait_for("the export", Duration::from_secs(10), |s| {
        s.contains("exported to")
    });
    let runs = dir.path().join("data/promptlab/runs");
    let files: Vec<_> = std::fs::read_dir(&runs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let markdown = files
        .iter()
        .find(|p| p.extension().is_some_and(|x| x == "md"))
        .unwrap();
    assert!(std::fs::read_to_string(markdown)
        .unwrap()
        .contains("## basic-zero-shot"));
    let jsonl = files
        .iter()
        .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .unwrap();
    let record: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(jsonl)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(record["method"], "basic-zero-shot");
    tmux.keys(&["C-c"]);
    tmux.wait_for("exit", Duration::from_secs(20), |s| {
        s.contains("PROMPTLAB-EXITED")
    });
}

#[test]
fn eval_pane_in_tmux_runs_a_shipped_suite_and_shares_its_store_with_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let suites = common::repo_path("prompts");
    let script = format!(
        "{app} --suites {suites}; echo PROMPTLAB-EXITED; sleep 120",
        app = app_command(d),
        suites = shell_quote(&suites),
    );
    let tmux = Tmux::start("eval", 80, 24, &script);
    tmux.wait_for_model();
    tmux.keys(&["F7"]);
    tmux.wait_for("the suites", Duration::from_secs(10), |s| {
        s.contains("▶ bbh-boolean") && s.contains("gsm8k-cot")
    });
    // Two items of each arm: four trials.
    tmux.keys(&["+"]);
    tmux.keys(&["+"]);
    tmux.wait_for("the limit", Duration::from_secs(10), |s| {
        s.contains("items: first 2")
    });
    tmux.keys(&["Enter"]);
    let (screen, waited) = tmux.wait_for("the run to end", Duration::from_secs(300), |s| {
        s.contains("4/4 pass") && s.contains("done in")
    });
    eprintln!("four bbh-boolean trials in the pane after {waited:?}");
    assert!(screen.contains("arm "), "{screen}");
    assert!(screen.contains("direct "), "{screen}");
    assert!(screen.contains("step-by-step "), "{screen}");
    assert!(screen.contains("step-by-step vs direct: "), "{screen}");
    assert!(screen.contains("McNemar p"), "{screen}");
    assert!(screen.contains("trials: 4 of 4 shown"), "{screen}");
    // The notice wraps at 80 columns.
    assert!(screen.contains("(4 run now, 0 from the"), "{screen}");
    // The first trial's drill-down, and back.
    tmux.keys(&["Enter"]);
    let (screen, _) = tmux.wait_for("the drill-down", Duration::from_secs(10), |s| {
        s.contains("Esc closes") && s.contains("assertions")
    });
    assert!(screen.contains("item 1 · direct / direct"), "{screen}");
    assert!(screen.contains("call 1 of 1 (direct): prompt"), "{screen}");
    tmux.keys(&["Escape"]);
    tmux.wait_for("the results again", Duration::from_secs(10), |s| {
        s.contains("trials: 4 of 4 shown")
    });
    // Every report is there, a line per trial.
    let out = d.join("eval-runs/bbh-boolean");
    let results = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    assert_eq!(results.lines().count(), 4, "{results}");
    for file in ["results.csv", "junit.xml", "report.html"] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    tmux.keys(&["C-c"]);
    tmux.wait_for("exit", Duration::from_secs(20), |s| {
        s.contains("PROMPTLAB-EXITED")
    });
    // `promptlab eval` finds every trial in the pane's store.
    let model = common::default_model_path();
    let suite = suites.join("bbh-boolean.yaml");
    let run = Command::new(env!("CARGO_BIN_EXE_promptlab"))
        .current_dir(d)
        .env("HOME", d)
        .env("PROMPTLAB_CACHE_DIR", d.join("cache"))
        .args(["eval", suite.to_str().unwrap(), "--limit", "2", "--model"])
        .arg(&model)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("4 trials: 0 run now, 4 from the store"),
        "{stderr}"
    );
}

#[test]
fn a_panic_inside_the_app_restores_the_terminal_and_prints_the_message() {
    let dir = tempfile::tempdir().unwrap();
    // target/debug/deps/<test> -> target/debug/examples/panic_restore
    let exe = std::env::current_exe().unwrap();
    let example = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/panic_restore");
    if !example.exists() {
        // `cargo test` builds examples; a filtered `cargo test --test` does not.
        let status = Command::new(env!("CARGO"))
            .args(["build", "--example", "panic_restore"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(status.success());
    }
    let script = format!(
        "{bin} > {dir}/output.txt 2>&1; stty -a > {dir}/stty.txt; echo PANIC-EXITED; sleep 60",
        dir = shell_quote(dir.path()),
        bin = shell_quote(&example),
    );
    let tmux = Tmux::start("panic", 80, 24, &script);
    tmux.wait_for("exit", Duration::from_secs(20), |s| {
        s.contains("PANIC-EXITED")
    });
    let stty = std::fs::read_to_string(dir.path().join("stty.txt")).unwrap();
    assert!(
        stty.contains(" icanon") && !stty.contains("-icanon"),
        "raw mode left on: {stty}"
    );
    // The message comes after the sequence that leaves the alternate screen.
    let output = std::fs::read_to_string(dir.path().join("output.txt")).unwrap();
    let leave = output
        .find("\u{1b}[?1049l")
        .expect("the alternate screen is left");
    let message = output
        .find("deliberate panic inside the app")
        .expect("the panic message");
    assert!(message > leave, "{output:?}");
}

/// The app's process in session `tmux` (the shell's child running the
/// binary).
fn app_pid(tmux: &Tmux) -> u32 {
    let shell: u32 = tmux
        .run(&["display-message", "-p", "-t", "app", "#{pane_pid}"])
        .trim()
        .parse()
        .expect("the pane's pid");
    let bin = std::fs::canonicalize(env!("CARGO_BIN_EXE_promptlab")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = std::fs::read_dir("/proc").unwrap().find_map(|entry| {
            let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let parent: u32 = stat
                .rsplit(')')
                .next()?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
            (parent == shell && exe == bin).then_some(pid)
        });
        if let Some(pid) = found {
            return pid;
        }
        assert!(Instant::now() < deadline, "no promptlab under pane {shell}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The one conversation file the app wrote under `dir`'s data folder.
fn only_conversation_file(dir: &Path) -> std::path::PathBuf {
    let folder = dir.join("data/promptlab/conversations");
    let files: Vec<_> = std::fs::read_dir(&folder)
        .unwrap_or_else(|e| panic!("{}: {e}", folder.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

/// The last turn of the autosaved conversation in `dir`.
fn last_saved_turn(dir: &Path) -> serde_json::Value {
    let path = only_conversation_file(dir);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let saved: serde_json::Value = serde_json::from_str(&text).unwrap();
    saved["turns"]
        .as_array()
        .and_then(|t| t.last())
        .cloned()
        .expect("a saved turn")
}

/// Starts the app in tmux, asks for a long answer and waits until some of
/// it has streamed.
fn app_generating(name: &str, dir: &Path) -> Tmux {
    let script = format!(
        "{app} --max-tokens 4000; echo \"status $?\" > {dir}/status.txt; stty -a > {dir}/stty.txt; \
         echo PROMPTLAB-EXITED; sleep 120",
        app = app_command(dir),
        dir = shell_quote(dir),
    );
    let tmux = Tmux::start(name, 80, 24, &script);
    tmux.wait_for_model();
    tmux.keys(&[
        "-l",
        "Write a long story about a dragon who learns to cook.",
    ]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("the story to stream", Duration::from_secs(60), |s| {
        s.contains("generating")
    });
    std::thread::sleep(Duration::from_millis(1500));
    tmux
}

#[test]
fn signals_from_outside_restore_the_terminal_and_save_the_answer_in_flight() {
    for (signal, number) in [("TERM", 15), ("INT", 2), ("HUP", 1)] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let tmux = app_generating(&format!("signal{number}"), d);
        let pid = app_pid(&tmux);
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let (screen, _) = tmux.wait_for("exit", Duration::from_secs(20), |s| {
            s.contains("PROMPTLAB-EXITED")
        });
        assert!(
            !screen.contains("┌ chat"),
            "alternate screen left: {screen}"
        );
        let modes = tmux.run(&[
            "display-message",
            "-p",
            "-t",
            "app",
            "#{alternate_on} #{mouse_any_flag} #{cursor_flag}",
        ]);
        assert_eq!(
            modes.trim(),
            "0 0 1",
            "signal {number}: alternate screen, mouse reporting, cursor shown"
        );
        let stty = std::fs::read_to_string(d.join("stty.txt")).unwrap();
        assert!(
            stty.contains(" icanon") && !stty.contains("-icanon"),
            "{stty}"
        );
        let status = std::fs::read_to_string(d.join("status.txt")).unwrap();
        assert_eq!(status.trim(), format!("status {}", 128 + number));
        let turn = last_saved_turn(d);
        assert_eq!(turn["role"], "assistant", "{turn}");
        assert_eq!(turn["stop_reason"], "cancelled", "{turn}");
        let answer = turn["content"].as_str().unwrap();
        assert!(
            answer.len() > 20,
            "signal {number}: the answer in flight: {answer:?}"
        );
    }
}

#[test]
fn a_terminal_that_goes_away_saves_the_answer_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tmux = app_generating("hangup", d);
    let pid = app_pid(&tmux);
    // The terminal closes under the app: a real hangup.
    tmux.run(&["kill-session", "-t", "app"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        assert!(Instant::now() < deadline, "the app outlived its terminal");
        std::thread::sleep(Duration::from_millis(50));
    }
    let turn = last_saved_turn(d);
    assert_eq!(turn["stop_reason"], "cancelled", "{turn}");
    assert!(turn["content"].as_str().unwrap().len() > 20, "{turn}");
}

#[test]
fn escape_sequences_in_a_saved_conversation_do_not_reach_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A title change and an OSC 52 clipboard write in every string.
    let hostile = "\u{1b}]2;PWNED\u{7}\u{1b}]52;c;SGVsbG8=\u{7}\u{1b}[2J";
    let conversation = serde_json::json!({
        "version": 1,
        "system": format!("be kind {hostile} always"),
        "model": format!("model {hostile}"),
        "turns": [
            {"role": "user", "content": format!("hi {hostile}"), "parent": null,
             "tokens": [], "finished": true, "stop_reason": null},
            {"role": "assistant", "content": format!("hello {hostile}"), "parent": 0,
             "tokens": [{"text": format!("hello {hostile}"), "logprob": -0.1,
                         "top": [[format!("x{hostile}"), -0.2]]}],
             "finished": true, "stop_reason": "eos"}
        ],
        "leaf": 1
    });
    let file = d.join("hostile.json");
    std::fs::write(&file, conversation.to_string()).unwrap();
    let script = format!(
        "printf '\\033]2;clean\\007'; {app} --load {file}; sleep 60",
        app = app_command(d),
        file = shell_quote(&file),
    );
    let tmux = Tmux::start("osc", 80, 24, &script);
    tmux.wait_for_model();
    let title = || tmux.run(&["display-message", "-p", "-t", "app", "#{pane_title}"]);
    // The settings panel shows the system prompt; the probabilities view
    // and the token cursor show the tokens and their alternatives.
    for keys in [&["F2"][..], &["Escape"], &["C-p"], &["Tab"], &["Left"]] {
        tmux.keys(keys);
        std::thread::sleep(Duration::from_millis(300));
        let screen = tmux.screen();
        assert!(screen.contains("hi"), "{screen}");
        assert_eq!(title().trim(), "clean", "after {keys:?}:\n{screen}");
    }
    let screen = tmux.screen();
    assert!(screen.contains('\u{FFFD}'), "{screen}");
}

#[test]
fn quitting_after_the_window_grew_leaves_nothing_of_the_app_on_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "clear; {app}; echo PROMPTLAB-EXITED; sleep 60",
        app = app_command(dir.path())
    );
    let tmux = Tmux::start("resize", 80, 24, &script);
    tmux.wait_for_model();
    tmux.run(&["resize-window", "-t", "app", "-x", "90", "-y", "28"]);
    tmux.wait_for("the app at the new size", Duration::from_secs(10), |s| {
        s.lines().next().is_some_and(|l| l.chars().count() == 90)
    });
    tmux.keys(&["C-c"]);
    tmux.wait_for("exit", Duration::from_secs(20), |s| {
        s.contains("PROMPTLAB-EXITED")
    });
    // The whole pane, its history included.
    let all = tmux.run(&["capture-pane", "-p", "-S", "-", "-t", "app"]);
    assert!(
        !all.contains('│') && !all.contains('┌'),
        "the app's frame stayed on the shell:\n{all}"
    );
}

#[test]
fn mouse_capture_follows_the_config_and_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config/promptlab");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(config.join("config.yaml"), "mouse: false\n").unwrap();
    let script = format!("{}; sleep 60", app_command(dir.path()));
    let tmux = Tmux::start("mouse", 80, 24, &script);
    tmux.wait_for_model();
    let mouse = || tmux.run(&["display-message", "-p", "-t", "app", "#{mouse_any_flag}"]);
    assert_eq!(mouse().trim(), "0", "config says off");
    tmux.keys(&["F8"]);
    tmux.wait_for("capture on", Duration::from_secs(5), |s| {
        s.contains("mouse capture on")
    });
    assert_eq!(mouse().trim(), "1");
    tmux.keys(&["F8"]);
    tmux.wait_for("capture off", Duration::from_secs(5), |s| {
        s.contains("mouse capture off")
    });
    assert_eq!(mouse().trim(), "0");
}

#[test]
fn a_new_conversation_gets_its_own_file_and_the_last_one_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let script = format!("{} --max-tokens 12; sleep 60", app_command(d));
    let tmux = Tmux::start("newconv", 80, 24, &script);
    tmux.wait_for_model();
    for (n, question) in ["What is 2 + 2?", "Name a colour."].iter().enumerate() {
        if n > 0 {
            tmux.keys(&["C-n"]);
            tmux.wait_for("the new conversation", Duration::from_secs(10), |s| {
                s.contains("Ask anything") && s.contains("the last one is in")
            });
        }
        tmux.keys(&["-l", question]);
        tmux.keys(&["Enter"]);
        // Done: the figures of this answer are in (a new conversation
        // starts them at zero).
        tmux.wait_for("the answer", Duration::from_secs(60), |s| {
            !s.contains("generating") && s.contains(question) && !s.contains(" 0/0.0 tok/s")
        });
    }
    tmux.keys(&["C-q"]);
    std::thread::sleep(Duration::from_millis(800));
    let folder = d.join("data/promptlab/conversations");
    let mut texts: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    texts.sort();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert_eq!(
        texts
            .iter()
            .filter(|t| t.contains("What is 2 + 2?"))
            .count(),
        1
    );
    assert_eq!(
        texts
            .iter()
            .filter(|t| t.contains("Name a colour."))
            .count(),
        1
    );
}

#[test]
fn the_command_palette_runs_a_command_found_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let script = format!("{}; sleep 60", app_command(dir.path()));
    let tmux = Tmux::start("palette", 80, 24, &script);
    tmux.wait_for_model();
    tmux.keys(&["C-k"]);
    tmux.wait_for("the palette", Duration::from_secs(5), |s| {
        s.contains("┌ commands") && s.contains("Enter runs")
    });
    tmux.keys(&["-l", "compare pane"]);
    tmux.wait_for("the filter", Duration::from_secs(5), |s| {
        s.contains("> compare pane") && !s.contains("save the conversation")
    });
    tmux.keys(&["Enter"]);
    tmux.wait_for("the compare pane", Duration::from_secs(5), |s| {
        s.contains("┌ methods") && !s.contains("┌ commands")
    });
}

/// A saved conversation of one question and its answer.
fn saved_conversation(question: &str, answer: &str) -> String {
    serde_json::json!({
        "version": 1, "system": "", "model": "m", "leaf": 1,
        "turns": [
            {"role": "user", "content": question, "parent": null, "tokens": [],
             "finished": true, "stop_reason": null},
            {"role": "assistant", "content": answer, "parent": 0, "tokens": [],
             "finished": true, "stop_reason": "eos"}
        ]
    })
    .to_string()
}

#[test]
fn saved_conversations_are_searched_opened_renamed_and_deleted_in_the_app() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let folder = d.join("data/promptlab/conversations");
    std::fs::create_dir_all(&folder).unwrap();
    let trip = folder.join("chat-1.json");
    let soup = folder.join("chat-2.json");
    std::fs::write(
        &trip,
        saved_conversation("Plan a trip to Lyon", "Take the train."),
    )
    .unwrap();
    std::fs::write(&soup, saved_conversation("A soup recipe", "Boil water.")).unwrap();
    let script = format!("{}; sleep 60", app_command(d));
    let tmux = Tmux::start("list", 80, 24, &script);
    tmux.wait_for_model();
    tmux.keys(&["C-l"]);
    tmux.wait_for("the list", Duration::from_secs(5), |s| {
        s.contains("Plan a trip to Lyon") && s.contains("A soup recipe")
    });
    tmux.keys(&["-l", "lyon"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("the trip opened", Duration::from_secs(5), |s| {
        s.contains("Take the train.") && s.contains("opened Plan a trip")
    });
    // Rename the soup, then delete it.
    tmux.keys(&["C-l"]);
    tmux.wait_for("the list again", Duration::from_secs(5), |s| {
        s.contains("search>")
    });
    tmux.keys(&["-l", "soup"]);
    tmux.keys(&["C-r"]);
    for _ in 0.."A soup recipe".len() {
        tmux.keys(&["BSpace"]);
    }
    tmux.keys(&["-l", "Soup night"]);
    tmux.keys(&["Enter"]);
    tmux.keys(&["BSpace", "BSpace", "BSpace", "BSpace"]);
    tmux.wait_for("the new title", Duration::from_secs(5), |s| {
        s.contains("Soup night")
    });
    assert!(std::fs::read_to_string(&soup)
        .unwrap()
        .contains("\"title\": \"Soup night\""));
    tmux.keys(&["-l", "night"]);
    tmux.keys(&["C-d"]);
    tmux.wait_for("the question", Duration::from_secs(5), |s| {
        s.contains("y deletes")
    });
    tmux.keys(&["y"]);
    tmux.wait_for("the deletion", Duration::from_secs(5), |s| {
        s.contains("deleted")
    });
    assert!(!soup.exists() && trip.exists());
}

#[test]
fn a_long_message_wraps_in_the_input_at_80_columns() {
    let dir = tempfile::tempdir().unwrap();
    let script = format!("{}; sleep 60", app_command(dir.path()));
    let tmux = Tmux::start("wrap", 80, 24, &script);
    tmux.wait_for_model();
    let words: Vec<String> = (0..30).map(|i| format!("word{i}")).collect();
    tmux.keys(&["-l", &words.join(" ")]);
    let (screen, _) = tmux.wait_for("the typed text", Duration::from_secs(10), |s| {
        s.contains("word29")
    });
    assert!(
        screen.contains("word0 word1"),
        "the start scrolled away:\n{screen}"
    );
    // The message box grew to hold it.
    let rows = screen.lines().filter(|l| l.contains("word")).count();
    assert!(rows >= 3, "{screen}");
}

#[test]
fn attention_pane_in_tmux_inspects_an_answer_and_every_key_moves_the_selection() {
    let dir = tempfile::tempdir().unwrap();
    let script = format!("{} --max-tokens 40; sleep 60", app_command(dir.path()));
    let tmux = Tmux::start("attention", 80, 24, &script);
    tmux.wait_for_model();
    tmux.keys(&["-l", "What is the capital of France?"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("the answer", Duration::from_secs(120), |s| {
        !s.contains("generating") && s.contains("tok/s") && s.contains("Paris")
    });

    // The attention key captures the last answer: the grid of every head.
    tmux.keys(&["F5"]);
    let (screen, _) = tmux.wait_for("the capture", Duration::from_secs(60), |s| {
        s.contains("captured") && s.contains("L0  [")
    });
    assert!(
        screen.contains("(answer) · chat message 2 (answer)"),
        "{screen}"
    );
    assert!(
        screen.contains("H8"),
        "all nine heads fit 80 columns: {screen}"
    );
    let title = |s: &str| s.lines().next().unwrap_or("").to_string();
    let first = title(&screen);
    let token: usize = first
        .split("token ")
        .nth(1)
        .and_then(|t| t.split('/').next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("{first}"));

    // ↓ a layer, → a head, ] a token; the head view shows the selection.
    tmux.keys(&["Down", "Down", "Right", "h", "]"]);
    let want = format!("L2 H1 · token {}/", token + 1);
    let (screen, _) = tmux.wait_for("the selection to move", Duration::from_secs(10), |s| {
        title(s).contains(&want) && s.contains("attends most to:")
    });
    assert!(screen.contains(&format!("query {}", token + 1)), "{screen}");
    tmux.keys(&["Home"]);
    tmux.wait_for("the first token", Duration::from_secs(10), |s| {
        title(s).contains("token 0/")
    });
    tmux.keys(&["a", "t"]);
    tmux.wait_for("the token view", Duration::from_secs(10), |s| {
        s.contains("in layer 2, every head") && s.contains("attended to by")
    });
    tmux.keys(&["n"]);
    tmux.wait_for("the neuron view", Duration::from_secs(10), |s| {
        s.contains("scale 1/√d = 0.1250")
    });
    tmux.keys(&["l"]);
    tmux.wait_for("the lens", Duration::from_secs(60), |s| {
        s.contains("next after")
    });
    tmux.keys(&["e"]);
    tmux.wait_for("the head's effect", Duration::from_secs(60), |s| {
        s.contains("promotes (logit +)") && s.contains("L2 H1 at token")
    });
    tmux.keys(&["s"]);
    tmux.wait_for("the spans view", Duration::from_secs(10), |s| {
        s.contains("› ") && s.contains("answer: ") && s.contains("system You are")
    });
    tmux.keys(&["Tab"]);
    tmux.wait_for("Tab to the live view", Duration::from_secs(10), |s| {
        s.contains("live off: v turns it on")
    });
    tmux.keys(&["c"]);
    tmux.wait_for("the pair view", Duration::from_secs(10), |s| {
        s.contains("no pair: in the compare pane")
    });
    tmux.keys(&["m"]);
    tmux.wait_for("the model view again", Duration::from_secs(10), |s| {
        s.contains("     H0      H1") && s.contains("]")
    });

    // A typed prompt: captured with a greedy answer that streams in.
    tmux.keys(&["i"]);
    tmux.keys(&["-l", "Name a colour."]);
    tmux.keys(&["Enter"]);
    let (screen, _) = tmux.wait_for("the typed capture", Duration::from_secs(120), |s| {
        s.contains("captured") && s.contains("prompt “Name a colour.”")
    });
    assert!(!screen.contains("capturing"), "{screen}");

    // The pane's own help, then the same key back to the chat.
    tmux.keys(&["F1"]);
    tmux.wait_for("the help", Duration::from_secs(10), |s| {
        s.contains("attention pane keys")
    });
    tmux.keys(&["x", "F5"]);
    tmux.wait_for("the chat again", Duration::from_secs(10), |s| {
        s.contains("┌ chat") && s.contains("Paris")
    });
}

/// The images pane in tmux on the real datasets and shipped checkpoints:
/// F6 opens it, `s` draws and labels the VAE's samples, `t` trains a VAE
/// epoch into the cache with the chart filling in, a PixelCNN drawing
/// shows its rows and stops on Esc, and F6 goes back to the chat.
#[test]
fn images_pane_samples_trains_and_stops_in_tmux() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::link_image_datasets(&d.join("cache"));
    let script = format!(
        "{app}; echo PROMPTLAB-EXITED; sleep 120",
        app = app_command(d)
    );
    let tmux = Tmux::start("images", 80, 24, &script);
    tmux.wait_for_model();
    tmux.keys(&["F6"]);
    tmux.wait_for("the images pane", Duration::from_secs(5), |s| {
        s.contains("1 CNN") && s.contains("The VAE on MNIST.")
    });
    tmux.keys(&["s"]);
    let (screen, _) = tmux.wait_for("labelled samples", Duration::from_secs(60), |s| {
        s.contains("labelled with ≥ 0.9 confidence")
    });
    assert!(
        screen.contains("shipped checkpoint, 200 epochs"),
        "{screen}"
    );
    assert!(screen.contains('▀') || screen.contains('█'), "{screen}");

    // One epoch of a fresh VAE, into the cache.
    tmux.keys(&["t"]);
    tmux.wait_for("the training chart", Duration::from_secs(30), |s| {
        s.contains("training") && s.contains("step")
    });
    let (screen, _) = tmux.wait_for("the epoch", Duration::from_secs(240), |s| {
        s.contains("trained the VAE to 1 epoch;")
    });
    assert!(screen.contains("−elbo"), "{screen}");
    assert!(d
        .join("cache/images/checkpoints/vae-mnist.safetensors")
        .is_file());

    // PixelCNN draws row by row; Esc stops it.
    tmux.keys(&["4", "s"]);
    tmux.wait_for("a row drawn", Duration::from_secs(120), |s| {
        s.contains("row 2 of 28")
    });
    tmux.keys(&["Escape"]);
    tmux.wait_for("the stop", Duration::from_secs(60), |s| {
        s.contains("stopped before the drawing was done")
    });
    tmux.keys(&["F6"]);
    tmux.wait_for("the chat", Duration::from_secs(5), |s| !s.contains("1 CNN"));
    tmux.keys(&["C-c"]);
    tmux.wait_for("the app to exit", Duration::from_secs(30), |s| {
        s.contains("PROMPTLAB-EXITED")
    });
}
