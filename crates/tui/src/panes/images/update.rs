//! The images pane's update: keys pick the model and dataset, sample,
//! train, stop and scrub; engine events fill in the frames of a drawing,
//! the labelled images, and the training chart.

use crossterm::event::{KeyCode, KeyEvent};

use super::state::{ImagesRun, ImagesState, RunKind, Training, View, MAX_EPOCHS, SAMPLES};
use crate::panes::Cx;
use crate::state::Effect;
use promptlab_engine::images::{DatasetKind, ImagesRequest, ImagesWork, ModelKind};
use promptlab_engine::{Event, RequestError};

/// The pane's keys and what they do, for the help and the README.
pub(crate) const KEYS: [(&str, &str); 12] = [
    (
        "← → 1-6",
        "the model: CNN, VAE, DCGAN, PixelCNN, Row LSTM, DDPM",
    ),
    ("d", "the dataset: MNIST or Fashion-MNIST"),
    ("s Enter", "draw 16 samples (the CNN: label 16 test images)"),
    (
        "v",
        "views: VAE walk and reconstructions, GAN interpolation",
    ),
    ("← → ↑ ↓", "in the VAE's walk: move the two latent sliders"),
    ("t", "train the model more epochs (into your checkpoint)"),
    ("+ -", "epochs the train key adds (1 … 50)"),
    (
        "c",
        "sample your checkpoint (when there is one) or the shipped",
    ),
    ("[ ]", "scrub the drawing: rows or denoising steps"),
    ("Home End", "first / last step of the drawing"),
    (
        "Esc",
        "stop the sampling or training (an epoch's checkpoint stays)",
    ),
    ("?", "how the samples are judged"),
];

/// The notice the `?` key shows.
const JUDGING: &str = "labels come from the shipped CNN; ≥ 0.9 is a confident label";

/// Images in a reconstruction or interpolation: what fits 80 × 24.
const EXPLORED: usize = 10;

/// How far one arrow moves a latent slider, and how far it goes.
const WALK_STEP: f32 = 0.5;
const WALK_LIMIT: f32 = 3.0;

pub(crate) fn on_key(s: &mut ImagesState, cx: &mut Cx, key: KeyEvent) -> Vec<Effect> {
    if s.view == View::Walk {
        let (dx, dy) = match key.code {
            KeyCode::Left => (-WALK_STEP, 0.0),
            KeyCode::Right => (WALK_STEP, 0.0),
            KeyCode::Up => (0.0, -WALK_STEP),
            KeyCode::Down => (0.0, WALK_STEP),
            _ => (0.0, 0.0),
        };
        if (dx, dy) != (0.0, 0.0) {
            if s.running() {
                return vec![];
            }
            let clamp = |v: f32| v.clamp(-WALK_LIMIT, WALK_LIMIT);
            s.walk = (clamp(s.walk.0 + dx), clamp(s.walk.1 + dy));
            return start(s, cx, RunKind::Sample);
        }
    }
    match key.code {
        KeyCode::Esc => return escape(s, cx),
        KeyCode::Char('v') => {
            if refuse_while_running(s, cx) {
                return vec![];
            }
            let views = View::of(s.model);
            if views.len() == 1 {
                *cx.notice = Some(format!("the {} has the samples view only", s.model.title()));
                return vec![];
            }
            let at = views.iter().position(|v| *v == s.view).unwrap_or(0);
            s.view = views[(at + 1) % views.len()];
            clear_images(s);
            *cx.notice = Some(format!("view: {}", s.view.name()));
            if s.view != View::Samples {
                return start(s, cx, RunKind::Sample);
            }
        }
        KeyCode::Left => pick_model(s, cx, -1),
        KeyCode::Right => pick_model(s, cx, 1),
        KeyCode::Char(c @ '1'..='6') => {
            let i = c as usize - '1' as usize;
            select(s, cx, ModelKind::ALL[i]);
        }
        KeyCode::Char('d') => {
            if refuse_while_running(s, cx) {
                return vec![];
            }
            s.dataset = match s.dataset {
                DatasetKind::Mnist => DatasetKind::FashionMnist,
                DatasetKind::FashionMnist => DatasetKind::Mnist,
            };
            clear_images(s);
            *cx.notice = Some(format!("dataset: {}", s.dataset.title()));
        }
        KeyCode::Char('s') | KeyCode::Enter => return start(s, cx, RunKind::Sample),
        KeyCode::Char('t') => return start(s, cx, RunKind::Train),
        KeyCode::Char('+') | KeyCode::Char('=') => {
            s.train_epochs = (s.train_epochs + 1).min(MAX_EPOCHS);
            *cx.notice = Some(epochs_notice(s));
        }
        KeyCode::Char('-') => {
            s.train_epochs = s.train_epochs.saturating_sub(1).max(1);
            *cx.notice = Some(epochs_notice(s));
        }
        KeyCode::Char('[') => scrub(s, -1),
        KeyCode::Char(']') => scrub(s, 1),
        KeyCode::Home if !s.frames.is_empty() => s.frame_at = Some(0),
        KeyCode::End => s.frame_at = None,
        KeyCode::Char('?') => *cx.notice = Some(JUDGING.into()),
        KeyCode::Char('c') => {
            s.shipped_only = !s.shipped_only;
            *cx.notice = Some(if s.shipped_only {
                "samples come from the shipped checkpoint".into()
            } else {
                "samples come from your checkpoint when there is one".into()
            });
        }
        _ => {}
    }
    vec![]
}

fn epochs_notice(s: &ImagesState) -> String {
    let plural = if s.train_epochs == 1 { "" } else { "s" };
    format!("the train key adds {} epoch{plural}", s.train_epochs)
}

