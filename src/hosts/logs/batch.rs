//! Log lines written in batches: each line is appended to a buffer in memory (a lock and a copy,
//! no system call), and a writer thread sends the buffer to standard output in one `write` — on
//! a short timer, when it fills, when a Lambda invocation ends, and at exit.
//!
//! Logging never waits for standard output, so a sink that stops reading (a stuck pipe) cannot
//! stop serving: past the cap, a line is dropped and counted, and once the writer gets through
//! again it logs how many were dropped, as one warning. Whoever needs the lines out (a Lambda
//! invocation before its answer, the process at exit) waits for the writer at most a bound; a
//! writer stuck in `write` is left behind when the process exits. With a sink that reads, every
//! line gets out, in order.
//!
//! Hand-written: writing each line to stdout costs a `write` per negotiate (BENCHMARKS.md, "Crates or ours").

use std::cell::Cell;
use std::io::{self, Write as _};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// The writer thread writes the buffer this often, or sooner once it holds `WAKE_AT`.
const TICK: Duration = Duration::from_millis(50);
const WAKE_AT: usize = 64 * 1024;
/// Past this, lines are dropped (and counted) until the writer takes the buffer.
const CAP: usize = 1024 * 1024;

/// Where batches go: standard output, or a test's own sink.
type Sink = Box<dyn Fn(&[u8]) + Send + Sync>;
/// How the count of dropped lines is told: a warning through the log format in use.
type Report = fn(&Batch, u64);

thread_local! {
    /// Set while the writer reports dropped lines: that one line may pass the cap.
    static REPORTING: Cell<bool> = const { Cell::new(false) };
}

/// The lines waiting for the writer.
struct Pending {
    bytes: Vec<u8>,
    /// Batches taken for writing so far.
    taken: u64,
    /// Someone waits for the lines to be out: write them now.
    flush_asked: bool,
}

/// What the writer has done.
struct Written {
    /// Batches written so far (the `taken` number of the last).
    batches: u64,
    /// A wait for the writer timed out when it had written this many: until it writes
    /// another, it is stuck, and nobody waits for it again.
    gave_up_at: Option<u64>,
}

/// The buffered lines, the writer's progress, and where batches go.
pub(super) struct Batch {
    pending: Mutex<Pending>,
    /// The writer waits on `pending` for lines, a flush or its tick.
    wake: Condvar,
    dropped: AtomicU64,
    written: Mutex<Written>,
    /// Told on each batch written.
    done: Condvar,
    /// Held while a batch is written; holds the spare buffer the lines are swapped into.
    output: Mutex<Vec<u8>>,
    /// A writer thread runs: nobody else writes, and nobody waits on the sink.
    threaded: AtomicBool,
    sink: Sink,
    report: Report,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Writes a batch to standard output; a closed standard output (a pipe whose reader left) is
/// not a reason to fail a request.
fn to_stdout(batch: &[u8]) {
    let mut stdout = io::stdout().lock();
    let _ = stdout.write_all(batch).and_then(|()| stdout.flush());
}

fn warn_dropped(_: &Batch, count: u64) {
    tracing::warn!(
        dropped = count,
        "{count} log lines were dropped while the log sink was not reading"
    );
}

impl Batch {
    /// Batches for standard output.
    pub(super) fn new() -> Arc<Self> {
        Self::with_sink(Box::new(to_stdout), warn_dropped)
    }

    fn with_sink(sink: Sink, report: Report) -> Arc<Self> {
        Arc::new(Self {
            pending: Mutex::new(Pending {
                bytes: Vec::with_capacity(WAKE_AT),
                taken: 0,
                flush_asked: false,
            }),
            wake: Condvar::new(),
            dropped: AtomicU64::new(0),
            written: Mutex::new(Written {
                batches: 0,
                gave_up_at: None,
            }),
            done: Condvar::new(),
            output: Mutex::new(Vec::with_capacity(WAKE_AT)),
            threaded: AtomicBool::new(false),
            sink,
            report,
        })
    }

    fn append(&self, line: &[u8]) {
        let mut pending = lock(&self.pending);
        if pending.bytes.len() + line.len() > CAP && !REPORTING.get() {
            if self.threaded.load(Ordering::Relaxed) {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            // No writer thread: the logger writes the buffer itself.
            drop(pending);
            self.write_batch();
            pending = lock(&self.pending);
        }
        let before = pending.bytes.len();
        pending.bytes.extend_from_slice(line);
        if before < WAKE_AT && pending.bytes.len() >= WAKE_AT {
            self.wake.notify_one();
        }
    }

    /// Writes what is buffered, in one write, ending with how many lines were dropped since
    /// the last write got through, if any.
    fn write_batch(&self) {
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            REPORTING.set(true);
            (self.report)(self, dropped);
            REPORTING.set(false);
        }
        let mut out = lock(&self.output);
        let number = {
            let mut pending = lock(&self.pending);
            std::mem::swap(&mut *out, &mut pending.bytes);
            pending.taken += u64::from(!out.is_empty());
            pending.taken
        };
        if !out.is_empty() {
            (self.sink)(&out);
            out.clear();
        }
        // Still holding `output`, so that the count only grows.
        let mut written = lock(&self.written);
        written.batches = number;
        written.gave_up_at = None;
        drop((written, out));
        self.done.notify_all();
    }

