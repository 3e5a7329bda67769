//! The `--metrics` HTTP endpoint, served by `hyper` (HTTP/1.1) on a one-thread `tokio`
//! runtime of its own: `GET`/`HEAD /metrics` (a query string is ignored) answer the latest
//! exposition text; another path is 404, another method 405; a malformed request gets
//! hyper's 400 and the connection is closed. HTTP/1.1 connections are kept alive.
//!
//! Bounds: at most [`MAX_CONNECTIONS`] connections at once (one more is answered 503 with
//! `Retry-After: 1` and closed); a request head must arrive within [`HEAD_TIMEOUT`] of the
//! moment the connection waits for it (hyper's `header_read_timeout`, which also closes a
//! kept-alive connection idle that long, and one that never says a word); a client must take
//! an answer within [`WRITE_TIMEOUT`] ([`Deadline`]); a failed `accept()` (out of file
//! descriptors, say) is waited out for [`ACCEPT_BACKOFF`] and retried, never the end.
//! Stopping (shutdown or drop of [`Server`]) closes the listener at once, closes idle
//! connections, and lets answers being written finish for [`SHUTDOWN_GRACE`] at most.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONNECTION, CONTENT_TYPE as CT, RETRY_AFTER, SERVER};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

/// Connections served at once; one more is answered 503 and closed.
pub const MAX_CONNECTIONS: usize = 64;
/// Time a client has to send a whole request head once the connection waits for one (just
/// opened, or kept alive after an answer).
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// Time a client has to take an answer (one that does not read is dropped after it).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Wait after a failed `accept()` before the next one.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// How long stopping waits for the answers being written.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);
/// Largest request head hyper reads (hyper's minimum is 8 KiB).
const MAX_HEAD: usize = 16 * 1024;
/// Content type of the exposition text (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The server's bounds (the constants above; smaller in the tests).
#[derive(Clone, Copy, Debug)]
struct Limits {
    max_connections: usize,
    head_timeout: Duration,
    write_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: MAX_CONNECTIONS,
            head_timeout: HEAD_TIMEOUT,
            write_timeout: WRITE_TIMEOUT,
        }
    }
}

/// The running endpoint; stopped when shut down or dropped.
pub struct Server {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    /// Says when the server's thread has ended (listener and connections closed).
    ended: mpsc::Receiver<()>,
    /// Free places among the connections (for the tests).
    #[cfg_attr(not(test), allow(dead_code))]
    places: Arc<Semaphore>,
}

/// Listen on `addr` and serve `GET /metrics` with the latest `text`. [`Server::addr`] is
/// the address actually bound (port 0 picks a free one).
pub fn serve(addr: &str, text: Arc<Mutex<String>>) -> Result<Server, String> {
    serve_with(addr, text, Limits::default())
}

fn serve_with(addr: &str, text: Arc<Mutex<String>>, limits: Limits) -> Result<Server, String> {
    let cannot = |e: io::Error| format!("cannot listen: {e}; choose another address or port");
    let std_listener = std::net::TcpListener::bind(addr).map_err(cannot)?;
    let local = std_listener.local_addr().map_err(cannot)?;
    std_listener.set_nonblocking(true).map_err(cannot)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| format!("cannot start the metrics server: {e}"))?;
    let listener = {
        let _in_rt = rt.enter();
        TcpListener::from_std(std_listener).map_err(cannot)?
    };
    let (stop, stop_rx) = watch::channel(false);
    let places = Arc::new(Semaphore::new(limits.max_connections));
    let (ended_tx, ended) = mpsc::channel();
    let p = places.clone();
    std::thread::Builder::new()
        .name("metrics-http".into())
        .spawn(move || {
            rt.block_on(run(listener, text, limits, p, stop_rx));
            // (dropping the runtime closes what is left: connections past the grace)
            drop(rt);
            let _ = ended_tx.send(());
        })
        .map_err(|e| format!("cannot start the metrics server: {e}"))?;
    Ok(Server {
        addr: local,
        stop,
        ended,
        places,
    })
}

impl Server {
    /// The address bound.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stop: see [`Drop`].
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for Server {
    /// The listener is closed, idle connections are closed, answers being written finish
    /// (within [`SHUTDOWN_GRACE`]).
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        let _ = self
            .ended
            .recv_timeout(SHUTDOWN_GRACE + Duration::from_millis(500));
    }
}

/// Where connections come from (a listener; a failing one in the tests).
trait Accept {
    fn accept(&mut self) -> impl Future<Output = io::Result<TcpStream>>;
}

impl Accept for TcpListener {
    async fn accept(&mut self) -> io::Result<TcpStream> {
        TcpListener::accept(self).await.map(|(s, _)| s)
    }
}

