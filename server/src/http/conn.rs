//! Connection deadlines, so that slow or idle clients cannot hold connections open.
//!
//! A connection waits for a request's headers from its first moment, and then from the
//! first byte of each later request: they must arrive within the header timeout (a
//! slowloris sends them a byte at a time and never finishes). Between requests on a
//! keep-alive connection it may sit idle for the idle timeout. While a request is being
//! served no deadline applies here; the body has its own (see `Req::read`). A deadline that
//! passes closes the connection.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::config::ConnectionLimits;

/// What the connection and its requests share: how many requests have started and how many
/// are in flight, and since when it has been idle.
#[derive(Debug)]
pub struct Activity {
    started: AtomicU64,
    in_flight: AtomicU64,
    /// Nanoseconds after `opened` at which the last request in flight finished.
    idle_since: AtomicU64,
    opened: Instant,
    /// The reader, to be woken when the connection turns idle so that it arms its timer.
    reader: Mutex<Option<Waker>>,
}

/// A request in flight; dropping it ends the request.
#[derive(Debug)]
pub struct Serving(Arc<Activity>);

impl Activity {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            started: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            idle_since: AtomicU64::new(0),
            opened: Instant::now(),
            reader: Mutex::new(None),
        })
    }

    /// Marks a request as served until the guard drops.
    pub fn begin(self: &Arc<Self>) -> Serving {
        self.started.fetch_add(1, Ordering::SeqCst);
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Serving(self.clone())
    }

    fn idle_since(&self) -> Instant {
        self.opened + Duration::from_nanos(self.idle_since.load(Ordering::SeqCst))
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let a = &self.0;
        let since = a.opened.elapsed().as_nanos() as u64;
        a.idle_since.store(since, Ordering::SeqCst);
        if a.in_flight.fetch_sub(1, Ordering::SeqCst) == 1
            && let Ok(mut reader) = a.reader.lock()
            && let Some(waker) = reader.take()
        {
            waker.wake();
        }
    }
}

/// A connection's stream with the deadlines above on its reads.
pub struct Timed<S> {
    inner: S,
    limits: ConnectionLimits,
    activity: Arc<Activity>,
    /// When the headers being waited for began (their first byte, or the connection's
    /// start), and how many requests had started then.
    head: Option<(Instant, u64)>,
    timer: Pin<Box<Sleep>>,
}

impl<S> Timed<S> {
    pub fn new(inner: S, limits: ConnectionLimits) -> (Self, Arc<Activity>) {
        let activity = Activity::new();
        let opened = activity.opened;
        let timed = Self {
            inner,
            limits,
            activity: activity.clone(),
            head: Some((opened, 0)),
            timer: Box::pin(tokio::time::sleep_until(opened + limits.header_timeout)),
        };
        (timed, activity)
    }

    /// When the connection must next make progress; `None` while a request is served.
    fn deadline(&mut self) -> Option<Instant> {
        let started = self.activity.started.load(Ordering::SeqCst);
        if self.head.is_some_and(|(_, seen)| seen != started) {
            // A request began since these headers started arriving: they were its own.
            self.head = None;
        }
        if self.activity.in_flight.load(Ordering::SeqCst) > 0 {
            return None;
        }
        Some(match self.head {
            Some((since, _)) => since + self.limits.header_timeout,
            None => self.activity.idle_since() + self.limits.idle_timeout,
        })
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Timed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let idle = this.activity.in_flight.load(Ordering::SeqCst) == 0;
                if buf.filled().len() > before && idle && this.head.is_none() {
                    let started = this.activity.started.load(Ordering::SeqCst);
                    this.head = Some((Instant::now(), started));
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                if let Ok(mut reader) = this.activity.reader.lock() {
                    *reader = Some(cx.waker().clone());
                }
                let Some(deadline) = this.deadline() else {
                    return Poll::Pending;
                };
                if this.timer.deadline() != deadline {
                    this.timer.as_mut().reset(deadline);
                }
                match this.timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client was too slow or idle too long",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Timed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