    /// Waits until the lines logged so far are written, at most `bound`; whether they are. A
    /// writer that a wait already gave up on is not waited for again until it writes. Without
    /// a writer thread, writes them now.
    pub(super) fn flush(&self, bound: Duration) -> bool {
        if !self.threaded.load(Ordering::Relaxed) {
            self.write_batch();
            return true;
        }
        let target = {
            let mut pending = lock(&self.pending);
            let more = !pending.bytes.is_empty() || self.dropped.load(Ordering::Relaxed) > 0;
            pending.flush_asked |= more;
            pending.taken + u64::from(more)
        };
        self.wake.notify_one();
        let written = lock(&self.written);
        if written.gave_up_at == Some(written.batches) && written.batches < target {
            return false;
        }
        let (mut written, waited) = self
            .done
            .wait_timeout_while(written, bound, |written| written.batches < target)
            .unwrap_or_else(PoisonError::into_inner);
        if waited.timed_out() {
            written.gave_up_at = Some(written.batches);
        }
        !waited.timed_out()
    }

    /// Starts the writer thread: it writes the buffer every `TICK`, sooner when it fills or a
    /// flush asks, for as long as the process runs.
    pub(super) fn write_in_background(self: &Arc<Self>) {
        let batch = Arc::clone(self);
        let spawned = std::thread::Builder::new().name("logs".to_owned()).spawn(move || {
            loop {
                let pending = lock(&batch.pending);
                let (mut pending, _) = batch
                    .wake
                    .wait_timeout_while(pending, TICK, |pending| {
                        pending.bytes.len() < WAKE_AT && !pending.flush_asked
                    })
                    .unwrap_or_else(PoisonError::into_inner);
                pending.flush_asked = false;
                drop(pending);
                batch.write_batch();
            }
        });
        match spawned {
            Ok(_) => self.threaded.store(true, Ordering::Relaxed),
            // No thread: whoever logs writes the buffer when it fills, and exit writes the rest.
            Err(_) => eprintln!("signalr-negotiate: no thread for logs; they are written in larger batches"),
        }
    }
}

/// The writer tracing's formatter writes each line to.
#[derive(Clone)]
pub(super) struct BatchWriter(pub(super) Arc<Batch>);

impl<'a> MakeWriter<'a> for BatchWriter {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        Line(&self.0)
    }
}

pub(super) struct Line<'a>(&'a Batch);