/// Accept until told to stop, each connection on a task of its own; then wait (within the
/// grace) for the connections to finish.
async fn run(
    mut listener: impl Accept,
    text: Arc<Mutex<String>>,
    limits: Limits,
    places: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.head_timeout)
        .max_buf_size(MAX_HEAD)
        .keep_alive(true);
    let http = Arc::new(http);
    loop {
        let s = tokio::select! {
            _ = stopped(&mut stop) => break,
            r = listener.accept() => r,
        };
        let s = match s {
            Ok(s) => s,
            Err(_) => {
                // EMFILE and the like: wait it out (or stop)
                tokio::select! {
                    _ = stopped(&mut stop) => break,
                    _ = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                }
            }
        };
        let _ = s.set_nodelay(true);
        let io = TokioIo::new(Deadline::new(s, limits.write_timeout));
        match places.clone().try_acquire_owned() {
            Ok(place) => {
                let text = text.clone();
                let http = http.clone();
                let mut stop = stop.clone();
                tokio::spawn(async move {
                    let _place = place;
                    let svc = hyper::service::service_fn(move |rq| {
                        let text = text.clone();
                        async move { Ok::<_, std::convert::Infallible>(answer(&rq, &text)) }
                    });
                    let conn = http.serve_connection(io, svc);
                    tokio::pin!(conn);
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        _ = stopped(&mut stop) => {
                            conn.as_mut().graceful_shutdown();
                            let _ = conn.await;
                        }
                    }
                });
            }
            Err(_) => {
                // over the bound: 503, then closed
                let mut once = hyper::server::conn::http1::Builder::new();
                once.timer(TokioTimer::new())
                    .header_read_timeout(limits.head_timeout.min(Duration::from_secs(2)))
                    .keep_alive(false);
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(|_rq| async {
                        Ok::<_, std::convert::Infallible>(busy())
                    });
                    let _ = once.serve_connection(io, svc).await;
                });
            }
        }
    }
    drop(listener);
    // the answers being written finish; idle connections closed themselves on the stop
    let grace = tokio::time::sleep(SHUTDOWN_GRACE);
    tokio::pin!(grace);
    while places.available_permits() < limits.max_connections {
        tokio::select! {
            _ = &mut grace => break,
            _ = tokio::time::sleep(Duration::from_millis(10)) => {}
        }
    }
}

/// Resolves once the server is told to stop.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

fn respond(status: StatusCode, ctype: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(CT, HeaderValue::from_static(ctype));
    r.headers_mut()
        .insert(SERVER, HeaderValue::from_static("gatelog"));
    r
}

