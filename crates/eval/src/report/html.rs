//! The HTML report: one self-contained page (no network, inline CSS and
//! script) with the run's header, the arm comparison with Wilson bars, the
//! pairwise tests and a per-item pass/fail grid. The tables are plain HTML
//! (readable with JavaScript off); a small inline script adds filters and
//! a drill-down into each item's calls, rendered from the records embedded
//! as JSON, only ever through `textContent`.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::{arms, RunInfo};
use crate::record::Record;
use crate::summary::Summary;

/// The whole page.
pub fn html(info: &RunInfo, summary: &Summary, records: &[Record]) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{} · promptlab eval</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(&info.suite)
    );
    header(&mut out, info, records.len());
    arms_table(&mut out, summary);
    pairs_table(&mut out, summary);
    items_table(&mut out, summary, records);
    let _ = write!(
        out,
        "<script type=\"application/json\" id=\"records\">{}</script>\n<script>{SCRIPT}</script>\n</body>\n</html>\n",
        records_json(records)
    );
    out
}

fn header(out: &mut String, info: &RunInfo, records: usize) {
    let _ = write!(
        out,
        "<header><h1>{}</h1><dl class=\"meta\">",
        esc(&info.suite)
    );
    let duration = duration(info.seconds);
    let fields = [
        ("file", info.file.as_str()),
        ("model", &info.model),
        ("backend", &info.backend),
        ("started", &info.started),
        ("duration", &duration),
        ("records", &records.to_string()),
    ];
    for (name, value) in fields {
        let _ = write!(out, "<div><dt>{name}</dt><dd>{}</dd></div>", esc(value));
    }
    out.push_str("</dl></header>\n");
}

fn arms_table(out: &mut String, summary: &Summary) {
    out.push_str("<section><h2>Arms</h2>\n");
    if summary.arms.is_empty() {
        out.push_str("<p class=\"empty\">No arms.</p></section>\n");
        return;
    }
    out.push_str(
        "<table class=\"arms\"><thead><tr><th>variant</th><th>method</th><th class=\"n\">n</th>\
         <th class=\"n\">passed</th><th>accuracy (Wilson 95%)</th><th class=\"n\">mean score</th>\
         <th class=\"n\">tokens gen / prompt</th><th class=\"n\">mean time</th></tr></thead><tbody>\n",
    );
    for arm in &summary.arms {
        let (low, high) = (unit(arm.wilson.low), unit(arm.wilson.high));
        let errors = match arm.errors {
            0 => String::new(),
            1 => " <span class=\"err\">(1 error)</span>".to_string(),
            n => format!(" <span class=\"err\">({n} errors)</span>"),
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}{errors}</td>\
             <td class=\"acc\"><span class=\"bar\" title=\"{} – {}\"><span class=\"ci\" style=\"left:{:.1}%;width:{:.1}%\"></span>\
             <span class=\"pt\" style=\"left:{:.1}%\"></span></span><b>{}</b> <small>[{}, {}]</small></td>\
             <td class=\"n\">{}</td><td class=\"n\">{} / {}</td><td class=\"n\">{}</td></tr>",
            esc(&arm.variant),
            esc(&arm.method),
            arm.trials,
            arm.passed,
            pct(low),
            pct(high),
            low * 100.0,
            (high - low).max(0.0) * 100.0,
            unit(arm.accuracy) * 100.0,
            pct(arm.accuracy),
            pct(low),
            pct(high),
            fixed(arm.mean_score, 3),
            fixed(arm.mean_generated_tokens, 1),
            fixed(arm.mean_prompt_tokens, 1),
            millis(arm.mean_ms),
        );
    }
    out.push_str("</tbody></table></section>\n");
}

