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
        Err(httparse::Error::TooManyHeaders) => None,
        Err(_) if http09(head).is_some() => http09(head),
        Ok(httparse::Status::Partial) | Err(_) => {
            // Cut inside the head (or a bad header line): keep the complete lines.
            let end = memchr::memmem::rfind(head, b"\r\n")?;
            let mut closed = head.get(..end + 2)?.to_vec();
            closed.extend_from_slice(b"\r\n");
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut req = httparse::Request::new(&mut headers);
            match config.parse_request(&mut req, &closed) {
                Ok(httparse::Status::Complete(_)) => Some(from_parsed(&req)),
                _ => None,
            }
        }
    }
}

/// An HTTP/0.9 request line: `METHOD SP URI CRLF`, no version, no headers (Zeek logs `0.9`).
fn http09(head: &[u8]) -> Option<HttpRequest> {
    let end = memchr::memchr(b'\n', head)?;
    let line = std::str::from_utf8(head.get(..end)?)
        .ok()?
        .trim_end_matches('\r');
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let (method, uri) = (parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some(HttpRequest {
        method: method.to_string(),
        uri: uri.to_string(),
        version: "0.9".to_string(),
        host: None,
        user_agent: None,
    })
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
