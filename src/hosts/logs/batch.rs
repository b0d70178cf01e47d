//! Log lines written in batches: each line is appended to a buffer in memory (a lock and a copy,
//! no system call), and the buffer goes to standard output in one `write` — from a background
//! thread on a short timer or when it fills, at the end of each Lambda invocation, and at exit.
//! Nothing is dropped: a writer that finds the buffer at its cap writes it out itself
//! (back-pressure), so memory stays bounded and every line reaches standard output in order.
//!
//! Hand-written: writing each line to stdout costs a `write` per negotiate (BENCHMARKS.md, "Crates or ours").

use std::io::{self, Write as _};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// The background thread writes the buffer this often, or sooner once it holds `WAKE_AT`.
const TICK: Duration = Duration::from_millis(50);
const WAKE_AT: usize = 64 * 1024;
/// Past this, the thread that logs writes the buffer out itself.
const CAP: usize = 1024 * 1024;

/// Where batches go: standard output, or a test's own sink.
type Sink = Box<dyn Fn(&[u8]) + Send + Sync>;

/// The buffered lines, and the lock that keeps batches in order on their way out.
pub(super) struct Batch {
    lines: Mutex<Vec<u8>>,
    filled: Condvar,
    /// Held while a batch is written; holds the spare buffer the lines are swapped into.
    output: Mutex<Vec<u8>>,
    sink: Sink,
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

impl Batch {
    /// Batches for standard output.
    pub(super) fn new() -> Arc<Self> {
        Self::with_sink(Box::new(to_stdout))
    }

    fn with_sink(sink: Sink) -> Arc<Self> {
        Arc::new(Self {
            lines: Mutex::new(Vec::with_capacity(WAKE_AT)),
            filled: Condvar::new(),
            output: Mutex::new(Vec::with_capacity(WAKE_AT)),
            sink,
        })
    }

    fn append(&self, line: &[u8]) {
        let mut lines = lock(&self.lines);
        if lines.len() + line.len() > CAP {
            drop(lines);
            self.flush();
            lines = lock(&self.lines);
        }
        let before = lines.len();
        lines.extend_from_slice(line);
        if before < WAKE_AT && lines.len() >= WAKE_AT {
            self.filled.notify_one();
        }
    }

    /// Writes what is buffered now, in one write.
    pub(super) fn flush(&self) {
        let mut out = lock(&self.output);
        std::mem::swap(&mut *out, &mut *lock(&self.lines));
        if !out.is_empty() {
            (self.sink)(&out);
            out.clear();
        }
    }

    /// Writes the buffer every `TICK`, or sooner when it fills, for as long as the process runs.
    pub(super) fn flush_in_background(self: &Arc<Self>) {
        let batch = Arc::clone(self);
        let spawned = std::thread::Builder::new().name("logs".to_owned()).spawn(move || {
            loop {
                let lines = lock(&batch.lines);
                let (lines, _) = batch
                    .filled
                    .wait_timeout_while(lines, TICK, |lines| lines.len() < WAKE_AT)
                    .unwrap_or_else(PoisonError::into_inner);
                drop(lines);
                batch.flush();
            }
        });
        if spawned.is_err() {
            // No thread: lines are written when the buffer fills and at exit.
            eprintln!("signalr-negotiate: no thread for logs; they are written in larger batches");
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
    use super::*;

    /// Every write a batch made, one entry each.
    type Writes = Arc<Mutex<Vec<Vec<u8>>>>;

    /// A batch whose writes are recorded.
    fn recorded() -> (Arc<Batch>, Writes) {
        let writes = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&writes);
        let batch = Batch::with_sink(Box::new(move |bytes| lock(&record).push(bytes.to_vec())));
        (batch, writes)
    }

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
        batch.flush();
        assert_eq!(*lock(&writes), vec![b"line 0\nline 1\nline 2\n".to_vec()]);
        batch.flush();
        assert_eq!(lock(&writes).len(), 1, "an empty buffer is not written");
        assert!(
            lock(&batch.output).is_empty(),
            "the spare buffer is cleared after a write"
        );
    }

    #[test]
    fn a_full_buffer_is_written_by_the_writer_itself_and_nothing_is_lost() {
        let (batch, writes) = recorded();
        let line = [b'x'; 1000];
        let count = 3 * CAP / line.len();
        for _ in 0..count {
            batch.append(&line);
            assert!(lock(&batch.lines).len() <= CAP, "memory stays bounded");
        }
        assert!(lock(&writes).len() >= 2, "the writer wrote the full buffer out");
        batch.flush();
        let total: usize = lock(&writes).iter().map(Vec::len).sum();
        assert_eq!(total, count * line.len());
    }

    #[test]
    fn the_background_thread_writes_on_its_tick() {
        let (batch, writes) = recorded();
        batch.flush_in_background();
        batch.append(b"soon\n");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while lock(&writes).is_empty() {
            assert!(std::time::Instant::now() < deadline, "not written within 5 s");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(*lock(&writes), vec![b"soon\n".to_vec()]);
    }
}
