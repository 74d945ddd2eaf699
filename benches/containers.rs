//! The requester's hand-written containers beside the library containers that could replace
//! them, at the sizes the machine meets. Prints, per job and size, the median nanoseconds per
//! operation of each and the bytes per entry, and ours divided by the best library one (below
//! 0.90: ours is more than 10% better).
//!
//! Run with `cargo bench --bench containers`, sizes as arguments
//! (`cargo bench --bench containers -- 1000 1000000`). The containers are compiled from the
//! crate's own source files, so what runs here is what the machine runs. Contestants take turns
//! repetition by repetition, so that a machine whose speed drifts shifts them alike.

mod support;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::hash::BuildHasherDefault;
use std::hint::black_box;
use std::time::{Duration, Instant};

use ids::RequestId;
use numbered::{NumberHasher, Numbered};
use support::{live_bytes, summary};
use timers::Timers;

/// What `timers.rs` names as `crate::ids`.
mod ids {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub struct RequestId(pub u64);
}

#[allow(dead_code, unused_imports)] // the machine uses more of it; its unit tests are not run here
#[path = "../src/requester/numbered.rs"]
mod numbered;

#[allow(dead_code, unused_imports)] // the machine uses more of it; its unit tests are not run here
#[path = "../src/requester/timers.rs"]
mod timers;

const SIZES: [usize; 2] = [1_000, 1_000_000];

/// A waiter's size: what the machine stores most under its numbers.
type Value = [u64; 2];

/// One measured figure: the job, and per contestant the samples of all repetitions.
struct Figure {
    job: &'static str,
    unit: &'static str,
    samples: Vec<Vec<f64>>,
}

/// Runs `sample` for each contestant, `repetitions` times in turn, and gathers its figures.
/// A sample is one value per job, in the order of `jobs`.
fn compare(
    jobs: &[(&'static str, &'static str)],
    contestants: &[&dyn Fn() -> Vec<f64>],
    repetitions: usize,
) -> Vec<Figure> {
    let mut figures: Vec<Figure> = jobs
        .iter()
        .map(|&(job, unit)| Figure {
            job,
            unit,
            samples: vec![Vec::new(); contestants.len()],
        })
        .collect();
    for contestant in contestants {
        contestant(); // warm up
    }
    for _ in 0..repetitions {
        for (which, contestant) in contestants.iter().enumerate() {
            for (figure, value) in figures.iter_mut().zip(contestant()) {
                figure.samples[which].push(value);
            }
        }
    }
    figures
}

fn print(title: &str, size: usize, names: &[&str], figures: &[Figure]) {
    println!("\n{title}, {size} entries");
    print!("{:<34}", "job");
    for name in names {
        print!(" {name:>16}");
    }
    println!(" {:>12}", "ours / best");
    for figure in figures {
        let medians: Vec<f64> = figure
            .samples
            .iter()
            .map(|samples| summary(samples.clone()).0)
            .collect();
        print!("{:<34}", format!("{} ({})", figure.job, figure.unit));
        for median in &medians {
            print!(" {median:>16.1}");
        }
        let best_library = medians
            .iter()
            .skip(1)
            .copied()
            .fold(f64::INFINITY, f64::min);
        println!(" {:>12.2}", medians[0] / best_library);
    }
}

/// A fixed pseudo-random permutation of `0..size`: replies in an order unlike the requests'.
fn scrambled(size: usize) -> Vec<u64> {
    let mut order: Vec<u64> = (0..size as u64).collect();
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    for i in (1..order.len()).rev() {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        order.swap(i, (state >> 33) as usize % (i + 1));
    }
    order
}

/// Nanoseconds per operation of `job`, which runs `ops` operations.
fn timed(ops: usize, job: impl FnOnce()) -> f64 {
    let start = Instant::now();
    job();
    start.elapsed().as_nanos() as f64 / ops as f64
}

// ---------------------------------------------------------------------------------------------
// Values under the machine's own increasing numbers (waiters by request id, sources by number).

