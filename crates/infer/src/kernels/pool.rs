//! The threads behind the matrix-vector kernels. Decoding one token runs a
//! hundred or so short parallel loops a few microseconds apart, so waking
//! sleeping threads for each (as a general-purpose pool does) costs as much
//! as the work. Here the calling thread and `threads − 1` workers split each
//! loop's tasks; between loops a worker spins for a short while (with the
//! CPU's pause hint) and then sleeps, so an idle promptlab uses no CPU.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

/// Spin iterations a worker waits for the next loop before it sleeps
/// (tens of microseconds).
const SPIN_ROUNDS: u32 = 1 << 15;

/// One loop: `tasks` calls of `f`, by index. The pointer's lifetime is
/// erased: [`Pool::run`] does not return before every claimed call has.
#[derive(Clone, Copy)]
struct Job {
    generation: u64,
    f: *const (dyn Fn(usize) + Sync),
    tasks: usize,
}

// SAFETY: `f` points at a `Sync` closure, called only while `Pool::run`
// (which owns it) waits.
unsafe impl Send for Job {}

struct Shared {
    /// (generation << 32) | next task index: a task is claimed by advancing
    /// the index within the generation the claimer read the job of.
    ticket: AtomicU64,
    job: Mutex<Option<Job>>,
    /// Claimed or unclaimed tasks of the current loop not yet finished.
    remaining: AtomicUsize,
    sleepers: AtomicUsize,
    sleep: Mutex<()>,
    wake: Condvar,
}

pub struct Pool {
    shared: Arc<Shared>,
    threads: usize,
    /// Held by the thread whose loop the workers are on.
    running: Mutex<()>,
}

impl Pool {
    /// The pool for the whole process, sized like the compute threads.
    pub fn global() -> &'static Pool {
        static POOL: OnceLock<Pool> = OnceLock::new();
        POOL.get_or_init(|| Pool::new(rayon::current_num_threads().max(1)))
    }

    fn new(threads: usize) -> Pool {
        let shared = Arc::new(Shared {
            ticket: AtomicU64::new(0),
            job: Mutex::new(None),
            remaining: AtomicUsize::new(0),
            sleepers: AtomicUsize::new(0),
            sleep: Mutex::new(()),
            wake: Condvar::new(),
        });
        for i in 1..threads {
            let shared = Arc::clone(&shared);
            let spawned = std::thread::Builder::new()
                .name(format!("promptlab-kernel-{i}"))
                .spawn(move || worker(&shared));
            if spawned.is_err() {
                // Fewer threads than asked: the loops still run, on fewer.
                break;
            }
        }
        Pool {
            shared,
            threads,
            running: Mutex::new(()),
        }
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Calls `f(0) … f(tasks − 1)`, spread over the pool; returns when all
    /// have returned. A loop started while another thread's loop runs runs
    /// on the calling thread alone.
    pub fn run(&self, tasks: usize, f: &(dyn Fn(usize) + Sync)) {
        let guard = match self.running.try_lock() {
            Ok(g) if self.threads > 1 && tasks > 1 => g,
            _ => {
                (0..tasks).for_each(f);
                return;
            }
        };
        let s = &*self.shared;
        let generation = (s.ticket.load(Acquire) >> 32) + 1;
        // SAFETY: only the lifetime is erased; `f` outlives every call made
        // through this pointer, as this function waits below for all of them.
        let erased: *const (dyn Fn(usize) + Sync) = unsafe { std::mem::transmute(f) };
        *s.job.lock().unwrap_or_else(|p| p.into_inner()) = Some(Job {
            generation,
            f: erased,
            tasks,
        });
        s.remaining.store(tasks, SeqCst);
        s.ticket.store(generation << 32, SeqCst);
        if s.sleepers.load(SeqCst) > 0 {
            let _lock = s.sleep.lock().unwrap_or_else(|p| p.into_inner());
            s.wake.notify_all();
        }
        work_on(s, generation, tasks, f);
        while s.remaining.load(Acquire) > 0 {
            std::hint::spin_loop();
        }
        drop(guard);
    }
}

/// Claims and runs tasks of loop `generation` until none is left.
fn work_on(s: &Shared, generation: u64, tasks: usize, f: &(dyn Fn(usize) + Sync)) {
    let mut t = s.ticket.load(Acquire);
    loop {
        let index = (t & 0xFFFF_FFFF) as usize;
        if t >> 32 != generation || index >= tasks {
            return;
        }
        match s.ticket.compare_exchange_weak(t, t + 1, AcqRel, Acquire) {
            Ok(_) => {
                f(index);
                s.remaining.fetch_sub(1, Release);
                t = s.ticket.load(Acquire);
            }
            Err(now) => t = now,
        }
    }
}

fn worker(s: &Shared) {
    let mut seen = 0u64;
    loop {
        // Wait for a loop newer than the last one worked on.
        let mut rounds = 0u32;
        loop {
            let generation = s.ticket.load(Acquire) >> 32;
            if generation != seen {
                break;
            }
            if rounds < SPIN_ROUNDS {
                rounds += 1;
                std::hint::spin_loop();
                continue;
            }
            let lock = s.sleep.lock().unwrap_or_else(|p| p.into_inner());
            s.sleepers.fetch_add(1, SeqCst);
            if s.ticket.load(SeqCst) >> 32 == seen {
                drop(s.wake.wait(lock).unwrap_or_else(|p| p.into_inner()));
            }
            s.sleepers.fetch_sub(1, SeqCst);
            rounds = 0;
        }
        let job = *s.job.lock().unwrap_or_else(|p| p.into_inner());
        let Some(job) = job else { continue };
        seen = job.generation;
        // SAFETY: the job's closure stays alive until `remaining` reaches 0,
        // and `work_on` calls it only for tasks it claims within this job's
        // generation, each finished before `remaining` is decremented.
        let f = unsafe { &*job.f };
        work_on(s, job.generation, job.tasks, f);
    }
}

/// Splits `out` into runs of `chunk` values and calls `f(index, run)` for
/// each, spread over the pool.
pub fn for_each_chunk_mut(out: &mut [f32], chunk: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    let chunk = chunk.max(1);
    let len = out.len();
    let tasks = len.div_ceil(chunk);
    let base = SendPtr(out.as_mut_ptr());
    let base = &base;
    Pool::global().run(tasks, &move |i| {
        let start = i * chunk;
        let n = chunk.min(len - start);
        // SAFETY: task i alone gets values start..start + n, inside `out`,
        // which is borrowed mutably for the whole call.
        let run = unsafe { std::slice::from_raw_parts_mut(base.0.add(start), n) };
        f(i, run);
    });
}

struct SendPtr(*mut f32);
// SAFETY: used only to hand disjoint runs of one slice to the pool's tasks.
unsafe impl Sync for SendPtr {}
