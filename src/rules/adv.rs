//! ADV-01 (RULES.md §7.5): runs last, over every other alert, and flags a host that drew alerts
//! from at least `max_alerts` distinct rule ids. It reads alerts only, never records.

use crate::alert::{Collector, Contribution, Evidence, Level};
use crate::settings::Settings;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Rule ids that never count toward ADV-01 on their own.
const NOT_COUNTED: &[&str] = &["ADV-01", "DOM-01", "DOM-02"];

/// Adds one ADV-01 alert per host with alerts from at least `max_alerts` distinct rule ids.
pub fn adv01(settings: &Settings, out: &mut Collector) {
    let threshold = usize::try_from(settings.max_alerts).unwrap_or(usize::MAX);
    // The rule ids per host first: with many destinations most hosts draw one kind of alert,
    // and only the hosts that reach the threshold get their evidence gathered.
    let mut ids_of: HashMap<&str, BTreeSet<&'static str>, foldhash::fast::RandomState> =
        HashMap::default();
    for a in out.iter().filter(|a| !NOT_COUNTED.contains(&a.id)) {
        ids_of.entry(a.host.as_str()).or_default().insert(a.id);
    }
    let mut by_host: BTreeMap<String, (BTreeSet<&'static str>, Evidence)> = BTreeMap::new();
    for a in out.iter() {
        if NOT_COUNTED.contains(&a.id)
            || ids_of
                .get(a.host.as_str())
                .is_none_or(|ids| ids.len() < threshold)
        {
            continue;
        }
        let entry = by_host.entry(a.host.clone()).or_default();
        entry.0.insert(a.id);
        entry
            .1
            .server_ips
            .extend(a.evidence.server_ips.iter().copied());
        entry
            .1
            .server_ports
            .extend(a.evidence.server_ports.iter().copied());
        if let Some((ts, occ)) = &a.evidence.first {
            entry.1.occurrence(*ts, occ.clone());
        }
        entry
            .1
            .seen("alerts", 1, a.evidence.first_ts, a.evidence.last_ts);
    }
    for (host, (ids, mut ev)) in by_host {
        let list: Vec<&str> = ids.iter().copied().collect();
        ev.details.insert(format!("rules: {}", list.join(", ")));
        out.add(Contribution {
            id: "ADV-01",
            level: Level::Moderate,
            description: format!(
                "{host} drew {} different kinds of alert ({}). Several independent signs on one host deserve a closer look.",
                ids.len(),
                list.join(", ")
            ),
            host,
            title: "Host with several kinds of alert",
            evidence: ev,
        });
    }
}
