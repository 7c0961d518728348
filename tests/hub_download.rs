//! Downloads through hf-hub against a Hub stand-in on loopback
//! (`HF_ENDPOINT`) that serves files in the Hub's URL layout: a checkpoint
//! whose weights download is cut off half-way and resumes, HF_HUB_OFFLINE,
//! HF_TOKEN (sent, never printed), a 404, a 403, another error status
//! (told apart by the HTTP status, not by digits in a repository's name),
//! a repo without weights, a shard its index names but the repo lacks, and
//! a GGUF repo that needs a file named.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};

use promptlab::config::Config;
use promptlab_hub::resolve;
use promptlab_infer::LoadedModel;

const COMMIT: &str = "abcdefabcdefabcdefabcdefabcdefabcdefabcd";
const TOKEN: &str = "hf_secret_token_do_not_print";

#[derive(Default)]
struct Log {
    /// (path, Range header, Authorization header) of every request.
    requests: Vec<(String, String, String)>,
}

/// repo id -> file name -> bytes.
type Repos = HashMap<String, HashMap<String, Vec<u8>>>;

/// repo id -> the HTTP status every request about it is answered with.
type Refusals = HashMap<&'static str, u16>;

fn serve(repos: Repos, refusals: Refusals, cut_once: &'static str) -> (String, Arc<Mutex<Log>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let log = Arc::new(Mutex::new(Log::default()));
    let seen = log.clone();
    std::thread::spawn(move || {
        let mut cut_done = false;
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            handle(stream, &repos, &refusals, &seen, cut_once, &mut cut_done);
        }
    });
    (endpoint, log)
}

fn handle(
    mut stream: TcpStream,
    repos: &Repos,
    refusals: &Refusals,
    log: &Mutex<Log>,
    cut_once: &str,
    cut_done: &mut bool,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    reader.read_line(&mut request_line).unwrap();
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_string();
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let range = headers.get("range").cloned().unwrap_or_default();
    let auth = headers.get("authorization").cloned().unwrap_or_default();
    log.lock()
        .unwrap()
        .requests
        .push((path.clone(), range.clone(), auth));
    let not_found = |stream: &mut TcpStream| {
        let _ = stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    };
    let refused = path
        .trim_start_matches("/api/models/")
        .trim_start_matches('/')
        .splitn(3, '/')
        .take(2)
        .collect::<Vec<_>>()
        .join("/");
    if let Some(status) = refusals.get(refused.as_str()) {
        let _ = write!(
            stream,
            "HTTP/1.1 {status} Refused\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        return;
    }
    // /api/models/{owner}/{name}/revision/{rev}
    if let Some(rest) = path.strip_prefix("/api/models/") {
        let repo = rest.split("/revision/").next().unwrap_or("");
        let Some(files) = repos.get(repo) else {
            return not_found(&mut stream);
        };
        let siblings: Vec<_> = files
            .keys()
            .map(|f| serde_json::json!({"rfilename": f}))
            .collect();
        let body = serde_json::json!({"sha": COMMIT, "siblings": siblings}).to_string();
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        return;
    }
    // /{owner}/{name}/resolve/{rev}/{file}
    let Some((repo, rest)) = path.trim_start_matches('/').split_once("/resolve/") else {
        return not_found(&mut stream);
    };
    let file = rest.split_once('/').map(|(_, f)| f).unwrap_or("");
    let Some(bytes) = repos.get(repo).and_then(|r| r.get(file)) else {
        return not_found(&mut stream);
    };
    let spec = range.trim_start_matches("bytes=");
    let (start, end) = match spec.split_once('-') {
        Some((a, "")) => (a.parse().unwrap_or(0), bytes.len() - 1),
        Some((a, b)) => (
            a.parse().unwrap_or(0),
            b.parse::<usize>().unwrap_or(0).min(bytes.len() - 1),
        ),
        None => (0, bytes.len() - 1),
    };
    let body = &bytes[start..=end];
    let _ = write!(
        stream,
        "HTTP/1.1 206 Partial Content\r\nX-Repo-Commit: {COMMIT}\r\nETag: \"etag-{}\"\r\nContent-Range: bytes {start}-{end}/{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        file.replace('.', "-"),
        bytes.len(),
        body.len()
    );
    // Cut the first full download of `cut_once` off half-way.
    if file == cut_once && start == 0 && body.len() > 1 && !*cut_done {
        *cut_done = true;
        let _ = stream.write_all(&body[..body.len() / 2]);
        let _ = stream.flush();
        let _ = stream.shutdown(std::net::Shutdown::Both);
        return;
    }
    let _ = stream.write_all(body);
}

fn folder_files(dir: &Path) -> HashMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

fn files_named(root: &Path, suffix: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(suffix) {
                found.push(p.display().to_string());
            }
        }
    }
    found
}

