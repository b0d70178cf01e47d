//! One connection: hyper's HTTP/1 connection over the socket, watched on both sides so that the
//! registry knows its phase. hyper reports no state, so the socket is wrapped ([`Watched`]: the
//! first byte of a request, a write that has to wait, the order to close) and so is the service
//! ([`Tracked`]: a request head complete, its answer handed over).
//!
//! The socket also carries two deadlines of its own: a new connection accepted while connections
//! are crowded has `first_byte_timeout` to send something, and an answer that has to wait for
//! the client to read has `write_timeout` to be taken, from when a write first waits until
//! everything is written; past either, the connection is closed.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::http::header::CONNECTION;
use axum::http::{HeaderValue, Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;

use super::registry::{Registry, Slot};
use crate::settings::ConnectionLimits;

/// Serves one connection on its own task, until it closes; then it leaves the registry.
pub(super) fn spawn<S, B>(
    tcp: TcpStream,
    (key, slot): (usize, Arc<Slot>),
    registry: &Arc<Registry>,
    http: &http1::Builder,
    service: S,
    limits: &ConnectionLimits,
) where
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>> + Send + 'static,
    S::Future: Unpin + Send,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    // Answers are small: send each at once rather than wait for an ACK (Nagle).
    let _ = tcp.set_nodelay(true);
    let io = Watched {
        tcp,
        slot: Arc::clone(&slot),
        woken_on_close: false,
        first_byte: registry
            .crowded()
            .then(|| Box::pin(tokio::time::sleep(limits.first_byte_timeout))),
        write_timeout: limits.write_timeout,
        write_deadline: None,
    };
    let service = Tracked {
        inner: service,
        slot,
        registry: Arc::clone(registry),
    };
    let connection = http.serve_connection(TokioIo::new(io), service);
    let registry = Arc::clone(registry);
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "connection closed");
        }
        registry.remove(key);
    });
}

/// The socket, as hyper reads and writes it.
struct Watched {
    tcp: TcpStream,
    slot: Arc<Slot>,
    woken_on_close: bool,
    first_byte: Option<Pin<Box<Sleep>>>,
    write_timeout: Duration,
    /// Armed when a write first waits; disarmed once everything is written.
    write_deadline: Option<Pin<Box<Sleep>>>,
}

impl Watched {
    /// The connection's task is woken when the registry closes it (its waker never changes:
    /// hyper polls the socket from the task's own future).
    fn wake_on_close(&mut self, cx: &Context<'_>) {
        if !self.woken_on_close {
            self.slot.wake_on_close(cx.waker());
            self.woken_on_close = true;
        }
    }

    /// A write that waits: its deadline, armed now if it is the first.
    fn write_waits(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        self.wake_on_close(cx);
        let deadline = self.write_deadline.get_or_insert_with(|| {
            self.slot.write_blocked(true);
            Box::pin(tokio::time::sleep(self.write_timeout))
        });
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client took no answer within the write timeout",
            )),
            Poll::Pending => Ok(()),
        }
    }

    fn closed() -> io::Error {
        io::Error::new(io::ErrorKind::ConnectionAborted, "closed to make room")
    }
}

impl AsyncRead for Watched {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.slot.closing() {
            return Poll::Ready(Err(Self::closed()));
        }
        let before = buf.filled().len();
        let read = Pin::new(&mut this.tcp).poll_read(cx, buf);
        match read {
            Poll::Ready(Ok(())) if buf.filled().len() > before => {
                this.slot.got_bytes();
                this.first_byte = None;
            }
            Poll::Pending => {
                this.wake_on_close(cx);
                if let Some(timer) = &mut this.first_byte {
                    if timer.as_mut().poll(cx).is_ready() {
                        this.first_byte = None;
                        if this.slot.silent() {
                            return Poll::Ready(Err(io::Error::new(
                                io::ErrorKind::TimedOut,
                                "no first byte within the first-byte timeout",
                            )));
                        }
                    }
                }
            }
            Poll::Ready(_) => {}
        }
        read
    }
}

impl AsyncWrite for Watched {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.slot.closing() {
            return Poll::Ready(Err(Self::closed()));
        }
        let written = Pin::new(&mut this.tcp).poll_write(cx, buf);
        if written.is_pending() {
            this.write_waits(cx)?;
        }
        written
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.slot.closing() {
            return Poll::Ready(Err(Self::closed()));
        }
        let written = Pin::new(&mut this.tcp).poll_write_vectored(cx, bufs);
        if written.is_pending() {
            this.write_waits(cx)?;
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    /// hyper flushes once everything it holds is written: the answer no longer waits.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(Pin::new(&mut this.tcp).poll_flush(cx))?;
        if this.write_deadline.take().is_some() {
            this.slot.write_blocked(false);
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

/// The service, as hyper calls it: a call is a complete request head; its answer, once ready,
/// leaves the connection idle, and closes it (`Connection: close`) when connections are crowded
/// or shutting down.
struct Tracked<S> {
    inner: S,
    slot: Arc<Slot>,
    registry: Arc<Registry>,
}

impl<S, B> hyper::service::Service<Request<Incoming>> for Tracked<S>
where
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>>,
    S::Future: Unpin,
{
    type Response = Response<B>;
    type Error = S::Error;
    type Future = Answering<S::Future>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        self.slot.handling();
        Answering {
            inner: self.inner.call(request),
            slot: Arc::clone(&self.slot),
            registry: Arc::clone(&self.registry),
        }
    }
}

struct Answering<F> {
    inner: F,
    slot: Arc<Slot>,
    registry: Arc<Registry>,
}

impl<F, B, E> Future for Answering<F>
where
    F: Future<Output = Result<Response<B>, E>> + Unpin,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut answer = ready!(Pin::new(&mut this.inner).poll(cx));
        this.slot.answered();
        if let Ok(response) = &mut answer {
            if this.registry.crowded() {
                response
                    .headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
            }
        }
        Poll::Ready(answer)
    }
}