fn pick_model(s: &mut ImagesState, cx: &mut Cx, step: isize) {
    let all = ModelKind::ALL;
    let at = all.iter().position(|m| *m == s.model).unwrap_or(0) as isize;
    let next = (at + step).rem_euclid(all.len() as isize) as usize;
    select(s, cx, all[next]);
}

fn select(s: &mut ImagesState, cx: &mut Cx, model: ModelKind) {
    if s.model == model {
        return;
    }
    if refuse_while_running(s, cx) {
        return;
    }
    s.model = model;
    s.view = View::Samples;
    clear_images(s);
}

fn clear_images(s: &mut ImagesState) {
    s.shown = None;
    s.caption.clear();
    s.frames.clear();
    s.frame_at = None;
}

/// Refuses a change of sub-view while work runs (its events are for the
/// model on show).
fn refuse_while_running(s: &ImagesState, cx: &mut Cx) -> bool {
    match &s.run {
        Some(run) => {
            *cx.notice = Some(format!(
                "the {} is {}: Esc stops it",
                run.model.title(),
                match run.kind {
                    RunKind::Sample => "sampling",
                    RunKind::Train => "training",
                }
            ));
            true
        }
        None => false,
    }
}

fn scrub(s: &mut ImagesState, step: isize) {
    if s.frames.is_empty() {
        return;
    }
    let last = s.frames.len() - 1;
    let at = s.frame_at.unwrap_or(last) as isize + step;
    let at = at.clamp(0, last as isize) as usize;
    s.frame_at = if at == last { None } else { Some(at) };
}

fn start(s: &mut ImagesState, cx: &mut Cx, kind: RunKind) -> Vec<Effect> {
    if refuse_while_running(s, cx) {
        return vec![];
    }
    let Some(paths) = s.paths.clone() else {
        return cx.refuse("the image lab has no data folder in this app");
    };
    let work = match kind {
        RunKind::Sample => {
            s.seed += 1;
            let shipped = s.shipped_only;
            match s.view {
                View::Samples => ImagesWork::Sample {
                    n: SAMPLES,
                    seed: s.seed,
                    shipped,
                },
                View::Walk => ImagesWork::Walk {
                    x: s.walk.0,
                    y: s.walk.1,
                    shipped,
                },
                View::Reconstruct => ImagesWork::Reconstruct {
                    n: EXPLORED / 2 - 1,
                    seed: s.seed,
                    shipped,
                },
                View::Interpolate => ImagesWork::Interpolate {
                    seed_a: 2 * s.seed,
                    seed_b: 2 * s.seed + 1,
                    steps: EXPLORED,
                    shipped,
                },
            }
        }
        RunKind::Train => {
            s.training = Training {
                model: Some(s.model),
                ..Training::default()
            };
            ImagesWork::Train {
                epochs: s.train_epochs,
                preview: SAMPLES,
            }
        }
    };
    let id = cx.take_id();
    s.run = Some(ImagesRun {
        id,
        kind,
        model: s.model,
        stopping: false,
    });
    if kind == RunKind::Sample && s.view == View::Samples {
        clear_images(s);
        s.caption = format!("drawing {SAMPLES} samples…");
    }
    *cx.notice = None;
    vec![Effect::Images(ImagesRequest {
        id,
        model: s.model,
        dataset: s.dataset,
        paths,
        work,
    })]
}

fn escape(s: &mut ImagesState, cx: &mut Cx) -> Vec<Effect> {
    match s.run.as_mut() {
        Some(run) if !run.stopping => {
            run.stopping = true;
            *cx.notice = Some("stopping…".into());
            vec![Effect::Cancel(run.id)]
        }
        _ => vec![],
    }
}

/// An engine event of this pane's request.
pub(crate) fn on_engine(s: &mut ImagesState, notice: &mut Option<String>, event: Event) {
    match event {
        Event::ImagesFrame {
            id,
            images,
            caption,
        } if s.owns(id) => {
            s.frames.push((caption.clone(), images.clone()));
            s.shown = Some(images);
            s.caption = caption;
        }
        Event::ImagesSamples { id, images } if s.owns(id) => {
            let training = s.run.as_ref().is_some_and(|r| r.kind == RunKind::Train);
            s.caption = if training {
                match s.training.epochs.last() {
                    Some(e) => format!("after epoch {}", e.epoch),
                    None => "after training".into(),
                }
            } else {
                let confident = images.labels.iter().filter(|(_, p)| *p >= 0.9).count();
                let judged = format!("{confident}/{} labelled ≥ .9", images.labels.len());
                match s.view {
                    View::Samples => judged,
                    View::Walk => format!(
                        "z₁ {:+.1} across, z₂ {:+.1} down, at the middle (← → ↑ ↓) · {judged}",
                        s.walk.0, s.walk.1
                    ),
                    View::Reconstruct => format!("test image, reconstruction, … · {judged}"),
                    View::Interpolate => {
                        format!(
                            "seed {} → seed {}, row by row · {judged}",
                            2 * s.seed,
                            2 * s.seed + 1
                        )
                    }
                }
            };
            if !training && s.view == View::Samples {
                s.frames.push((s.caption.clone(), images.clone()));
            }
            s.shown = Some(images);
        }
        Event::ImagesTraining { id, report } if s.owns(id) => s.record(report),
        Event::ImagesFinished {
            id,
            summary,
            stopped: _,
        } if s.owns(id) => {
            s.run = None;
            *notice = Some(summary);
        }
        Event::Failed { id, error } if s.owns(id) => {
            s.run = None;
            *notice = Some(match error {
                RequestError::Cancelled => "stopped".into(),
                other => other.to_string(),
            });
        }
        _ => {}
    }
}