fn pairs_table(out: &mut String, summary: &Summary) {
    out.push_str("<section><h2>Pairs</h2>\n");
    if summary.pairs.is_empty() {
        out.push_str("<p class=\"empty\">No pairs to compare.</p></section>\n");
        return;
    }
    out.push_str(
        "<table class=\"pairs\"><thead><tr><th>A</th><th>B</th><th class=\"n\">paired n</th>\
         <th class=\"n\" title=\"B passed where A failed\">B wins</th><th class=\"n\" title=\"B failed where A passed\">B losses</th>\
         <th class=\"n\">ties</th><th class=\"n\">McNemar p</th><th class=\"n\">Δscore B − A (95%)</th></tr></thead><tbody>\n",
    );
    for pair in &summary.pairs {
        let p = if !pair.p_value.is_finite() {
            "–".to_string()
        } else if pair.p_value < 0.001 {
            "&lt;0.001".to_string()
        } else {
            format!("{:.3}", pair.p_value)
        };
        let p = if pair.p_value < 0.05 {
            format!("<b class=\"sig\">{p}</b>")
        } else {
            p
        };
        let _ = writeln!(
            out,
            "<tr><td>{} / {}</td><td>{} / {}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{p}</td>\
             <td class=\"n\">{} <small>[{}, {}]</small></td></tr>",
            esc(&pair.first.0),
            esc(&pair.first.1),
            esc(&pair.second.0),
            esc(&pair.second.1),
            pair.paired,
            pair.wins,
            pair.losses,
            pair.ties,
            signed(pair.score_difference),
            signed(pair.difference_interval.low),
            signed(pair.difference_interval.high),
        );
    }
    out.push_str("</tbody></table></section>\n");
}