/// The answer to one request (hyper writes `Content-Length`, and no body for `HEAD`).
fn answer(rq: &Request<Incoming>, text: &Mutex<String>) -> Response<Full<Bytes>> {
    if rq.method() != Method::GET && rq.method() != Method::HEAD {
        let mut r = respond(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "use GET /metrics\n".into(),
        );
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    if rq.uri().path() != "/metrics" {
        return respond(
            StatusCode::NOT_FOUND,
            "text/plain",
            "gatelog live: metrics are at /metrics\n".into(),
        );
    }
    let body = text.lock().map(|g| g.clone()).unwrap_or_default();
    respond(StatusCode::OK, CONTENT_TYPE, body)
}

fn busy() -> Response<Full<Bytes>> {
    let mut r = respond(
        StatusCode::SERVICE_UNAVAILABLE,
        "text/plain",
        "gatelog live: too many metrics connections, retry\n".into(),
    );
    r.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    r.headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    r
}

/// A socket whose writes fail with `TimedOut` when the peer has taken nothing for the
/// write timeout (a client that asks and never reads).
struct Deadline {
    s: TcpStream,
    limit: Duration,
    /// Armed while a write waits.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Deadline {
    fn new(s: TcpStream, limit: Duration) -> Self {
        Deadline {
            s,
            limit,
            timer: None,
        }
    }

    /// A write is pending: fail it once the deadline has passed.
    fn stalled(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let limit = self.limit;
        let t = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match t.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client took no answer",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for Deadline {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.s).poll_read(cx, buf)
    }
}

impl AsyncWrite for Deadline {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.s).poll_write(cx, buf) {
            Poll::Pending => self.stalled(cx),
            done => {
                self.timer = None;
                done
            }
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.s).poll_write_vectored(cx, bufs) {
            Poll::Pending => self.stalled(cx),
            done => {
                self.timer = None;
                done
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.s.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.s).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.s).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpStream as StdStream;
    use std::time::Instant;

    /// A server on a free loopback port with small limits, serving `text`.
    fn small_server(max_connections: usize, text: String) -> Server {
        let limits = Limits {
            max_connections,
            head_timeout: Duration::from_millis(600),
            write_timeout: Duration::from_millis(800),
        };
        serve_with("127.0.0.1:0", Arc::new(Mutex::new(text)), limits).unwrap()
    }

    /// Send `req` on `s` and read until the server closes (10 s at most).
    fn exchange(s: &mut StdStream, req: &[u8]) -> String {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(req).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    fn wait_places_back(srv: &Server, all: usize) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while srv.places.available_permits() < all {
            assert!(Instant::now() < deadline, "places not given back");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn idle_and_slow_connections_time_out() {
        let srv = small_server(8, "text\n".into());
        // kept alive after an answer, then closed when idle for the head timeout
        let mut s = StdStream::connect(srv.addr()).unwrap();
        let t0 = Instant::now();
        let r = exchange(&mut s, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        let took = t0.elapsed();
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        assert!(r.ends_with("\r\n\r\ntext\n"), "{r}");
        assert!(!r.to_ascii_lowercase().contains("connection: close"), "{r}");
        assert!(took >= Duration::from_millis(500), "{took:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
        // half a request head: closed once the head timeout is over
        let mut s = StdStream::connect(srv.addr()).unwrap();
        let t0 = Instant::now();
        let r = exchange(&mut s, b"GET /met");
        assert!(!r.contains("200 OK"), "{r}");
        assert!(t0.elapsed() >= Duration::from_millis(500));
        assert!(t0.elapsed() < Duration::from_secs(5));
        // a connection that never says a word is closed without an answer
        let mut s = StdStream::connect(srv.addr()).unwrap();
        assert_eq!(exchange(&mut s, b""), "");
        assert!(t0.elapsed() < Duration::from_secs(8));
        wait_places_back(&srv, 8);
    }

    #[test]
    fn a_client_that_does_not_read_is_dropped() {
        // an answer far larger than the socket buffers, asked for again and again
        let srv = small_server(4, "x".repeat(8 << 20));
        let mut s = StdStream::connect(srv.addr()).unwrap();
        for _ in 0..4 {
            s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
        }
        std::thread::sleep(Duration::from_millis(200));
        assert!(srv.places.available_permits() < 4, "not served at all");
        // the write deadline (800 ms) drops it; its place comes back
        wait_places_back(&srv, 4);
        // and the server still answers others
        let mut o = StdStream::connect(srv.addr()).unwrap();
        let r = exchange(
            &mut o,
            b"HEAD /metrics HTTP/1.1\r\nConnection: close\r\n\r\n",
        );
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        assert!(
            r.contains(&format!("content-length: {}\r\n", 8 << 20)),
            "{r}"
        );
        drop(s);
    }

    #[test]
    fn connections_over_the_bound_get_503_and_the_others_are_served() {
        let srv = small_server(2, "text\n".into());
        let mut held: Vec<StdStream> = (0..2)
            .map(|_| {
                let mut s = StdStream::connect(srv.addr()).unwrap();
                s.write_all(b"GET").unwrap();
                s
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(5);
        while srv.places.available_permits() > 0 {
            assert!(
                Instant::now() < deadline,
                "the held connections were not taken"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut s = StdStream::connect(srv.addr()).unwrap();
        let r = exchange(&mut s, b"GET /metrics HTTP/1.1\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{r}");
        assert!(
            r.to_ascii_lowercase().contains("\r\nretry-after: 1\r\n"),
            "{r}"
        );
        // a held connection finishes its request and is answered
        let r = exchange(
            &mut held[0],
            b" /metrics HTTP/1.1\r\nConnection: close\r\n\r\n",
        );
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        drop(held);
        wait_places_back(&srv, 2);
        let mut s = StdStream::connect(srv.addr()).unwrap();
        let r = exchange(&mut s, b"GET /x HTTP/1.1\r\nConnection: close\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 404 Not Found\r\n"), "{r}");
    }

    /// A listener whose every other accept fails as when out of file descriptors.
    struct Failing {
        l: TcpListener,
        n: usize,
        failures: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Accept for Failing {
        async fn accept(&mut self) -> io::Result<TcpStream> {
            self.n += 1;
            if self.n % 2 == 1 {
                self.failures
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                return Err(io::Error::from_raw_os_error(24)); // EMFILE
            }
            self.l.accept().await.map(|(s, _)| s)
        }
    }

    #[test]
    fn failed_accepts_do_not_stop_the_listener() {
        let std_l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_l.local_addr().unwrap();
        std_l.set_nonblocking(true).unwrap();
        let failures = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (stop, stop_rx) = watch::channel(false);
        let f = failures.clone();
        let t = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let l = {
                let _g = rt.enter();
                TcpListener::from_std(std_l).unwrap()
            };
            let accept = Failing {
                l,
                n: 0,
                failures: f,
            };
            rt.block_on(run(
                accept,
                Arc::new(Mutex::new("text\n".into())),
                Limits::default(),
                Arc::new(Semaphore::new(MAX_CONNECTIONS)),
                stop_rx,
            ));
        });
        for _ in 0..3 {
            let mut s = StdStream::connect(addr).unwrap();
            let r = exchange(
                &mut s,
                b"GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n",
            );
            assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        }
        assert!(failures.load(std::sync::atomic::Ordering::SeqCst) >= 3);
        stop.send(true).unwrap();
        t.join().unwrap();
    }

    #[test]
    fn stopping_closes_idle_connections_and_frees_the_port() {
        let srv = small_server(8, "text\n".into());
        let addr = srv.addr();
        let mut idle = StdStream::connect(addr).unwrap();
        idle.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut buf = [0u8; 256];
        let n = idle.read(&mut buf).unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200 OK\r\n"));
        let t0 = Instant::now();
        drop(srv);
        assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
        idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut rest = Vec::new();
        let _ = idle.read_to_end(&mut rest);
        std::net::TcpListener::bind(addr).expect("the port is still taken");
    }
}