#[test]
fn downloads_resume_respect_offline_and_token_and_report_clear_errors() {
    let gpt2 = folder_files(&common::repo_path("tests/data/tiny-hf/gpt2"));
    let mut repos: Repos = HashMap::new();
    repos.insert("tiny/gpt2".into(), gpt2.clone());
    repos.insert(
        "tiny/weightless".into(),
        [("config.json".to_string(), gpt2["config.json"].clone())].into(),
    );
    repos.insert(
        "tiny/ggufs".into(),
        [("m.Q4_0.gguf".to_string(), b"GGUF....".to_vec())].into(),
    );
    let llama = folder_files(&common::repo_path("tests/data/tiny-hf/llama"));
    let mut half_sharded = llama.clone();
    half_sharded.remove("model-00002-of-00002.safetensors");
    repos.insert("tiny/half-sharded".into(), half_sharded);
    // Digits in a name are no status: a 403 named `...404...`, a 500 named
    // `...401...` and a 404 named `...403...`.
    let refusals: Refusals = [
        ("tiny/gated", 403),
        ("tiny/gated-404", 403),
        ("tiny/private", 401),
        ("tiny/broken-401", 500),
    ]
    .into();
    let (endpoint, log) = serve(repos, refusals, "model.safetensors");
    let cache = tempfile::tempdir().unwrap();
    std::env::set_var("HF_ENDPOINT", &endpoint);
    std::env::set_var("HF_HUB_CACHE", cache.path());
    std::env::set_var("HF_TOKEN", TOKEN);
    let config = Config::from_layers(None, Path::new("")).unwrap();
    let mut lines = Vec::new();
    let mut progress = |l: &str| lines.push(l.to_string());

    // Offline: no request at all.
    std::env::set_var("HF_HUB_OFFLINE", "1");
    let err = resolve("tiny/gpt2", &config.models, &mut progress)
        .unwrap_err()
        .to_string();
    assert!(err.contains("HF_HUB_OFFLINE"), "{err}");
    assert!(log.lock().unwrap().requests.is_empty());
    std::env::remove_var("HF_HUB_OFFLINE");

    // A checkpoint, its weights cut off half-way once: resumed, complete.
    let folder = resolve("tiny/gpt2", &config.models, &mut progress).unwrap();
    for (name, bytes) in &gpt2 {
        assert_eq!(&std::fs::read(folder.join(name)).unwrap(), bytes, "{name}");
    }
    let requests = log.lock().unwrap().requests.clone();
    let resumed = requests.iter().any(|(p, r, _)| {
        p.ends_with("model.safetensors") && r.starts_with("bytes=") && !r.starts_with("bytes=0-")
    });
    assert!(
        resumed,
        "the cut-off download resumed with a Range request: {requests:?}"
    );
    assert!(requests
        .iter()
        .all(|(_, _, auth)| auth == &format!("Bearer {TOKEN}")));
    assert!(
        files_named(cache.path(), ".part").is_empty(),
        "no partial files are left"
    );
    LoadedModel::load(&folder).unwrap();

    // Cached now: no more requests.
    let before = log.lock().unwrap().requests.len();
    assert_eq!(
        resolve("tiny/gpt2", &config.models, &mut progress).unwrap(),
        folder
    );
    assert_eq!(log.lock().unwrap().requests.len(), before);

    // Errors name the repository and never show the token.
    let err = resolve("tiny/nope", &config.models, &mut progress)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("tiny/nope") && err.contains("not found on the Hub (404)"),
        "{err}"
    );
    let err_404 = resolve("tiny/nope-403", &config.models, &mut progress)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err_404,
        "repository `tiny/nope-403`: not found on the Hub (404)"
    );
    for (repo, status) in [
        ("tiny/gated", 403),
        ("tiny/gated-404", 403),
        ("tiny/private", 401),
    ] {
        let err = resolve(repo, &config.models, &mut progress)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!(
                "repository `{repo}`: access denied ({status}): is it gated or private? set HF_TOKEN"
            )
        );
    }
    let err_500 = resolve("tiny/broken-401", &config.models, &mut progress)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err_500,
        "repository `tiny/broken-401`: the Hub answered HTTP 500"
    );
    let err_shard = resolve("tiny/half-sharded", &config.models, &mut progress)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err_shard,
        "repository `tiny/half-sharded`: shard `model-00002-of-00002.safetensors` named by \
         model.safetensors.index.json is missing"
    );
    let err2 = resolve("tiny/weightless", &config.models, &mut progress)
        .unwrap_err()
        .to_string();
    assert!(err2.contains("has no weights"), "{err2}");
    let err3 = resolve("tiny/ggufs", &config.models, &mut progress)
        .unwrap_err()
        .to_string();
    assert!(
        err3.contains("name one as `tiny/ggufs:FILE`") && err3.contains("m.Q4_0.gguf"),
        "{err3}"
    );
    let err4 = resolve("tiny/ggufs:other.gguf", &config.models, &mut progress)
        .unwrap_err()
        .to_string();
    assert!(err4.contains("has no file `other.gguf`"), "{err4}");
    let file = resolve("tiny/ggufs:m.Q4_0.gguf", &config.models, &mut progress).unwrap();
    assert_eq!(std::fs::read(file).unwrap(), b"GGUF....");
    for e in [&err, &err_404, &err_500, &err_shard, &err2, &err3, &err4] {
        assert!(!e.contains(TOKEN));
    }
    assert!(!lines.iter().any(|l| l.contains(TOKEN)));
}
