//! The rule settings of RULES.md §9, read from `--config FILE`.
//!
//! The file is YAML or JSON (serde_norway reads both): TinyCheck's whole `config.yaml`, of which
//! only the `analysis` section is read, or a bare `analysis` mapping. Missing keys take the
//! defaults of the §9 table ([`Settings::default`]); TinyCheck's `remote` key and the reference
//! cases' `_stubs` are accepted and ignored; any other unknown key is a warning; a value of the
//! wrong type or out of range is an error naming the key. Indicator and whitelist files are not
//! named here: they come from the command line.

use crate::intel::parse_cidr;
use anyhow::Context;
use ipnetwork::IpNetwork;
use serde_norway::Value;
use std::path::Path;

/// The rule settings (RULES.md §9).
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// PROTO-01..05, SSL-01..03.
    pub heuristics: bool,
    /// IOC-01..10, SSL-04; the ns indicators of ACT-01.
    pub iocs: bool,
    /// Apply the whitelist (§5).
    pub whitelist: bool,
    /// ACT-01/02 from offline sources (network only with `--online`).
    pub active: bool,
    /// PROTO-02 threshold, 1–65535.
    pub max_ports: u16,
    /// PROTO-03/04.
    pub http_default_port: u16,
    /// SSL-01.
    pub ssl_default_ports: Vec<u16>,
    /// SSL-02, exact issuer DN.
    pub free_issuers: Vec<String>,
    /// SSL-02, issuer O= value (case-insensitive).
    pub free_issuer_orgs: Vec<String>,
    /// ADV-01 threshold, at least 1.
    pub max_alerts: u32,
    /// PROTO-01 exemptions (DNS, NTP, QUIC).
    pub udp_exempt_ports: Vec<u16>,
    /// §4.
    pub local_nets: Vec<IpNetwork>,
    /// ACT-02.
    pub new_domain_days: u32,
}

impl Default for Settings {
    fn default() -> Self {
        let nets = [
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "100.64.0.0/10",
            "127.0.0.0/8",
            "169.254.0.0/16",
            "224.0.0.0/4",
            "255.255.255.255/32",
            "::1/128",
            "fc00::/7",
            "fe80::/10",
            "ff00::/8",
        ];
        Settings {
            heuristics: true,
            iocs: true,
            whitelist: true,
            active: false,
            max_ports: 1024,
            http_default_port: 80,
            ssl_default_ports: vec![443, 465, 636, 853, 989, 990, 993, 995, 5223],
            free_issuers: vec![
                "CN=Let's Encrypt Authority X3,O=Let's Encrypt,C=US".into(),
                "CN=ZeroSSL RSA Domain Secure Site CA,O=ZeroSSL,C=AT".into(),
                "CN=R3,O=Let's Encrypt,C=US".into(),
            ],
            free_issuer_orgs: vec![
                "Let's Encrypt".into(),
                "ZeroSSL".into(),
                "Buypass AS-983163327".into(),
            ],
            max_alerts: 3,
            udp_exempt_ports: vec![53, 123, 443],
            local_nets: nets.iter().filter_map(|n| n.parse().ok()).collect(),
            new_domain_days: 365,
        }
    }
}

/// Reads a settings file; returns the settings and the warnings (unknown keys), each naming the
/// file.
pub fn load(path: &Path) -> anyhow::Result<(Settings, Vec<String>)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    parse(&text, &path.display().to_string())
}

