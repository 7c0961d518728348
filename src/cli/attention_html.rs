//! `promptlab attention --html FILE`: one self-contained page (no network)
//! with the model view (every layer × head as a small heatmap) and the head
//! view (one head full size, token strings on both axes, the strongest keys
//! of the query under the pointer). Weights are rounded to 4 decimals.

use std::path::Path;

use anyhow::Context;
use serde_json::json;

use promptlab_infer::attention::AttentionMaps;

/// More weights than this make a page a browser struggles with; the error
/// says to narrow it with --layer or --head.
const MAX_WEIGHTS: usize = 4_000_000;

const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>promptlab attention</title>
<style>
body{font:14px system-ui,sans-serif;margin:16px;background:#fff;color:#111}
#grid{display:grid;gap:3px;margin:8px 0}
#grid canvas{width:48px;height:48px;image-rendering:pixelated;cursor:pointer;border:1px solid #ccc}
#grid canvas.on{border-color:#d00}
.lab{font-size:11px;color:#555;align-self:center}
#keys{font-family:monospace;white-space:pre}
</style></head><body>
<h1>Attention</h1><p id="about"></p>
<h2>Model view <small>(click a head)</small></h2><div id="grid"></div>
<h2 id="title">Head view</h2><canvas id="head"></canvas><div id="keys"></div>
<script id="data" type="application/json">__DATA__</script>
<script>
const D = JSON.parse(document.getElementById('data').textContent);
const n = D.tokens.length;
const ramp = w => { const t = Math.sqrt(Math.max(0, Math.min(1, w)));
  return [Math.round(255 - 200 * t), Math.round(255 - 170 * t), Math.round(255 - 40 * t)]; };
const weight = (li, hi, q, k) => k <= q ? D.rows[li][hi][q][k] : 0;
function paint(canvas, li, hi, cell) {
  canvas.width = n * cell; canvas.height = n * cell;
  const g = canvas.getContext('2d');
  for (let q = 0; q < n; q++) for (let k = 0; k <= q; k++) {
    const [r, gr, b] = ramp(weight(li, hi, q, k));
    g.fillStyle = `rgb(${r},${gr},${b})`; g.fillRect(k * cell, q * cell, cell, cell);
  }
}
document.getElementById('about').textContent =
  `${n} positions (${D.prompt_tokens} prompt), ${D.layers.length} layers × ${D.heads.length} heads shown`;
const grid = document.getElementById('grid');
grid.style.gridTemplateColumns = `40px repeat(${D.heads.length}, 50px)`;
grid.appendChild(document.createElement('span'));
D.heads.forEach(h => { const s = document.createElement('span'); s.className = 'lab'; s.textContent = 'H' + h; grid.appendChild(s); });
const cells = [];
D.layers.forEach((l, li) => {
  const s = document.createElement('span'); s.className = 'lab'; s.textContent = 'L' + l; grid.appendChild(s);
  D.heads.forEach((h, hi) => {
    const c = document.createElement('canvas'); paint(c, li, hi, 1);
    c.title = `layer ${l} head ${h}`; c.onclick = () => show(li, hi);
    grid.appendChild(c); cells.push(c);
  });
});
const head = document.getElementById('head'), keys = document.getElementById('keys');
const label = 90, cell = Math.max(6, Math.min(24, Math.floor(720 / n)));
function show(li, hi) {
  cells.forEach((c, i) => c.classList.toggle('on', i === li * D.heads.length + hi));
  document.getElementById('title').textContent = `Head view: layer ${D.layers[li]} head ${D.heads[hi]}`;
  const body = document.createElement('canvas'); paint(body, li, hi, cell);
  head.width = label + n * cell; head.height = label + n * cell;
  const g = head.getContext('2d'); g.fillStyle = '#fff'; g.fillRect(0, 0, head.width, head.height);
  g.drawImage(body, label, label); g.fillStyle = '#111'; g.font = `${Math.min(12, cell)}px monospace`;
  D.tokens.forEach((t, i) => {
    g.textAlign = 'right'; g.fillText(t.slice(0, 10), label - 4, label + i * cell + cell * 0.8);
    g.save(); g.translate(label + i * cell + cell * 0.8, label - 4); g.rotate(-Math.PI / 2);
    g.textAlign = 'left'; g.fillText(t.slice(0, 10), 0, 0); g.restore();
  });
  head.onmousemove = e => {
    const q = Math.floor((e.offsetY - label) / cell); if (q < 0 || q >= n) return;
    const top = D.rows[li][hi][q].map((w, k) => [w, k]).sort((a, b) => b[0] - a[0]).slice(0, 5);
    keys.textContent = `query ${q} ${JSON.stringify(D.tokens[q])} attends to:\n` +
      top.map(([w, k]) => `  ${w.toFixed(4)}  ${k} ${JSON.stringify(D.tokens[k])}`).join('\n');
  };
  head.dataset.shown = `${D.layers[li]},${D.heads[hi]}`;
}
show(0, 0);
document.body.dataset.ready = String(cells.length);
</script></body></html>
"#;

/// Writes the page for `layers` × `heads` of `maps` over `tokens`.
pub fn write(
    path: &Path,
    maps: &AttentionMaps,
    tokens: &[String],
    prompt_tokens: usize,
    layers: &[usize],
    heads: &[usize],
) -> anyhow::Result<()> {
    let n = maps.n_queries();
    let weights = layers.len() * heads.len() * n * (n + 1) / 2;
    if weights > MAX_WEIGHTS {
        anyhow::bail!(
            "--html: {} layers × {} heads over {n} positions is {weights} weights, more than a page holds ({MAX_WEIGHTS}); pick one with --layer or --head",
            layers.len(),
            heads.len()
        );
    }
    let round = |w: f32| (f64::from(w) * 1e4).round() / 1e4;
    // rows[layer][head][query] = weights over keys 0..=query.
    let rows: Vec<Vec<Vec<Vec<f64>>>> = layers
        .iter()
        .map(|&l| {
            heads
                .iter()
                .map(|&h| {
                    (0..n)
                        .map(|q| maps.row(l, h, q).iter().map(|&w| round(w)).collect())
                        .collect()
                })
                .collect()
        })
        .collect();
    let data = json!({
        "tokens": tokens,
        "prompt_tokens": prompt_tokens,
        "layers": layers,
        "heads": heads,
        "rows": rows,
    });
    // `</` inside the JSON would end the script element early.
    let data = data.to_string().replace("</", "<\\/");
    let page = PAGE.replace("__DATA__", &data);
    promptlab_infer::fsutil::write_atomic(path, page.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}