/// One row per item (first-appearance order), one cell per arm: the
/// summary's arms, then any arm only the records have.
fn items_table(out: &mut String, summary: &Summary, records: &[Record]) {
    let mut columns: Vec<(&str, &str)> = summary
        .arms
        .iter()
        .map(|a| (a.variant.as_str(), a.method.as_str()))
        .collect();
    for arm in arms(records) {
        if !columns.contains(&arm) {
            columns.push(arm);
        }
    }
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut items: Vec<(&str, Vec<&Record>)> = Vec::new();
    for r in records {
        let i = *index.entry(&r.item).or_insert_with(|| {
            items.push((&r.item, Vec::new()));
            items.len() - 1
        });
        items[i].1.push(r);
    }
    out.push_str(
        "<section><h2>Items</h2>\n<div class=\"filters\" hidden>\
         <input type=\"search\" id=\"q\" placeholder=\"Filter by id, variables or answer\" aria-label=\"filter items\">\
         <label><input type=\"checkbox\" id=\"failed\"> failed only</label>\
         <label><input type=\"checkbox\" id=\"disagree\"> disagreements only</label>\
         <span id=\"shown\"></span></div>\n\
         <noscript><p class=\"empty\">Turn on JavaScript for the filters and the per-item drill-down.</p></noscript>\n",
    );
    if items.is_empty() {
        out.push_str("<p class=\"empty\">No records.</p></section>\n");
        return;
    }
    out.push_str("<div class=\"scroll\"><table id=\"items\"><thead><tr><th>item</th>");
    for (variant, method) in &columns {
        let _ = write!(
            out,
            "<th data-v=\"{}\" data-m=\"{}\">{} / {}</th>",
            esc(variant),
            esc(method),
            esc(variant),
            esc(method)
        );
    }
    out.push_str("</tr></thead><tbody>\n");
    for (item, of_item) in items {
        let failed = of_item.iter().any(|r| !passed(r));
        let _ = write!(
            out,
            "<tr class=\"item\" tabindex=\"0\" data-item=\"{}\" data-failed=\"{}\" data-disagree=\"{}\"><th>{}</th>",
            esc(item),
            u8::from(failed),
            u8::from(disagree(&of_item)),
            esc(item)
        );
        for (k, &arm) in columns.iter().enumerate() {
            let mut cell: Vec<&Record> =
                of_item.iter().copied().filter(|r| r.arm() == arm).collect();
            cell.sort_by_key(|r| r.sample);
            let (class, content) = verdict(&cell);
            let _ = write!(
                out,
                "<td class=\"{class}\" data-arm=\"{k}\" title=\"{} / {}\">{content}</td>",
                esc(arm.0),
                esc(arm.1)
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div></section>\n");
}

/// Whether the arms that ran the item differ in the share of its samples
/// they passed.
fn disagree(of_item: &[&Record]) -> bool {
    let share = |arm: (&str, &str)| {
        let runs = of_item.iter().filter(|r| r.arm() == arm);
        let ok = runs.clone().filter(|r| passed(r)).count();
        (ok, runs.count())
    };
    let shares: Vec<(usize, usize)> = arms(of_item.iter().copied())
        .into_iter()
        .map(share)
        .collect();
    shares
        .windows(2)
        .any(|w| w[0].0 * w[1].1 != w[1].0 * w[0].1)
}

fn passed(r: &Record) -> bool {
    r.passed && r.error.is_none()
}

/// A cell's class and content: ✓ / ✗ / error for one record; a mark per
/// sample and the pass count for several.
fn verdict(cell: &[&Record]) -> (&'static str, String) {
    let mark = |r: &Record| match (r.error.is_some(), r.passed) {
        (true, _) => ("e", "⚠"),
        (false, true) => ("p", "✓"),
        (false, false) => ("f", "✗"),
    };
    let ok = cell.iter().filter(|r| passed(r)).count();
    let errors = cell.iter().filter(|r| r.error.is_some()).count();
    let class = match () {
        _ if cell.is_empty() => "none",
        _ if ok == cell.len() => "pass",
        _ if errors == cell.len() => "error",
        _ if ok == 0 => "fail",
        _ => "mixed",
    };
    let content = match cell {
        [] => "–".to_string(),
        [r] if r.error.is_some() => "⚠ error".to_string(),
        [r] => mark(r).1.to_string(),
        _ => {
            let mut s = String::new();
            for r in cell {
                let (c, m) = mark(r);
                let _ = write!(s, "<span class=\"{c}\">{m}</span>");
            }
            let _ = write!(s, " <small>{ok}/{}</small>", cell.len());
            s
        }
    };
    (class, content)
}

/// The records as JSON that cannot end the script element early or open
/// an HTML comment in it (`</` → `<\/`, `<!--` → `\u003c!--`), nor carry
/// a literal `://` (→ `:\/\/`); all three parse back unchanged.
fn records_json(records: &[Record]) -> String {
    let json = serde_json::to_string(records).expect("records serialize to JSON");
    json.replace("</", "<\\/")
        .replace("<!--", "\\u003c!--")
        .replace("://", ":\\/\\/")
}

/// Text for HTML content and attribute values. A `://` is written with a
/// character reference so no address appears verbatim in the page.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out.replace("://", ":&#47;/")
}

fn unit(x: f64) -> f64 {
    if x.is_finite() {
        x.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// `x` through `show`, or a dash when it is NaN or infinite.
fn finite(x: f64, show: impl FnOnce(f64) -> String) -> String {
    if x.is_finite() {
        show(x)
    } else {
        "–".to_string()
    }
}

fn pct(x: f64) -> String {
    finite(x, |x| format!("{:.1}%", x * 100.0))
}

fn fixed(x: f64, places: usize) -> String {
    finite(x, |x| format!("{x:.places$}"))
}

fn signed(x: f64) -> String {
    finite(x, |x| format!("{x:+.3}").replace('-', "−"))
}

fn millis(ms: f64) -> String {
    finite(ms, |ms| match ms >= 1000.0 {
        true => format!("{:.2} s", ms / 1000.0),
        false => format!("{ms:.0} ms"),
    })
}

fn duration(seconds: f64) -> String {
    finite(seconds, |s| match s < 60.0 {
        true => format!("{:.1} s", s.max(0.0)),
        false => {
            let whole = s.round() as u64;
            format!("{} min {:02} s", whole / 60, whole % 60)
        }
    })
}

const STYLE: &str = r##"
:root{--ok:#1a7f37;--ok-bg:#dafbe1;--bad:#cf222e;--bad-bg:#ffebe9;--warn:#9a6700;--warn-bg:#fff8c5;--line:#d0d7de;--muted:#59636e;--soft:#f6f8fa;--accent:#0969da}
*{box-sizing:border-box}
body{margin:0;padding:16px 24px 40px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1f2328;background:#fff}
h1{font-size:20px;margin:0 0 6px}h2{font-size:15px;margin:22px 0 8px}
.meta{display:flex;flex-wrap:wrap;gap:2px 22px;margin:0;color:var(--muted)}.meta div{display:flex;gap:6px}.meta dt{font-weight:600}.meta dd{margin:0;color:#1f2328}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{padding:4px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
thead th{background:var(--soft);font-weight:600;white-space:nowrap}
.n{text-align:right;white-space:nowrap}small{color:var(--muted)}.err{color:var(--warn)}.sig{color:var(--accent)}
.acc{white-space:nowrap}
.bar{display:inline-block;position:relative;width:100px;height:8px;margin:0 8px 0 0;background:#eaeef2;border-radius:4px;vertical-align:middle}
.bar .ci{position:absolute;top:0;bottom:0;background:#9cd0ff;border-radius:4px}
.bar .pt{position:absolute;top:-3px;width:3px;height:14px;margin-left:-1px;background:var(--accent);border-radius:1px}
.empty{color:var(--muted)}
.filters{display:flex;flex-wrap:wrap;gap:16px;align-items:center;margin:0 0 8px}.filters[hidden]{display:none}
.filters input[type=search]{width:300px;padding:4px 8px;border:1px solid var(--line);border-radius:6px;font:inherit}
#shown{color:var(--muted)}
.scroll{overflow-x:auto}#items{width:100%}
#items tr.item>td{text-align:center;white-space:nowrap}
tr.item{cursor:pointer}tr.item:hover>th,tr.item:focus>th{color:var(--accent);text-decoration:underline}tr.item:focus{outline:2px solid var(--accent);outline-offset:-2px}
td.pass,.p{color:var(--ok)}td.pass{background:var(--ok-bg)}td.fail,.f{color:var(--bad)}td.fail{background:var(--bad-bg)}
td.error,.e{color:var(--warn)}td.error{background:var(--warn-bg)}td.mixed{background:#fff1e5}td.none{color:var(--muted)}
#items tr.detail>td{background:var(--soft);padding:12px}
.vars{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0 0 10px}.vars dt{font-weight:600}.vars dd{margin:0;white-space:pre-wrap;word-break:break-word}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(360px,1fr));gap:12px}
.card{min-width:0;padding:10px 12px;background:#fff;border:1px solid var(--line);border-top:3px solid var(--line);border-radius:6px}
.card.pass{border-top-color:var(--ok)}.card.fail{border-top-color:var(--bad)}.card.error{border-top-color:var(--warn)}.card.flash{outline:2px solid var(--accent)}
.card h3{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin:0 0 4px;font-size:14px}
.badge{padding:0 7px;border-radius:10px;font-size:11px;font-weight:700;text-transform:uppercase}
.badge.pass{color:var(--ok);background:var(--ok-bg)}.badge.fail{color:var(--bad);background:var(--bad-bg)}.badge.error{color:var(--warn);background:var(--warn-bg)}
.card .stat{color:var(--muted);font-size:12px;font-weight:400}
.label{margin:8px 0 2px;color:var(--muted);font-size:11px;text-transform:uppercase;letter-spacing:.04em}
pre{margin:0;padding:6px 8px;max-height:18em;overflow:auto;white-space:pre-wrap;word-break:break-word;background:var(--soft);border:1px solid #eaeef2;border-radius:4px;font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
details{margin-top:6px}details[open]{padding-left:10px;border-left:2px solid #eaeef2}summary{cursor:pointer;color:var(--muted);font-size:12px}
.asserts{width:100%;font-size:12px}.asserts td{padding:2px 6px;word-break:break-word}.asserts tr.pass td:first-child{color:var(--ok)}.asserts tr.fail td:first-child{color:var(--bad)}
"##;

const SCRIPT: &str = r##"
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("records").textContent);
  var cols = Array.prototype.map.call(document.querySelectorAll("#items thead th[data-v]"),
    function (th) { return th.dataset.v + "\u0000" + th.dataset.m; });
  var byItem = new Map();
  data.forEach(function (r) {
    if (!byItem.has(r.item)) byItem.set(r.item, []);
    byItem.get(r.item).push(r);
  });
  var rows = Array.prototype.slice.call(document.querySelectorAll("#items tr.item"));
  var hay = rows.map(function (row) {
    var parts = [row.dataset.item];
    (byItem.get(row.dataset.item) || []).forEach(function (r) {
      Object.keys(r.vars).forEach(function (k) { parts.push(k + "=" + r.vars[k]); });
      if (r.answer != null) parts.push(r.answer);
    });
    return parts.join("\n").toLowerCase();
  });
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = String(text);
    return e;
  }
  function block(into, label, text) {
    into.appendChild(el("div", "label", label));
    into.appendChild(el("pre", null, text));
  }
  function num(x, d) { return typeof x === "number" ? x.toFixed(d) : "\u2013"; }
  function arm(r) { return cols.indexOf(r.variant + "\u0000" + r.method); }
  function verdict(r) { return r.error != null ? "error" : r.passed ? "pass" : "fail"; }
  function card(r, sampled) {
    var c = el("div", "card " + verdict(r));
    c.dataset.arm = String(arm(r));
    var h = el("h3", null, r.variant + " / " + r.method + (sampled ? " \u00b7 sample " + r.sample : ""));
    h.appendChild(el("span", "badge " + verdict(r), verdict(r)));
    h.appendChild(el("span", "stat", "score " + num(r.score, 2) + " \u00b7 " + num(r.ms, 0) + " ms \u00b7 " +
      r.tokens.prompt + " + " + r.tokens.generated + " tokens"));
    c.appendChild(h);
    if (r.error != null) block(c, "error", r.error);
    if (r.system != null) block(c, "system", r.system);
    block(c, "prompt", r.prompt);
    r.calls.forEach(function (call, i) {
      var d = el("details");
      d.appendChild(el("summary", null, "call " + (i + 1) + " \u00b7 " + call.step));
      block(d, "prompt", call.prompt);
      block(d, "output", call.output);
      c.appendChild(d);
    });
    block(c, "output", r.output);
    block(c, "answer", r.answer == null ? "(no answer)" : r.answer);
    if (r.assertions.length) {
      c.appendChild(el("div", "label", "assertions"));
      var t = el("table", "asserts");
      r.assertions.forEach(function (a) {
        var tr = el("tr", a.passed ? "pass" : "fail");
        tr.title = "weight " + a.weight;
        [a.passed ? "\u2713" : "\u2717", a.kind, a.expected, a.detail].forEach(function (s) {
          tr.appendChild(el("td", null, s));
        });
        t.appendChild(tr);
      });
      c.appendChild(t);
    }
    return c;
  }
  function drill(row) {
    var recs = (byItem.get(row.dataset.item) || []).slice();
    recs.sort(function (a, b) { return arm(a) - arm(b) || a.sample - b.sample; });
    var sampled = recs.some(function (r) { return r.sample > 0; });
    var tr = el("tr", "detail"), td = el("td"), vars = el("dl", "vars"), cards = el("div", "cards");
    td.colSpan = cols.length + 1;
    if (recs.length) Object.keys(recs[0].vars).forEach(function (k) {
      vars.appendChild(el("dt", null, k));
      vars.appendChild(el("dd", null, recs[0].vars[k]));
    });
    recs.forEach(function (r) { cards.appendChild(card(r, sampled)); });
    td.appendChild(vars);
    td.appendChild(cards);
    tr.appendChild(td);
    return tr;
  }
  function toggle(row, cell) {
    var next = row.nextElementSibling;
    if (next && next.classList.contains("detail")) {
      next.remove();
      row.setAttribute("aria-expanded", "false");
      return;
    }
    var d = drill(row);
    row.parentNode.insertBefore(d, row.nextSibling);
    row.setAttribute("aria-expanded", "true");
    var c = cell && d.querySelector('.card[data-arm="' + cell.dataset.arm + '"]');
    if (c) {
      c.classList.add("flash");
      c.scrollIntoView({ block: "nearest" });
      setTimeout(function () { c.classList.remove("flash"); }, 1500);
    }
  }
  var body = document.querySelector("#items tbody");
  if (body) {
    body.addEventListener("click", function (e) {
      var row = e.target.closest("tr.item");
      if (row) toggle(row, e.target.closest("td[data-arm]"));
    });
    body.addEventListener("keydown", function (e) {
      var row = e.target.closest("tr.item");
      if (row && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); toggle(row, null); }
    });
  }
  var q = document.getElementById("q"), failed = document.getElementById("failed");
  var disagree = document.getElementById("disagree"), shown = document.getElementById("shown");
  function filter() {
    var text = q.value.trim().toLowerCase(), n = 0;
    rows.forEach(function (row, i) {
      var show = (!text || hay[i].indexOf(text) >= 0) &&
        (!failed.checked || row.dataset.failed === "1") &&
        (!disagree.checked || row.dataset.disagree === "1");
      row.hidden = !show;
      var next = row.nextElementSibling;
      if (next && next.classList.contains("detail")) next.hidden = !show;
      if (show) n++;
    });
    shown.textContent = n + " of " + rows.length + " items";
  }
  [q, failed, disagree].forEach(function (e) { e.addEventListener("input", filter); });
  document.querySelector(".filters").hidden = false;
  filter();
  document.body.dataset.ready = String(rows.length);
})();
"##;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;

    /// The text of the records tag, unescaped back to plain JSON.
    fn embedded(page: &str) -> String {
        let open = "<script type=\"application/json\" id=\"records\">";
        let start = page.find(open).expect("records tag") + open.len();
        let len = page[start..].find("</script>").expect("end of the tag");
        page[start..start + len].replace("<\\/", "</")
    }

    /// The page without the records tag's content (what a browser parses
    /// as markup rather than script data).
    fn markup(page: &str) -> String {
        let open = "id=\"records\">";
        let start = page.find(open).expect("records tag") + open.len();
        let len = page[start..].find("</script>").expect("end of the tag");
        format!("{}{}", &page[..start], &page[start + len..])
    }

    #[test]
    fn records_tag_parses_back_to_the_records() {
        let mut records = fixtures::records();
        records[0].output = "a </script> b <!-- c --> d <\\/ e \\ f".into();
        records[1].answer = Some("see https://example.com/x.js".into());
        let page = html(&fixtures::info(), &fixtures::summary(), &records);
        let back: Vec<Record> = serde_json::from_str(&embedded(&page)).expect("the JSON parses");
        assert_eq!(back, records);
    }

    #[test]
    fn no_network_addresses_anywhere() {
        let mut records = fixtures::records();
        records[0].output = "<script src=\"https://evil.example/x.js\"></script>".into();
        records[1].item = "http://item".into();
        let mut info = fixtures::info();
        info.file = "HTTPS://host/suite.yaml".into();
        let page = html(&info, &fixtures::summary(), &records).to_lowercase();
        assert!(!page.contains("http://"), "http:// in the page");
        assert!(!page.contains("https://"), "https:// in the page");
        let page = markup(&page);
        assert!(!page.contains("<link"), "no external styles");
        assert!(!page.contains(" src="), "no external scripts or images");
        assert!(!page.contains("url("), "no fetched CSS resources");
    }

    #[test]
    fn hostile_text_cannot_break_out() {
        let mut records = fixtures::records();
        records[0].output = "</script><script>alert(1)</script>".into();
        records[0].calls[0].output = "<!--<script>alert(2)</script>".into();
        records[1].item = "<img src=x onerror=alert(3)>".into();
        records[1]
            .vars
            .insert("q\"".into(), "</textarea>'\"".into());
        let mut summary = fixtures::summary();
        summary.arms[0].variant = "<b>v</b>".into();
        let page = html(&fixtures::info(), &summary, &records);
        // Script data ends only at `</script` and turns odd after `<!--`:
        // neither may occur but where the page's own two scripts close.
        let lower = page.to_lowercase();
        assert_eq!(lower.matches("</script").count(), 2);
        assert!(!page.contains("<!--"));
        // The markup outside the records holds only the page's own tags.
        let outside = markup(&page);
        assert_eq!(outside.matches("<script").count(), 2);
        assert!(!outside.contains("<img"));
        assert!(!outside.contains("<b>v</b>"));
        assert!(page.contains("&lt;img src=x onerror=alert(3)&gt;"));
        assert!(page.contains("&lt;b&gt;v&lt;/b&gt;"));
        // The script renders record text with textContent only.
        assert!(!SCRIPT.contains("innerHTML") && !SCRIPT.contains("insertAdjacentHTML"));
        let back: Vec<Record> = serde_json::from_str(&embedded(&page)).expect("the JSON parses");
        assert_eq!(back, records);
    }

    #[test]
    fn header_tables_and_item_grid() {
        let page = html(
            &fixtures::info(),
            &fixtures::summary(),
            &fixtures::records(),
        );
        assert!(page.starts_with("<!doctype html>"));
        assert!(page.contains("<h1>math &amp; &lt;logic&gt;</h1>"));
        for text in [
            "suites/math.yaml",
            "tiny-gpt",
            "2025-01-02T03:04:05Z",
            "12.5 s",
            "<dt>records</dt><dd>6</dd>",
        ] {
            assert!(page.contains(text), "{text}");
        }
        // Arms: accuracy, interval numbers and the bar.
        assert!(page.contains("<b>66.7%</b> <small>[20.0%, 90.0%]</small>"));
        assert!(page.contains("style=\"left:20.0%;width:70.0%\""));
        assert!(page.contains("(1 error)"));
        // Pairs: significant p in bold, signed difference with its interval.
        assert!(page.contains("<b class=\"sig\">0.012</b>"));
        assert!(page.contains("−0.333 <small>[−1.000, +0.000]</small>"));
        // One row per item, one cell per arm.
        assert_eq!(page.matches("<tr class=\"item\"").count(), 3);
        assert!(page.contains(
            "data-item=\"1\" data-failed=\"0\" data-disagree=\"0\"><th>1</th>\
             <td class=\"pass\" data-arm=\"0\" title=\"a / direct\">✓</td>\
             <td class=\"pass\" data-arm=\"1\" title=\"b / cot\">✓</td>"
        ));
        assert!(page.contains("data-item=\"2\" data-failed=\"1\" data-disagree=\"1\""));
        assert!(page.contains("<td class=\"error\" data-arm=\"1\" title=\"b / cot\">⚠ error</td>"));
    }

    #[test]
    fn samples_show_a_mark_each_and_missing_arms_a_dash() {
        let mut records = fixtures::records();
        let mut second = records[0].clone();
        second.sample = 1;
        second.passed = false;
        records.push(second);
        records.retain(|r| !(r.item == "2" && r.variant == "b"));
        let page = html(&fixtures::info(), &fixtures::summary(), &records);
        assert!(page.contains(
            "<td class=\"mixed\" data-arm=\"0\" title=\"a / direct\"><span class=\"p\">✓</span>\
             <span class=\"f\">✗</span> <small>1/2</small></td>"
        ));
        assert!(page.contains("<td class=\"none\" data-arm=\"1\" title=\"b / cot\">–</td>"));
    }

    #[test]
    fn disagreement_compares_the_share_of_samples_passed() {
        let one = |arm: &str, sample: usize, passed: bool| {
            let mut r = fixtures::record("1", arm, "direct", passed);
            r.sample = sample;
            r
        };
        let check = |records: &[Record]| disagree(&records.iter().collect::<Vec<_>>());
        assert!(!check(&[
            one("a", 0, true),
            one("b", 0, true),
            one("b", 1, true)
        ]));
        assert!(check(&[
            one("a", 0, false),
            one("b", 0, false),
            one("b", 1, true)
        ]));
        assert!(check(&[one("a", 0, true), one("b", 0, false)]));
        assert!(!check(&[one("a", 0, true), one("a", 1, false)]), "one arm");
        let mut errored = one("b", 0, true);
        errored.error = Some("boom".into());
        assert!(check(&[one("a", 0, true), errored]), "an error is no pass");
    }

    #[test]
    fn empty_run_still_renders() {
        let empty = Summary {
            arms: vec![],
            pairs: vec![],
        };
        let page = html(&fixtures::info(), &empty, &[]);
        assert!(page.contains("No records."));
        assert_eq!(embedded(&page), "[]");
    }

    #[test]
    fn formatting_helpers() {
        assert_eq!(duration(75.4), "1 min 15 s");
        assert_eq!(duration(119.6), "2 min 00 s");
        assert_eq!(duration(f64::NAN), "–");
        assert_eq!(millis(1534.0), "1.53 s");
        assert_eq!(signed(0.25), "+0.250");
        assert_eq!(pct(f64::INFINITY), "–");
        assert_eq!(esc("a://b"), "a:&#47;/b");
    }
}
