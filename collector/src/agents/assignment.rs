//! Which live, active agents probe which services: a pure function,
//! recomputed by the registry whenever agents or maintenance change.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use crate::config::ServiceConfig;
use crate::domain::{AgentId, CheckSpec, EquipmentId, ServiceId};

/// A live, active agent that can take checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: AgentId,
    pub region: String,
}

/// The result: checks per agent and agents per service.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Assignment {
    pub by_agent: HashMap<AgentId, Vec<Arc<CheckSpec>>>,
    pub by_service: HashMap<ServiceId, Vec<AgentId>>,
}

/// Assigns each active service outside maintenance to at most `per_service`
/// candidates of its regions (all regions when it names none), one per
/// region first, and within a region the least loaded agent (ties by id).
/// A service no candidate can take has no `by_service` entry.
///
/// The regions are grouped once; per service only the chosen agents'
/// indices are kept in reused buffers, so a million services cost no
/// allocation each beyond their place in the result.
pub fn assign(
    services: &[ServiceConfig],
    agents: &[Candidate],
    per_service: usize,
    in_maintenance: &HashSet<EquipmentId>,
) -> Assignment {
    let mut regions: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, a) in agents.iter().enumerate() {
        regions.entry(a.region.as_str()).or_default().push(i);
    }
    let mut load = vec![0usize; agents.len()];
    let mut taken = vec![false; agents.len()];
    let mut checks: Vec<Vec<Arc<CheckSpec>>> = vec![Vec::new(); agents.len()];
    let mut by_service = HashMap::new();
    let mut chosen: Vec<usize> = Vec::with_capacity(per_service);
    let mut pass: Vec<usize> = Vec::with_capacity(regions.len());
    for s in services {
        if agents.is_empty() || !s.active || in_maintenance.contains(&s.equipment) {
            continue;
        }
        let by_load = |a: &usize, b: &usize| {
            load[*a]
                .cmp(&load[*b])
                .then_with(|| agents[*a].id.cmp(&agents[*b].id))
        };
        chosen.clear();
        while chosen.len() < per_service {
            // One pass over the regions, least loaded region-best first.
            pass.clear();
            for (region, members) in &regions {
                if !s.regions.is_empty() && !s.regions.iter().any(|r| r == region) {
                    continue;
                }
                let best = members
                    .iter()
                    .copied()
                    .filter(|&i| !taken[i])
                    .min_by(by_load);
                pass.extend(best);
            }
            if pass.is_empty() {
                break;
            }
            pass.sort_by(by_load);
            for &a in &pass {
                if chosen.len() < per_service {
                    chosen.push(a);
                    taken[a] = true;
                }
            }
        }
        if chosen.is_empty() {
            continue;
        }
        for &a in &chosen {
            load[a] += 1;
            taken[a] = false;
            checks[a].push(s.check.clone());
        }
        by_service.insert(
            s.id.clone(),
            chosen.iter().map(|&a| agents[a].id.clone()).collect(),
        );
    }
    Assignment {
        by_agent: agents.iter().map(|a| a.id.clone()).zip(checks).collect(),
        by_service,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> crate::config::Config {
        let mut text = String::from(
            "[collector]\ndatabase = \"sqlite://x.db\"\n[agents]\nenrollment_token = \"t\"\n\
             [[equipment]]\nid = \"e1\"\n[[equipment]]\nid = \"e2\"\n",
        );
        for (id, eq, regions) in [
            ("s1", "e1", ""),
            ("s2", "e1", "\"eu\""),
            ("s3", "e2", "\"us\", \"asia\""),
        ] {
            text.push_str(&format!(
                "[[services]]\nid = \"{id}\"\nequipment = \"{eq}\"\nurl = \"http://{id}.test\"\nregions = [{regions}]\n"
            ));
        }
        crate::config::parse(std::path::Path::new("t.toml"), &text).expect("config")
    }

    fn agents(list: &[(&str, &str)]) -> Vec<Candidate> {
        list.iter()
            .map(|(id, r)| Candidate {
                id: (*id).into(),
                region: r.to_string(),
            })
            .collect()
    }

    fn check(
        per_service: usize,
        list: &[(&str, &str)],
        maint: &[&str],
        expected: &[(&str, &[&str])],
    ) {
        let c = config();
        let maint: HashSet<EquipmentId> = maint.iter().map(|s| (*s).into()).collect();
        let a = assign(&c.services, &agents(list), per_service, &maint);
        for (service, want) in expected {
            let mut got = a.by_service.get(*service).cloned().unwrap_or_default();
            got.sort();
            assert_eq!(
                got, *want,
                "agents of {service} ({per_service} per service)"
            );
        }
        for (agent, checks) in &a.by_agent {
            for c in checks {
                assert!(
                    a.by_service[&c.id].contains(agent),
                    "{agent} runs {} but is not listed",
                    c.id
                );
            }
        }
    }

    #[test]
    fn regions_spread_and_limits() {
        let three = [("a", "eu"), ("b", "eu"), ("c", "us"), ("d", "asia")];
        // Spread over different regions first.
        check(
            3,
            &three,
            &[],
            &[
                ("s1", &["a", "c", "d"]),
                ("s2", &["a", "b"]),
                ("s3", &["c", "d"]),
            ],
        );
        // One each: s1 takes a (ties by id), so s2 goes to the idle b.
        check(1, &three, &[], &[("s1", &["a"]), ("s2", &["b"])]);
        // Fewer candidates than asked: all of them.
        check(
            5,
            &[("a", "eu")],
            &[],
            &[("s1", &["a"]), ("s2", &["a"]), ("s3", &[])],
        );
        // Maintenance removes the equipment's services.
        check(
            3,
            &three,
            &["e1"],
            &[("s1", &[]), ("s2", &[]), ("s3", &["c", "d"])],
        );
        // No agents: nothing assigned.
        check(3, &[], &[], &[("s1", &[])]);
    }

    #[test]
    fn load_is_balanced_within_a_region() {
        let c = config();
        let a = assign(
            &c.services,
            &agents(&[("a", "eu"), ("b", "eu")]),
            1,
            &HashSet::new(),
        );
        assert_eq!(a.by_service["s1"], ["a"]);
        assert_eq!(
            a.by_service["s2"],
            ["b"],
            "the less loaded agent of the region"
        );
    }
}
