//! Zeek TSV log writer: conn.log, dns.log, ssl.log, x509.log and http.log in Zeek 9 column
//! layouts (`#separator`, `#fields`, `#types` headers, `\x` escaping, `-` for unset and
//! `(empty)` for empty sets), so zeek-cut and other Zeek tools read what the native decoder saw.
//! Writes any `Record`s; columns the model does not carry are written unset.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::IpAddr;
use std::path::Path;

use crate::model::{Conn, Dns, Endpoints, Http, Record, Tls, X509};

const CONN_FIELDS: &[(&str, &str)] = &[
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("proto", "enum"),
    ("service", "string"),
    ("duration", "interval"),
    ("orig_bytes", "count"),
    ("resp_bytes", "count"),
    ("conn_state", "string"),
    ("local_orig", "bool"),
    ("local_resp", "bool"),
    ("missed_bytes", "count"),
    ("history", "string"),
    ("orig_pkts", "count"),
    ("orig_ip_bytes", "count"),
    ("resp_pkts", "count"),
    ("resp_ip_bytes", "count"),
    ("tunnel_parents", "set[string]"),
    ("ip_proto", "count"),
];

const DNS_FIELDS: &[(&str, &str)] = &[
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("proto", "enum"),
    ("trans_id", "count"),
    ("rtt", "interval"),
    ("query", "string"),
    ("qclass", "count"),
    ("qclass_name", "string"),
    ("qtype", "count"),
    ("qtype_name", "string"),
    ("rcode", "count"),
    ("rcode_name", "string"),
    ("AA", "bool"),
    ("TC", "bool"),
    ("RD", "bool"),
    ("RA", "bool"),
    ("Z", "count"),
    ("answers", "vector[string]"),
    ("TTLs", "vector[interval]"),
    ("rejected", "bool"),
];

const SSL_FIELDS: &[(&str, &str)] = &[
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("version", "string"),
    ("cipher", "string"),
    ("curve", "string"),
    ("server_name", "string"),
    ("resumed", "bool"),
    ("last_alert", "string"),
    ("next_protocol", "string"),
    ("established", "bool"),
    ("ssl_history", "string"),
    ("cert_chain_fps", "vector[string]"),
    ("client_cert_chain_fps", "vector[string]"),
    ("sni_matches_cert", "bool"),
];

const X509_FIELDS: &[(&str, &str)] = &[
    ("ts", "time"),
    ("fingerprint", "string"),
    ("certificate.version", "count"),
    ("certificate.serial", "string"),
    ("certificate.subject", "string"),
    ("certificate.issuer", "string"),
    ("certificate.not_valid_before", "time"),
    ("certificate.not_valid_after", "time"),
    ("certificate.key_alg", "string"),
    ("certificate.sig_alg", "string"),
    ("certificate.key_type", "string"),
    ("certificate.key_length", "count"),
    ("certificate.exponent", "string"),
    ("certificate.curve", "string"),
    ("san.dns", "vector[string]"),
    ("san.uri", "vector[string]"),
    ("san.email", "vector[string]"),
    ("san.ip", "vector[addr]"),
    ("basic_constraints.ca", "bool"),
    ("basic_constraints.path_len", "count"),
    ("host_cert", "bool"),
    ("client_cert", "bool"),
];

const HTTP_FIELDS: &[(&str, &str)] = &[
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("trans_depth", "count"),
    ("method", "string"),
    ("host", "string"),
    ("uri", "string"),
    ("referrer", "string"),
    ("version", "string"),
    ("user_agent", "string"),
    ("origin", "string"),
    ("request_body_len", "count"),
    ("response_body_len", "count"),
    ("status_code", "count"),
    ("status_msg", "string"),
    ("info_code", "count"),
    ("info_msg", "string"),
    ("tags", "set[enum]"),
    ("username", "string"),
    ("password", "string"),
    ("proxied", "set[string]"),
    ("orig_fuids", "vector[string]"),
    ("orig_filenames", "vector[string]"),
    ("orig_mime_types", "vector[string]"),
    ("resp_fuids", "vector[string]"),
    ("resp_filenames", "vector[string]"),
    ("resp_mime_types", "vector[string]"),
];

/// The five logs this writer produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogName {
    Conn,
    Dns,
    Ssl,
    X509,
    Http,
}

impl LogName {
    pub const ALL: [LogName; 5] = [
        LogName::Conn,
        LogName::Dns,
        LogName::Ssl,
        LogName::X509,
        LogName::Http,
    ];