/// Parses settings text (YAML or JSON); `source` names it in messages.
pub fn parse(text: &str, source: &str) -> anyhow::Result<(Settings, Vec<String>)> {
    let doc: Value = serde_norway::from_str(text).map_err(|e| match e.location() {
        Some(l) => anyhow::anyhow!(
            "{source}:{}:{}: not YAML or JSON: {e}",
            l.line(),
            l.column()
        ),
        None => anyhow::anyhow!("{source}: not YAML or JSON: {e}"),
    })?;
    let mut settings = Settings::default();
    let mut warnings = Vec::new();
    let top = match doc {
        Value::Null => return Ok((settings, warnings)),
        Value::Mapping(m) => m,
        _ => anyhow::bail!("{source}: expected a mapping with an `analysis` section"),
    };
    let (analysis, prefix) = match top.get("analysis") {
        Some(Value::Mapping(m)) => (m.clone(), "analysis."),
        Some(Value::Null) => return Ok((settings, warnings)),
        Some(_) => anyhow::bail!("{source}: analysis: expected a mapping"),
        None => (top, ""),
    };
    for (k, v) in &analysis {
        let Some(key) = k.as_str() else {
            warnings.push(format!("{source}: non-text key {k:?} ignored"));
            continue;
        };
        let name = format!("{prefix}{key}");
        let err =
            |want: &str| anyhow::anyhow!("{source}: {name}: expected {want}, got {}", show(v));
        let s = &mut settings;
        match key {
            "heuristics" => s.heuristics = v.as_bool().ok_or_else(|| err("true or false"))?,
            "iocs" => s.iocs = v.as_bool().ok_or_else(|| err("true or false"))?,
            "whitelist" => s.whitelist = v.as_bool().ok_or_else(|| err("true or false"))?,
            "active" => s.active = v.as_bool().ok_or_else(|| err("true or false"))?,
            "max_ports" => s.max_ports = port(v).ok_or_else(|| err("a port 1-65535"))?,
            "http_default_port" => {
                s.http_default_port = port(v).ok_or_else(|| err("a port 1-65535"))?
            }
            "ssl_default_ports" => {
                s.ssl_default_ports = list(v, port).ok_or_else(|| err("a list of ports 1-65535"))?
            }
            "udp_exempt_ports" => {
                s.udp_exempt_ports = list(v, port).ok_or_else(|| err("a list of ports 1-65535"))?
            }
            "free_issuers" => {
                s.free_issuers = list(v, text_value).ok_or_else(|| err("a list of texts"))?
            }
            "free_issuer_orgs" => {
                s.free_issuer_orgs = list(v, text_value).ok_or_else(|| err("a list of texts"))?
            }
            "max_alerts" => {
                s.max_alerts = v
                    .as_u64()
                    .filter(|n| *n >= 1)
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| err("an integer of at least 1"))?
            }
            "new_domain_days" => {
                s.new_domain_days = v
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| err("a number of days (0 or more)"))?
            }
            "local_nets" => {
                s.local_nets = list(v, |x| x.as_str().and_then(parse_cidr))
                    .ok_or_else(|| err("a list of CIDRs or addresses"))?
            }
            "remote" | "_stubs" => {}
            _ => warnings.push(format!("{source}: unknown key {name} ignored")),
        }
    }
    Ok((settings, warnings))
}

fn port(v: &Value) -> Option<u16> {
    v.as_u64()
        .filter(|n| *n >= 1)
        .and_then(|n| u16::try_from(n).ok())
}

fn text_value(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn list<T>(v: &Value, item: impl Fn(&Value) -> Option<T>) -> Option<Vec<T>> {
    match v {
        Value::Sequence(items) => items.iter().map(item).collect(),
        _ => None,
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "nothing".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
        Value::Tagged(_) => "a tagged value".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_bare_mapping() {
        assert_eq!(parse("", "c.yaml").unwrap().0, Settings::default());
        let (s, w) = parse("max_ports: 2000\nactive: true\nfoo: 1\n", "c.yaml").unwrap();
        assert_eq!(s.max_ports, 2000);
        assert!(s.active);
        assert_eq!(w, vec!["c.yaml: unknown key foo ignored"]);
    }

    #[test]
    fn json_with_stubs_and_errors_name_the_key() {
        let (s, w) = parse(
            r#"{"analysis": {"active": false, "local_nets": ["10.0.0.0/8", "fd00::/8"]}, "_stubs": {"ns": {}}}"#,
            "c.json",
        )
        .unwrap();
        assert!(w.is_empty());
        assert_eq!(s.local_nets.len(), 2);
        for (text, msg) in [
            (
                "analysis: {max_ports: 70000}",
                "c: analysis.max_ports: expected a port 1-65535, got 70000",
            ),
            (
                "analysis: {max_alerts: 0}",
                "c: analysis.max_alerts: expected an integer of at least 1, got 0",
            ),
            (
                "heuristics: \"yes\"",
                "c: heuristics: expected true or false, got \"yes\"",
            ),
            (
                "local_nets: [10.0.0.0/33]",
                "c: local_nets: expected a list of CIDRs or addresses, got a list",
            ),
        ] {
            assert_eq!(parse(text, "c").unwrap_err().to_string(), msg);
        }
        assert!(
            parse("analysis: [\n", "c")
                .unwrap_err()
                .to_string()
                .starts_with("c:")
        );
    }
}