trait ByNumber: Default {
    fn insert(&mut self, number: u64, value: Value);
    fn get(&self, number: u64) -> Option<&Value>;
    fn remove(&mut self, number: u64) -> Option<Value>;
}

impl ByNumber for Numbered<Value> {
    fn insert(&mut self, number: u64, value: Value) {
        Numbered::insert(self, number, value);
    }
    fn get(&self, number: u64) -> Option<&Value> {
        Numbered::get(self, number)
    }
    fn remove(&mut self, number: u64) -> Option<Value> {
        Numbered::remove(self, number)
    }
}

/// std's `HashMap` (hashbrown inside) with the multiplicative hash the machine's numbers allow.
type NumberMap = HashMap<u64, Value, BuildHasherDefault<NumberHasher>>;

impl ByNumber for NumberMap {
    fn insert(&mut self, number: u64, value: Value) {
        HashMap::insert(self, number, value);
    }
    fn get(&self, number: u64) -> Option<&Value> {
        HashMap::get(self, &number)
    }
    fn remove(&mut self, number: u64) -> Option<Value> {
        HashMap::remove(self, &number)
    }
}

impl ByNumber for BTreeMap<u64, Value> {
    fn insert(&mut self, number: u64, value: Value) {
        BTreeMap::insert(self, number, value);
    }
    fn get(&self, number: u64) -> Option<&Value> {
        BTreeMap::get(self, &number)
    }
    fn remove(&mut self, number: u64) -> Option<Value> {
        BTreeMap::remove(self, &number)
    }
}

fn filled<C: ByNumber>(size: usize) -> C {
    let mut container = C::default();
    for number in 0..size as u64 {
        container.insert(number, [number, 0]);
    }
    container
}

/// Completes every value: looks it up, then removes it, in `order`.
fn reply_all<C: ByNumber>(container: &mut C, order: impl Iterator<Item = u64>) {
    for number in order {
        black_box(container.get(number));
        black_box(container.remove(number));
    }
}

const BY_NUMBER_JOBS: [(&str, &str); 5] = [
    ("insert, increasing", "ns"),
    ("lookup + remove, in order", "ns"),
    ("lookup + remove, scrambled", "ns"),
    ("steady: insert, lookup + remove", "ns"),
    ("memory", "bytes/entry"),
];

/// One repetition of every job on `C` at `size` entries.
fn by_number_sample<C: ByNumber>(size: usize, order: &[u64]) -> Vec<f64> {
    let before = live_bytes();
    let mut container = C::default();
    let insert = timed(size, || {
        for number in 0..size as u64 {
            container.insert(number, [number, 0]);
        }
    });
    let bytes = (live_bytes() - before) as f64 / size as f64;
    let scrambled = timed(size, || reply_all(&mut container, order.iter().copied()));
    let mut container: C = filled(size);
    let in_order = timed(size, || reply_all(&mut container, 0..size as u64));
    // A session with `size` requests in flight: each step one is sent and the oldest answered.
    let mut container: C = filled(size);
    let steps = size.max(100_000);
    let steady = timed(steps, || {
        for step in 0..steps as u64 {
            container.insert(size as u64 + step, [step, 0]);
            reply_all(&mut container, std::iter::once(step));
        }
    });
    vec![insert, in_order, scrambled, steady, bytes]
}

fn by_number(size: usize, repetitions: usize) {
    let order = scrambled(size);
    let figures = compare(
        &BY_NUMBER_JOBS,
        &[
            &|| by_number_sample::<Numbered<Value>>(size, &order),
            &|| by_number_sample::<NumberMap>(size, &order),
            &|| by_number_sample::<BTreeMap<u64, Value>>(size, &order),
        ],
        repetitions,
    );
    print(
        "By number (src/requester/numbered.rs)",
        size,
        &["Numbered (ours)", "HashMap", "BTreeMap"],
        &figures,
    );
}

// ---------------------------------------------------------------------------------------------
// Deadlines of waiting queries.

