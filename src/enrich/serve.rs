//! `captriage serve`: a read-only HTTP API over the state store, like the D4 passive DNS server
//! and domain_stats, with no server software to install (tiny_http).
//!
//! Routes: `GET /query/NAME-OR-IP` returns the store's passive DNS records as COF NDJSON (by rrname
//! for a name, by rdata for an address; an empty body when there are none), `GET /domain/NAME`
//! returns the JSON of `captriage domain` ([`crate::enrich::domain::DomainReport`]). A malformed
//! name gets 400, an unknown path 404, a method other than GET or HEAD 405, a store failure 500,
//! each with a JSON body `{"error": "..."}`. [`Server::bind`] binds (port 0 picks a free port;
//! [`Server::local_addr`] tells which), [`Server::run`] serves until [`StopHandle::stop`], and
//! [`serve`] does both. Binding to loopback by default is the caller's choice of `listen`.

use std::io::Cursor;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use percent_encoding::percent_decode_str;
use serde::Serialize;
use tiny_http::{Header, Method, Request, Response};

use crate::enrich::domain::{DomainSettings, RegDates, assess};
use crate::enrich::pdns::write_records;
use crate::enrich::state::Store;
use crate::names::{normalize_name, parse_addr};

/// Longest request target served.
const MAX_URL: usize = 2048;

/// The default listening address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8400";

/// What the API answers with besides the store.
#[derive(Clone, Debug, Default)]
pub struct ServeOptions {
    pub settings: DomainSettings,
    pub reg_dates: Option<Arc<RegDates>>,
}

/// A bound, not yet running server.
pub struct Server {
    http: Arc<tiny_http::Server>,
    addr: SocketAddr,
    store: Arc<Store>,
    options: ServeOptions,
}

/// Stops a running [`Server`] from another thread.
#[derive(Clone)]
pub struct StopHandle {
    http: Arc<tiny_http::Server>,
}

impl StopHandle {
    /// Makes [`Server::run`] return after the request in progress.
    pub fn stop(&self) {
        self.http.unblock();
    }
}

impl Server {
    /// Binds `listen` (port 0 for any free port).
    pub fn bind(
        store: Arc<Store>,
        listen: SocketAddr,
        options: ServeOptions,
    ) -> anyhow::Result<Server> {
        let http = tiny_http::Server::http(listen)
            .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
        let addr = http
            .server_addr()
            .to_ip()
            .ok_or_else(|| anyhow::anyhow!("{listen} is not an IP socket"))?;
        Ok(Server {
            http: Arc::new(http),
            addr,
            store,
            options,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle that stops [`Server::run`].
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle {
            http: Arc::clone(&self.http),
        }
    }

    /// Serves requests, one at a time, until stopped.
    pub fn run(&self) {
        for request in self.http.incoming_requests() {
            self.handle(request);
        }
    }

    fn handle(&self, request: Request) {
        let reply = if !matches!(request.method(), Method::Get | Method::Head) {
            Reply::error(405, "only GET and HEAD are served")
        } else {
            route(&self.store, &self.options, request.url())
        };
        let head = matches!(request.method(), Method::Head);
        let status = reply.status;
        let body = if head { Vec::new() } else { reply.body };
        let mut response = Response::new(status.into(), Vec::new(), Cursor::new(body), None, None);
        if let Ok(h) = Header::from_bytes(&b"Content-Type"[..], reply.content_type.as_bytes()) {
            response.add_header(h);
        }
        // A client that went away is not the server's problem.
        let _ = request.respond(response);
    }
}

/// Binds `listen` and serves until the process ends.
pub fn serve(store: Arc<Store>, listen: SocketAddr, options: ServeOptions) -> anyhow::Result<()> {
    let server = Server::bind(store, listen, options)?;
    server.run();
    Ok(())
}

/// A response before it is sent.
#[derive(Debug, PartialEq)]
struct Reply {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
}

impl Reply {
    fn error(status: u16, message: &str) -> Reply {
        let mut body = serde_json::to_vec(&ErrorBody { error: message }).unwrap_or_default();
        body.push(b'\n');
        Reply {
            status,
            content_type: "application/json",
            body,
        }
    }
}

/// Answers one request target.
fn route(store: &Store, options: &ServeOptions, url: &str) -> Reply {
    if url.len() > MAX_URL {
        return Reply::error(414, "request target too long");
    }
    let path = url.split(['?', '#']).next().unwrap_or("");
    let (kind, arg) = match path.strip_prefix('/').and_then(|p| p.split_once('/')) {
        Some((k @ ("query" | "domain"), a)) => (k, a),
        _ => return Reply::error(404, "unknown path; use /query/NAME-OR-IP or /domain/NAME"),
    };
    let arg = match percent_decode_str(arg).decode_utf8() {
        Ok(a) => a.into_owned(),
        Err(_) => return Reply::error(400, "argument is not UTF-8"),
    };
    if arg.is_empty() || arg.contains('/') {
        return Reply::error(400, "expected one name or address after the path");
    }
    let is_addr = parse_addr(&arg).is_some();
    if !is_addr && !normalize_name(&arg).is_some_and(|n| plausible_name(&n)) {
        return Reply::error(400, "not a domain name or IP address");
    }
    match kind {
        "query" => match store.query_pdns(&arg) {
            Ok(records) => {
                let mut body = Vec::new();
                match write_records(&mut body, &records) {
                    Ok(()) => Reply {
                        status: 200,
                        content_type: "application/x-ndjson",
                        body,
                    },
                    Err(e) => Reply::error(500, &e.to_string()),
                }
            }
            Err(e) => Reply::error(500, &format!("{e:#}")),
        },
        _ => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
                .unwrap_or(0);
            match assess(
                &arg,
                Some(store),
                options.reg_dates.as_deref(),
                &options.settings,
                now,
            ) {
                Ok(report) => match serde_json::to_vec(&report) {
                    Ok(mut body) => {
                        body.push(b'\n');
                        Reply {
                            status: 200,
                            content_type: "application/json",
                            body,
                        }
                    }
                    Err(e) => Reply::error(500, &e.to_string()),
                },
                Err(e) => Reply::error(500, &format!("{e:#}")),
            }
        }
    }
}

/// A name made of DNS labels (letters, digits, `-`, `_`), at most 253 characters.
fn plausible_name(n: &str) -> bool {
    n.len() <= 253
        && n.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_without_a_socket() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let o = ServeOptions::default();
        assert_eq!(route(&store, &o, "/").status, 404);
        assert_eq!(route(&store, &o, "/query").status, 404);
        assert_eq!(route(&store, &o, "/query/").status, 400);
        assert_eq!(route(&store, &o, "/query/a/b").status, 400);
        assert_eq!(route(&store, &o, "/query/bad%20name").status, 400);
        assert_eq!(route(&store, &o, "/query/%ff").status, 400);
        assert_eq!(route(&store, &o, "/domain/a..b").status, 400);
        let long = format!("/domain/{}", "a".repeat(3000));
        assert_eq!(route(&store, &o, &long).status, 414);
        let ok = route(&store, &o, "/query/2001:db8::1?x=1");
        assert_eq!((ok.status, ok.body.len()), (200, 0));
        let e = route(&store, &o, "/nope");
        assert_eq!(e.content_type, "application/json");
        let v: serde_json::Value = serde_json::from_slice(&e.body).unwrap();
        assert!(v["error"].is_string());
    }
}
