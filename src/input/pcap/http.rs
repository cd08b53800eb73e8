//! Pure HTTP/1.x request parser for the native capture decoder.
//!
//! Given the first bytes a client sent on a TCP flow, read the request line and the headers Zeek's
//! http.log reports (Host, User-Agent). Parsing is done by `httparse`; this module bounds the input,
//! copes with a buffer cut inside the headers (the request line and complete header lines are
//! still used) and says whether a payload looks like an HTTP request at all (service detection).
//! Bodies, responses, pipelining and flow state are left to the caller.

/// Most bytes of the client's payload looked at.
const MAX_HEAD: usize = 16 * 1024;
/// Most header lines parsed.
const MAX_HEADERS: usize = 96;

/// Request methods Zeek's HTTP signature accepts at the start of a client payload.
const METHODS: &[&str] = &[
    "GET",
    "POST",
    "HEAD",
    "PUT",
    "DELETE",
    "OPTIONS",
    "CONNECT",
    "TRACE",
    "PATCH",
    "PROPFIND",
    "PROPPATCH",
    "MKCOL",
    "COPY",
    "MOVE",
    "LOCK",
    "UNLOCK",
    "SEARCH",
    "REPORT",
    "MKACTIVITY",
    "CHECKOUT",
    "MERGE",
    "BMOVE",
    "BDELETE",
    "BPROPFIND",
    "BPROPPATCH",
    "POLL",
    "SUBSCRIBE",
    "UNSUBSCRIBE",
    "NOTIFY",
];

/// One HTTP request head, as http.log shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    /// The request target as sent.
    pub uri: String,
    /// The request's version: `0.9`, `1.0` or `1.1` (Zeek's http.log `version` is the reply's).
    pub version: String,
    pub host: Option<String>,
    pub user_agent: Option<String>,
}

/// Does the payload start like an HTTP request (`METHOD SP`)?
pub fn looks_like_request(buf: &[u8]) -> bool {
    let start = buf
        .iter()
        .take(64)
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(0);
    let rest = buf.get(start..).unwrap_or_default();
    METHODS.iter().any(|m| {
        rest.strip_prefix(m.as_bytes())
            .and_then(|r| r.first())
            .is_some_and(|&c| c == b' ' || c == b'\t')
    })
}

/// The request head at the start of `buf`; `None` if it is not an HTTP/1.x request line.
pub fn parse_request(buf: &[u8]) -> Option<HttpRequest> {
    let buf = buf.get(..MAX_HEAD).unwrap_or(buf);
    if !looks_like_request(buf) {
        return None;
    }
    let start = buf.iter().position(|b| !b.is_ascii_whitespace())?;
    let head = buf.get(start..)?;
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let mut config = httparse::ParserConfig::default();
    config.allow_multiple_spaces_in_request_line_delimiters(true);
    config.ignore_invalid_headers_in_requests(true);
    match config.parse_request(&mut req, head) {
        Ok(httparse::Status::Complete(_)) => Some(from_parsed(&req)),
        Ok(httparse::Status::Partial) => parse_lines(&config, head),
        Err(httparse::Error::TooManyHeaders) => {
            // Keep the request line and the first headers that fit.
            let end = memchr::memmem::find_iter(head, b"\r\n").nth(MAX_HEADERS - 1)?;
            parse_closed(&config, head.get(..end + 2)?)
        }
        Err(_) => lenient(&config, head),
    }
}

/// Parse the complete lines of a head cut short (or with a bad header line).
fn parse_lines(config: &httparse::ParserConfig, head: &[u8]) -> Option<HttpRequest> {
    let end = memchr::memmem::rfind(head, b"\r\n")?;
    parse_closed(config, head.get(..end + 2)?)
}

/// Parse complete lines as a whole head (an empty line is appended).
fn parse_closed(config: &httparse::ParserConfig, lines: &[u8]) -> Option<HttpRequest> {
    let mut closed = lines.to_vec();
    closed.extend_from_slice(b"\r\n");
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match config.parse_request(&mut req, &closed) {
        Ok(httparse::Status::Complete(_)) => Some(from_parsed(&req)),
        _ => None,
    }
}