    pub fn path(self) -> &'static str {
        match self {
            LogName::Conn => "conn",
            LogName::Dns => "dns",
            LogName::Ssl => "ssl",
            LogName::X509 => "x509",
            LogName::Http => "http",
        }
    }

    fn fields(self) -> &'static [(&'static str, &'static str)] {
        match self {
            LogName::Conn => CONN_FIELDS,
            LogName::Dns => DNS_FIELDS,
            LogName::Ssl => SSL_FIELDS,
            LogName::X509 => X509_FIELDS,
            LogName::Http => HTTP_FIELDS,
        }
    }
}

/// Writes `<dir>/conn.log`, `dns.log`, `ssl.log`, `x509.log` and `http.log` from `records`
/// (every file is written, with headers, even when it has no rows). Returns rows per log.
pub fn write_zeek_logs(records: &[Record<'_>], dir: &Path) -> io::Result<[usize; 5]> {
    let mut out = LogWriters::create(dir)?;
    for r in records {
        out.write(r);
    }
    out.finish()
}

/// Writes one log (headers, the rows of `records` that belong to it, `#close`) to `w`.
pub fn write_log<W: Write>(log: LogName, records: &[Record<'_>], w: &mut W) -> io::Result<usize> {
    write_header(log, w)?;
    let mut rows = 0;
    let mut line: Vec<String> = Vec::with_capacity(32);
    for r in records {
        if log_of(r) == Some(log) {
            write_row(r, &mut line, w)?;
            rows += 1;
        }
    }
    writeln!(w, "#close\t-")?;
    Ok(rows)
}

/// The log a record is written to (files.log rows are not written).
fn log_of(r: &Record<'_>) -> Option<LogName> {
    match r {
        Record::Conn(_) => Some(LogName::Conn),
        Record::Dns(_) => Some(LogName::Dns),
        Record::Tls(_) => Some(LogName::Ssl),
        Record::X509(_) => Some(LogName::X509),
        Record::Http(_) => Some(LogName::Http),
        Record::File(_) => None,
    }
}

/// Writes the row of `r` (files.log rows are not written).
fn write_row<W: Write>(r: &Record<'_>, line: &mut Vec<String>, w: &mut W) -> io::Result<()> {
    line.clear();
    match r {
        Record::Conn(c) => conn_row(c, line),
        Record::Dns(d) => dns_row(d, line),
        Record::Tls(t) => ssl_row(t, line),
        Record::X509(x) => x509_row(x, line),
        Record::Http(h) => http_row(h, line),
        Record::File(_) => return Ok(()),
    }
    w.write_all(line.join("\t").as_bytes())?;
    w.write_all(b"\n")
}

/// The five logs of a directory, written row by row as records arrive (nothing is kept).
pub struct LogWriters {
    writers: Vec<BufWriter<File>>,
    counts: [usize; 5],
    line: Vec<String>,
    /// The first write error; later records are dropped and `finish` returns it.
    error: Option<io::Error>,
}

/// The five logs' paths in `dir`.
pub fn log_paths(dir: &Path) -> [std::path::PathBuf; 5] {
    LogName::ALL.map(|log| dir.join(format!("{}.log", log.path())))
}

impl LogWriters {
    /// Creates `dir` if missing and the five logs in it, with their headers.
    pub fn create(dir: &Path) -> io::Result<LogWriters> {
        std::fs::create_dir_all(dir)?;
        let mut writers = Vec::with_capacity(5);
        for (log, path) in LogName::ALL.into_iter().zip(log_paths(dir)) {
            let mut w = BufWriter::new(File::create(path)?);
            write_header(log, &mut w)?;
            writers.push(w);
        }
        Ok(LogWriters {
            writers,
            counts: [0; 5],
            line: Vec::with_capacity(32),
            error: None,
        })
    }

    /// Appends the row of `r` to its log.
    pub fn write(&mut self, r: &Record<'_>) {
        if self.error.is_some() {
            return;
        }
        let Some(i) = LogName::ALL.iter().position(|l| Some(*l) == log_of(r)) else {
            return;
        };
        let (Some(w), Some(n)) = (self.writers.get_mut(i), self.counts.get_mut(i)) else {
            return;
        };
        match write_row(r, &mut self.line, w) {
            Ok(()) => *n += 1,
            Err(e) => self.error = Some(e),
        }
    }

    /// Closes the logs; returns rows per log, or the first write error.
    pub fn finish(mut self) -> io::Result<[usize; 5]> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        for w in &mut self.writers {
            writeln!(w, "#close\t-")?;
            w.flush()?;
        }
        Ok(self.counts)
    }
}

fn write_header<W: Write>(log: LogName, w: &mut W) -> io::Result<()> {
    w.write_all(b"#separator \\x09\n")?;
    w.write_all(b"#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n")?;
    writeln!(w, "#path\t{}", log.path())?;
    writeln!(w, "#open\t-")?;
    let fields: Vec<&str> = log.fields().iter().map(|f| f.0).collect();
    let types: Vec<&str> = log.fields().iter().map(|f| f.1).collect();
    writeln!(w, "#fields\t{}", fields.join("\t"))?;
    writeln!(w, "#types\t{}", types.join("\t"))
}

/// Escapes a string value as Zeek's ASCII writer does: non-printable bytes, backslash, the
/// separator and (inside containers) the set separator as `\xNN`; an empty string is `(empty)`;
/// a lone `-` is escaped so it does not read as unset.
pub fn escape(s: &str, in_container: bool) -> String {
    if s.is_empty() {
        return "(empty)".to_string();
    }
    if s == "-" {
        return "\\x2d".to_string();
    }
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let esc =
            b == b'\\' || b == b'\t' || !(0x20..0x7f).contains(&b) || in_container && b == b',';
        if esc {
            out.push_str(&format!("\\x{b:02x}"));
        } else {
            out.push(char::from(b));
        }
    }
    out
}

