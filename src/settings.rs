//! Rule settings (RULES.md §9). Temporary minimal version; replaced by the config loader.

use ipnetwork::IpNetwork;

/// The `analysis` settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub heuristics: bool,
    pub iocs: bool,
    pub whitelist: bool,
    pub active: bool,
    pub max_ports: u16,
    pub http_default_port: u16,
    pub ssl_default_ports: Vec<u16>,
    pub free_issuers: Vec<String>,
    pub free_issuer_orgs: Vec<String>,
    pub max_alerts: u32,
    pub udp_exempt_ports: Vec<u16>,
    pub local_nets: Vec<IpNetwork>,
    pub new_domain_days: u32,
}

impl Default for Settings {
    fn default() -> Self {
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
            free_issuer_orgs: vec!["Let's Encrypt".into(), "ZeroSSL".into(), "Buypass AS-983163327".into()],
            max_alerts: 3,
            udp_exempt_ports: vec![53, 123, 443],
            local_nets: [
                "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8",
                "169.254.0.0/16", "224.0.0.0/4", "255.255.255.255/32", "::1/128", "fc00::/7",
                "fe80::/10", "ff00::/8",
            ]
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect(),
            new_domain_days: 365,
        }
    }
}