/// A request line `httparse` rejects but Zeek reads (spaces or non-UTF-8 bytes in the URI, no
/// version for HTTP/0.9): split it like Zeek (method, URI up to the last ` HTTP/`), and let
/// `httparse` read the header lines under a stand-in request line.
fn lenient(config: &httparse::ParserConfig, head: &[u8]) -> Option<HttpRequest> {
    let line_end = memchr::memchr(b'\n', head)?;
    let line = head.get(..line_end)?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let sp = memchr::memchr(b' ', line)?;
    let method = line.get(..sp)?;
    let rest = line.get(sp + 1..)?.trim_ascii();
    let (uri, version) = match memchr::memmem::rfind(rest, b" HTTP/") {
        Some(i) => (rest.get(..i)?.trim_ascii(), rest.get(i + 6..)?),
        None => (rest, &b"0.9"[..]),
    };
    if uri.is_empty() {
        return None;
    }
    let mut stand_in = b"GET / HTTP/1.1\r\n".to_vec();
    stand_in.extend_from_slice(head.get(line_end + 1..)?);
    let headers = match parse_request_strict(config, &stand_in) {
        Some(r) => r,
        None => parse_lines(config, &stand_in).unwrap_or(HttpRequest {
            method: String::new(),
            uri: String::new(),
            version: String::new(),
            host: None,
            user_agent: None,
        }),
    };
    Some(HttpRequest {
        method: escape(method),
        uri: escape(uri),
        version: escape(version),
        host: headers.host,
        user_agent: headers.user_agent,
    })
}

fn parse_request_strict(config: &httparse::ParserConfig, head: &[u8]) -> Option<HttpRequest> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match config.parse_request(&mut req, head) {
        Ok(httparse::Status::Complete(_)) => Some(from_parsed(&req)),
        _ => None,
    }
}

/// Text of wire bytes: UTF-8 as is, other bytes and controls as Zeek's `\xNN`.
fn escape(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) if !s.chars().any(char::is_control) => s.to_string(),
        _ => {
            let mut out = String::with_capacity(b.len() * 2);
            for &c in b {
                if (0x20..0x7F).contains(&c) {
                    out.push(char::from(c));
                } else {
                    out.push_str(&format!("\\x{c:02x}"));
                }
            }
            out
        }
    }
}

fn from_parsed(req: &httparse::Request) -> HttpRequest {
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_string())
    };
    HttpRequest {
        method: req.method.unwrap_or_default().to_string(),
        uri: req.path.unwrap_or_default().to_string(),
        version: format!("1.{}", req.version.unwrap_or(1)),
        host: header("host"),
        user_agent: header("user-agent"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_with_host_and_user_agent() {
        let req = parse_request(
            b"GET /index.html?q=1 HTTP/1.1\r\nhost: www.example.org \r\nUser-Agent: curl/8.5\r\n\r\nbody",
        )
        .unwrap();
        assert_eq!(
            req,
            HttpRequest {
                method: "GET".into(),
                uri: "/index.html?q=1".into(),
                version: "1.1".into(),
                host: Some("www.example.org".into()),
                user_agent: Some("curl/8.5".into()),
            }
        );
    }

    #[test]
    fn head_cut_inside_the_headers_keeps_complete_lines() {
        let buf = b"POST /upload HTTP/1.0\r\nHost: a.example\r\nUser-Ag";
        let req = parse_request(buf).unwrap();
        assert_eq!(req.method, "POST");
        assert_eq!(req.host.as_deref(), Some("a.example"));
        assert_eq!(req.user_agent, None);
        // Cut inside the request line: nothing to report yet.
        assert_eq!(parse_request(b"GET /ind"), None);
    }

    #[test]
    fn http09_request_line() {
        let req = parse_request(b"GET /\r\n\r\n").unwrap();
        assert_eq!((req.uri.as_str(), req.version.as_str()), ("/", "0.9"));
    }

    #[test]
    fn request_lines_httparse_rejects_are_read_like_zeek() {
        let req = parse_request(b"GET /a b.html HTTP/1.1\r\nHost: x.example\r\n\r\n").unwrap();
        assert_eq!(req.uri, "/a b.html");
        assert_eq!(req.version, "1.1");
        assert_eq!(req.host.as_deref(), Some("x.example"));
        let req = parse_request(b"GET /caf\xe9 HTTP/1.0\r\nUser-Agent: m\r\n").unwrap();
        assert_eq!(req.uri, "/caf\\xe9");
        assert_eq!(req.user_agent.as_deref(), Some("m"));
        let req = parse_request(b"GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(req.uri, "/café");
    }

    #[test]
    fn detection() {
        assert!(looks_like_request(b"GET / HTTP/1.1\r\n"));
        assert!(looks_like_request(b"\r\nPROPFIND /dav HTTP/1.1\r\n"));
        assert!(!looks_like_request(b"GETTER / HTTP/1.1\r\n"));
        assert!(!looks_like_request(b"HTTP/1.1 200 OK\r\n"));
        assert!(!looks_like_request(b"\x16\x03\x01\x02\x00"));
        assert!(!looks_like_request(b""));
        assert_eq!(parse_request(b"\x16\x03\x01\x02\x00"), None);
    }

    #[test]
    fn too_many_headers_is_bounded() {
        let mut buf = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..200 {
            buf.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
            if i == 50 {
                buf.extend_from_slice(b"Host: late.example\r\n");
            }
        }
        buf.extend_from_slice(b"\r\n");
        let req = parse_request(&buf).unwrap();
        assert_eq!(req.host.as_deref(), Some("late.example"));
    }
}
