//! ADV-01 (RULES.md §7.5): runs last, over every other alert, and flags a host that drew alerts
//! from at least `max_alerts` distinct rule ids. It reads alerts only, never records.

use crate::FastMap;
use crate::alert::{Collector, Contribution, Evidence, Level};
use crate::settings::Settings;
use std::collections::{BTreeMap, BTreeSet};

/// Rule ids that never count toward ADV-01 on their own.
const NOT_COUNTED: &[&str] = &["ADV-01", "DOM-01", "DOM-02"];

/// Adds one ADV-01 alert per host with alerts from at least `max_alerts` distinct rule ids.
pub fn adv01(settings: &Settings, out: &mut Collector) {
    let threshold = usize::try_from(settings.max_alerts).unwrap_or(usize::MAX);
    let contributions: Vec<Contribution> = {
        // The rule ids per host first: with many destinations most hosts draw one kind of
        // alert, and only the hosts that reach the threshold get their evidence gathered.
        let mut ids_of: FastMap<&str, BTreeSet<&'static str>> = FastMap::default();
        for a in out.iter().filter(|a| !NOT_COUNTED.contains(&a.id)) {
            ids_of.entry(a.host.as_str()).or_default().insert(a.id);
        }
        let mut by_host: BTreeMap<&str, (&BTreeSet<&'static str>, Evidence)> = BTreeMap::new();
        for a in out.iter().filter(|a| !NOT_COUNTED.contains(&a.id)) {
            let Some(ids) = ids_of
                .get(a.host.as_str())
                .filter(|ids| ids.len() >= threshold)
            else {
                continue;
            };
            let ev = &mut by_host
                .entry(&a.host)
                .or_insert_with(|| (ids, Evidence::default()))
                .1;
            ev.server_ips.extend(a.evidence.server_ips.iter().copied());
            ev.server_ports
                .extend(a.evidence.server_ports.iter().copied());
            if let Some((ts, occ)) = &a.evidence.first {
                ev.occurrence(*ts, occ.clone());
            }
            ev.seen("alerts", 1, a.evidence.first_ts, a.evidence.last_ts);
        }
        by_host
            .into_iter()
            .map(|(host, (ids, mut ev))| {
                let list = ids.iter().copied().collect::<Vec<&str>>().join(", ");
                ev.details.insert(format!("rules: {list}"));
                Contribution {
                    id: "ADV-01",
                    level: Level::Moderate,
                    description: format!(
                        "{host} drew {} different kinds of alert ({list}). Several independent signs on one host deserve a closer look.",
                        ids.len(),
                    ),
                    host: host.to_string(),
                    title: "Host with several kinds of alert",
                    evidence: ev,
                }
            })
            .collect()
    };
    for c in contributions {
        out.add(c);
    }
}