/// What the machine asks of its deadlines. `live[id]` says whether waiter `id` still waits; the
/// machine keeps that in its waiters, the lazy contestants ask it, the eager one does not.
trait Deadlines: Default {
    fn arm(&mut self, deadline: Instant, id: RequestId);
    /// Waiter `id` was answered before its deadline (`live[id]` is already false).
    fn answered(&mut self, deadline: Instant, id: RequestId, live: &[bool]);
    /// Times out every waiter due at `now`, as the machine's `handle_timeout` does.
    fn expire(&mut self, now: Instant, live: &mut [bool]) -> usize;
    fn next(&self) -> Option<Instant>;
}

fn is_live(live: &[bool], id: RequestId) -> bool {
    live.get(id.0 as usize).copied().unwrap_or(false)
}

/// Takes `live[id]`: whether the waiter was still waiting.
fn finish(live: &mut [bool], id: RequestId) -> bool {
    live.get_mut(id.0 as usize)
        .map(|slot| std::mem::replace(slot, false))
        .unwrap_or(false)
}

impl Deadlines for Timers {
    fn arm(&mut self, deadline: Instant, id: RequestId) {
        Timers::arm(self, deadline, id);
    }
    fn answered(&mut self, _: Instant, _: RequestId, live: &[bool]) {
        self.disarm();
        self.prune(|_, id| is_live(live, id));
    }
    fn expire(&mut self, now: Instant, live: &mut [bool]) -> usize {
        let mut expired = 0;
        while let Some((_, id)) = self.pop_due(now) {
            if finish(live, id) {
                self.disarm();
                expired += 1;
            }
        }
        self.prune(|_, id| is_live(live, id));
        expired
    }
    fn next(&self) -> Option<Instant> {
        Timers::next(self)
    }
}

/// std's binary heap alone, with the same lazy deletion and compaction as ours.
#[derive(Default)]
struct HeapTimers {
    heap: BinaryHeap<Reverse<(Instant, RequestId)>>,
    live: usize,
}

impl HeapTimers {
    fn prune(&mut self, live: &[bool]) {
        if self.heap.len() > 2 * self.live + 1024 {
            self.heap.retain(|Reverse((_, id))| is_live(live, *id));
        }
        while let Some(Reverse((_, id))) = self.heap.peek() {
            if is_live(live, *id) {
                break;
            }
            self.heap.pop();
        }
    }
}

impl Deadlines for HeapTimers {
    fn arm(&mut self, deadline: Instant, id: RequestId) {
        self.heap.push(Reverse((deadline, id)));
        self.live += 1;
    }
    fn answered(&mut self, _: Instant, _: RequestId, live: &[bool]) {
        self.live -= 1;
        self.prune(live);
    }
    fn expire(&mut self, now: Instant, live: &mut [bool]) -> usize {
        let mut expired = 0;
        while let Some(Reverse((deadline, id))) = self.heap.peek().copied() {
            if deadline > now {
                break;
            }
            self.heap.pop();
            if finish(live, id) {
                self.live -= 1;
                expired += 1;
            }
        }
        self.prune(live);
        expired
    }
    fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((deadline, _))| *deadline)
    }
}

/// std's ordered set, deleting eagerly (a waiter would keep its deadline to find its entry).
#[derive(Default)]
struct TreeTimers(BTreeSet<(Instant, RequestId)>);

impl Deadlines for TreeTimers {
    fn arm(&mut self, deadline: Instant, id: RequestId) {
        self.0.insert((deadline, id));
    }
    fn answered(&mut self, deadline: Instant, id: RequestId, _: &[bool]) {
        self.0.remove(&(deadline, id));
    }
    fn expire(&mut self, now: Instant, live: &mut [bool]) -> usize {
        let mut expired = 0;
        while let Some(&(deadline, id)) = self.0.first() {
            if deadline > now {
                break;
            }
            self.0.pop_first();
            expired += usize::from(finish(live, id));
        }
        expired
    }
    fn next(&self) -> Option<Instant> {
        self.0.first().map(|(deadline, _)| *deadline)
    }
}