fn opt_str(v: Option<&str>) -> String {
    v.map_or_else(|| "-".to_string(), |s| escape(s, false))
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |x| x.to_string())
}

fn time(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |t| format!("{t:.6}"))
}

fn boolean(v: Option<bool>) -> String {
    match v {
        Some(true) => "T".into(),
        Some(false) => "F".into(),
        None => "-".into(),
    }
}

fn vector<S: AsRef<str>>(items: &[S]) -> String {
    if items.is_empty() {
        return "(empty)".to_string();
    }
    items
        .iter()
        .map(|s| escape(s.as_ref(), true))
        .collect::<Vec<_>>()
        .join(",")
}

/// An unset-when-empty vector (Zeek writes `-` for an optional vector never set).
fn vector_or_unset<S: AsRef<str>>(items: &[S]) -> String {
    if items.is_empty() {
        "-".to_string()
    } else {
        vector(items)
    }
}

fn endpoints(id: &Endpoints, line: &mut Vec<String>) {
    line.push(opt(id.orig_h.map(|a: IpAddr| a.to_string())));
    line.push(opt(id.orig_p));
    line.push(opt(id.resp_h.map(|a: IpAddr| a.to_string())));
    line.push(opt(id.resp_p));
}

/// The `ip_proto` column: known from the protocol name (ICMP by address family).
fn ip_proto(proto: Option<&str>, orig: Option<IpAddr>) -> Option<u8> {
    match proto? {
        "tcp" => Some(6),
        "udp" => Some(17),
        "icmp" => Some(if matches!(orig, Some(IpAddr::V6(_))) {
            58
        } else {
            1
        }),
        _ => None,
    }
}

fn conn_row(c: &Conn<'_>, line: &mut Vec<String>) {
    line.push(time(c.ts));
    line.push(opt_str(c.uid.as_deref()));
    endpoints(&c.id, line);
    let proto = c.proto.as_deref();
    line.push(opt_str(proto));
    line.push(vector_or_unset(&c.services));
    line.push(
        c.duration
            .map_or_else(|| "-".to_string(), |d| format!("{d:.6}")),
    );
    line.push(opt(c.orig_bytes));
    line.push(opt(c.resp_bytes));
    line.push(opt_str(c.conn_state.as_deref()));
    line.push("-".into());
    line.push("-".into());
    line.push("0".into());
    line.push(opt_str(c.history.as_deref().filter(|h| !h.is_empty())));
    line.push(opt(c.orig_pkts));
    line.push(opt(c.orig_ip_bytes));
    line.push(opt(c.resp_pkts));
    line.push(opt(c.resp_ip_bytes));
    line.push("-".into());
    line.push(opt(ip_proto(proto, c.id.orig_h)));
}