impl io::Write for Line<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.append(bytes);
        Ok(bytes.len())
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.0.append(bytes);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    /// Every write a batch made, one entry each.
    type Writes = Arc<Mutex<Vec<Vec<u8>>>>;

    /// A batch whose writes are recorded, and whose count of dropped lines is a line of its own.
    fn recorded() -> (Arc<Batch>, Writes) {
        gated(None)
    }

    /// As [`recorded`]; with a gate, each write waits until the gate is open.
    fn gated(gate: Option<Arc<(Mutex<bool>, Condvar)>>) -> (Arc<Batch>, Writes) {
        let writes = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&writes);
        let sink = move |bytes: &[u8]| {
            if let Some((open, opened)) = gate.as_deref() {
                drop(opened.wait_while(lock(open), |open| !*open).unwrap());
            }
            lock(&record).push(bytes.to_vec());
        };
        let report = |batch: &Batch, count: u64| batch.append(format!("{count} dropped\n").as_bytes());
        (Batch::with_sink(Box::new(sink), report), writes)
    }

    fn open(gate: &(Mutex<bool>, Condvar)) {
        *lock(&gate.0) = true;
        gate.1.notify_all();
    }

    const LONG: Duration = Duration::from_secs(10);

    #[test]
    fn lines_wait_in_memory_and_go_out_in_one_write_in_order() {
        let (batch, writes) = recorded();
        let writer = BatchWriter(Arc::clone(&batch));
        for n in 0..3 {
            writer
                .make_writer()
                .write_all(format!("line {n}\n").as_bytes())
                .unwrap();
        }
        assert!(lock(&writes).is_empty(), "nothing is written per line");
        assert!(batch.flush(LONG));
        assert_eq!(*lock(&writes), vec![b"line 0\nline 1\nline 2\n".to_vec()]);
        batch.flush(LONG);
        assert_eq!(lock(&writes).len(), 1, "an empty buffer is not written");
        assert!(
            lock(&batch.output).is_empty(),
            "the spare buffer is cleared after a write"
        );
    }

    /// Without a writer thread (none could be started), a full buffer is written by whoever
    /// logs: nothing is lost, memory stays bounded.
    #[test]
    fn a_full_buffer_is_written_by_the_writer_itself_and_nothing_is_lost() {
        let (batch, writes) = recorded();
        let line = [b'x'; 1000];
        let count = 3 * CAP / line.len();
        for _ in 0..count {
            batch.append(&line);
            assert!(lock(&batch.pending).bytes.len() <= CAP, "memory stays bounded");
        }
        assert!(lock(&writes).len() >= 2, "the writer wrote the full buffer out");
        batch.flush(LONG);
        let total: usize = lock(&writes).iter().map(Vec::len).sum();
        assert_eq!(total, count * line.len());
    }

    #[test]
    fn the_background_thread_writes_on_its_tick() {
        let (batch, writes) = recorded();
        batch.write_in_background();
        batch.append(b"soon\n");
        let deadline = Instant::now() + Duration::from_secs(5);
        while lock(&writes).is_empty() {
            assert!(Instant::now() < deadline, "not written within 5 s");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(*lock(&writes), vec![b"soon\n".to_vec()]);
    }

    /// A sink that stops reading holds up no logger: past the cap lines are dropped and
    /// counted, and the count is written once the sink reads again, after the lines kept.
    #[test]
    fn a_stuck_sink_holds_up_no_logger_and_dropped_lines_are_counted() {
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let (batch, writes) = gated(Some(Arc::clone(&gate)));
        batch.write_in_background();
        // The writer takes a first line on its tick and waits in the sink.
        batch.append(b"first\n");
        let deadline = Instant::now() + LONG;
        while lock(&batch.pending).taken == 0 {
            assert!(Instant::now() < deadline, "the writer took nothing");
            std::thread::sleep(Duration::from_millis(5));
        }
        let line = [b'x'; 99].iter().chain(b"\n").copied().collect::<Vec<u8>>();
        let count = 3 * CAP / line.len();
        let started = Instant::now();
        for _ in 0..count {
            batch.append(&line);
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "logging waited for the sink"
        );
        assert!(lock(&batch.pending).bytes.len() <= CAP, "memory stays bounded");
        assert!(batch.dropped.load(Ordering::Relaxed) > 0);
        assert!(lock(&writes).is_empty());

        open(&gate);
        assert!(batch.flush(LONG), "the lines are out once the sink reads");
        let out: Vec<u8> = lock(&writes).concat();
        let text = String::from_utf8(out).unwrap();
        let counts: Vec<&str> = text.lines().filter(|line| line.ends_with(" dropped")).collect();
        assert_eq!(counts.len(), 1, "one count");
        let dropped: usize = counts[0].trim_end_matches(" dropped").parse().unwrap();
        let kept = text.lines().filter(|l| l.as_bytes() == &line[..line.len() - 1]).count();
        assert_eq!(kept, CAP / line.len(), "the buffer was kept full");
        assert_eq!(kept + dropped, count, "every line was written or counted");
        assert!(text.starts_with("first\nxx"), "in order");
        assert!(
            text.ends_with(&format!("\n{dropped} dropped\n")),
            "the count after the lines kept"
        );
    }

    /// A flush (the end of a Lambda invocation, exit) waits for a stuck sink at most its
    /// bound, and does not wait for it again until it writes.
    #[test]
    fn a_flush_waits_at_most_its_bound_and_not_again_for_a_stuck_sink() {
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let (batch, writes) = gated(Some(Arc::clone(&gate)));
        batch.write_in_background();
        batch.append(b"first\n");
        let started = Instant::now();
        assert!(!batch.flush(Duration::from_millis(200)));
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(200) && waited < Duration::from_secs(2),
            "{waited:?}"
        );
        batch.append(b"second\n");
        let started = Instant::now();
        assert!(!batch.flush(LONG), "a writer given up on is not waited for");
        assert!(started.elapsed() < Duration::from_secs(1));

        open(&gate);
        let deadline = Instant::now() + LONG;
        while lock(&writes).is_empty() {
            assert!(Instant::now() < deadline, "the writer did not go on");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(batch.flush(LONG), "a writer that wrote again is waited for");
        assert_eq!(lock(&writes).concat(), b"first\nsecond\n");
        batch.append(b"third\n");
        assert!(batch.flush(LONG));
        assert_eq!(lock(&writes).concat(), b"first\nsecond\nthird\n");
    }
}