const DEADLINES_JOBS: [(&str, &str); 7] = [
    ("arm, one timeout", "ns"),
    ("next deadline", "ns"),
    ("answered, in order", "ns"),
    ("answered, scrambled", "ns"),
    ("expire all", "ns"),
    ("arm + expire, two timeouts", "ns"),
    ("memory", "bytes/entry"),
];

/// The deadline of query `id` when every query uses `timeout`, one sent per microsecond.
fn deadline(base: Instant, id: u64, timeout: Duration) -> Instant {
    base + timeout + Duration::from_micros(id)
}

fn armed<C: Deadlines>(size: usize, base: Instant) -> (C, Vec<bool>) {
    let mut timers = C::default();
    for id in 0..size as u64 {
        timers.arm(deadline(base, id, Duration::from_secs(5)), RequestId(id));
    }
    (timers, vec![true; size])
}

/// Answers every query, in `order`.
fn answer_all<C: Deadlines>(timers: &mut C, live: &mut [bool], base: Instant, order: &[u64]) {
    for &id in order {
        if let Some(slot) = live.get_mut(id as usize) {
            *slot = false;
        }
        timers.answered(
            deadline(base, id, Duration::from_secs(5)),
            RequestId(id),
            live,
        );
    }
}

fn deadlines_sample<C: Deadlines>(size: usize, order: &[u64]) -> Vec<f64> {
    let base = Instant::now();
    let far = base + Duration::from_secs(3_600);
    let mut live = vec![true; size];
    let before = live_bytes();
    let mut timers = C::default();
    let arm = timed(size, || {
        for id in 0..size as u64 {
            timers.arm(deadline(base, id, Duration::from_secs(5)), RequestId(id));
        }
    });
    let bytes = (live_bytes() - before) as f64 / size as f64;
    let polls = 1_000;
    let next = timed(polls, || {
        for _ in 0..polls {
            black_box(timers.next());
        }
    });
    let scrambled = timed(size, || answer_all(&mut timers, &mut live, base, order));
    let (mut timers, mut live) = armed::<C>(size, base);
    let in_order: Vec<u64> = (0..size as u64).collect();
    let answered = timed(size, || answer_all(&mut timers, &mut live, base, &in_order));
    let (mut timers, mut live) = armed::<C>(size, base);
    let expire = timed(size, || {
        assert_eq!(timers.expire(far, &mut live), size);
    });
    // Queries of two timeouts, alternating: every other deadline is earlier than the one before.
    let mut timers = C::default();
    let mut live = vec![true; size];
    let mixed = timed(size, || {
        for id in 0..size as u64 {
            let timeout = Duration::from_secs(if id % 2 == 0 { 30 } else { 5 });
            timers.arm(deadline(base, id, timeout), RequestId(id));
        }
        assert_eq!(timers.expire(far, &mut live), size);
    });
    vec![arm, next, answered, scrambled, expire, mixed, bytes]
}

fn deadlines(size: usize, repetitions: usize) {
    let order = scrambled(size);
    let figures = compare(
        &DEADLINES_JOBS,
        &[
            &|| deadlines_sample::<Timers>(size, &order),
            &|| deadlines_sample::<HeapTimers>(size, &order),
            &|| deadlines_sample::<TreeTimers>(size, &order),
        ],
        repetitions,
    );
    print(
        "Deadlines (src/requester/timers.rs)",
        size,
        &["Timers (ours)", "BinaryHeap", "BTreeSet"],
        &figures,
    );
}

fn main() {
    // `cargo bench` passes `--bench`; numbers choose the sizes.
    let mut sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|arg| arg.parse().ok())
        .collect();
    if sizes.is_empty() {
        sizes = SIZES.to_vec();
    }
    for size in sizes {
        // Small sizes are over in microseconds: repeat them more, for a steady median.
        let repetitions = (20_000_000 / size.max(1)).clamp(5, 51);
        by_number(size, repetitions);
        deadlines(size, repetitions);
    }
}