fn dns_row(d: &Dns<'_>, line: &mut Vec<String>) {
    line.push(time(d.ts));
    line.push(opt_str(d.uid.as_deref()));
    endpoints(&d.id, line);
    line.push(opt_str(d.proto.as_deref()));
    line.push(opt(d.trans_id));
    line.push(d.rtt.map_or_else(|| "-".to_string(), |r| format!("{r:.6}")));
    line.push(opt_str(d.query.as_deref()));
    line.push(opt(d.qclass));
    line.push(opt_str(
        d.qclass
            .map(|c| super::dns::qclass_name(c as u16))
            .as_deref(),
    ));
    line.push(opt(d.qtype));
    line.push(opt_str(d.qtype_name.as_deref()));
    line.push(opt(d.rcode));
    line.push(opt_str(d.rcode_name.as_deref()));
    line.push(boolean(d.aa));
    line.push(boolean(d.tc));
    line.push(boolean(d.rd));
    line.push(boolean(d.ra));
    line.push("0".into());
    line.push(vector_or_unset(&d.answers));
    let ttls: Vec<String> = d.ttls.iter().map(|t| format!("{t:.6}")).collect();
    line.push(vector_or_unset(&ttls));
    line.push(boolean(d.rejected));
}

fn ssl_row(t: &Tls<'_>, line: &mut Vec<String>) {
    line.push(time(t.ts));
    line.push(opt_str(t.uid.as_deref()));
    endpoints(&t.id, line);
    line.push(opt_str(t.version.as_deref()));
    line.push(opt_str(t.cipher.as_deref()));
    line.push("-".into());
    line.push(opt_str(t.server_name.as_deref()));
    line.push("F".into());
    line.push("-".into());
    line.push("-".into());
    line.push(boolean(t.established));
    line.push("-".into());
    line.push(vector_or_unset(&t.cert_chain));
    line.push("(empty)".into());
    line.push("-".into());
}

fn x509_row(x: &X509<'_>, line: &mut Vec<String>) {
    line.push(time(x.ts));
    line.push(opt_str(x.fingerprint.as_deref()));
    line.push(opt(x.version));
    line.push(opt_str(x.serial.as_deref()));
    line.push(opt_str(x.subject.as_deref()));
    line.push(opt_str(x.issuer.as_deref()));
    line.push(time(x.not_valid_before));
    line.push(time(x.not_valid_after));
    line.push(opt_str(x.key_alg.as_deref()));
    line.push(opt_str(x.sig_alg.as_deref()));
    line.push(opt_str(x.key_type.as_deref()));
    line.push(opt(x.key_length));
    line.push("-".into());
    line.push("-".into());
    line.push(vector_or_unset(&x.san_dns));
    line.push("-".into());
    line.push("-".into());
    line.push("-".into());
    line.push(boolean(x.basic_constraints_ca));
    line.push("-".into());
    line.push(boolean(x.host_cert));
    line.push("F".into());
}

fn http_row(h: &Http<'_>, line: &mut Vec<String>) {
    line.push(time(h.ts));
    line.push(opt_str(h.uid.as_deref()));
    endpoints(&h.id, line);
    line.push(opt(h.trans_depth));
    line.push(opt_str(h.method.as_deref()));
    line.push(opt_str(h.host.as_deref()));
    line.push(opt_str(h.uri.as_deref()));
    line.push("-".into());
    line.push(opt_str(h.version.as_deref()));
    line.push(opt_str(h.user_agent.as_deref()));
    line.push("-".into());
    line.push("0".into());
    line.push("0".into());
    line.push(opt(h.status_code));
    for _ in 0..3 {
        line.push("-".into());
    }
    line.push("(empty)".into());
    for _ in 0..8 {
        line.push("-".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_follows_zeek() {
        assert_eq!(escape("", false), "(empty)");
        assert_eq!(escape("-", false), "\\x2d");
        assert_eq!(escape("a\tb\\c", false), "a\\x09b\\x5cc");
        assert_eq!(escape("a,b", true), "a\\x2cb");
        assert_eq!(escape("a,b", false), "a,b");
    }

    #[test]
    fn empty_log_has_zeek_headers() {
        let mut out = Vec::new();
        assert_eq!(write_log(LogName::Dns, &[], &mut out).unwrap(), 0);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("#separator \\x09\n#set_separator\t,\n"));
        assert!(text.contains("#fields\tts\tuid\tid.orig_h"));
        assert!(text.contains("#types\ttime\tstring\taddr"));
    }
}
