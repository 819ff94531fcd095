//! The grouping decision, pure: the ratio, at least 2, the window, late
//! joiners, the monitoring threshold.

use std::time::Duration;

use super::*;
use crate::config::grouping::EquipmentGrouping;

const W: i64 = 12_000;

/// `equipments` equipments of `per` active services each, one window `W`.
fn settings(equipments: usize, per: usize, ratio: f64) -> GroupingSettings {
    GroupingSettings {
        monitoring_down_ratio: 0.9,
        collector: "http://c.test".into(),
        equipment: (0..equipments)
            .map(|e| {
                let g = EquipmentGrouping {
                    ratio,
                    window: Duration::from_millis(W as u64),
                    active: per,
                };
                (EquipmentId::from(format!("eq{e}")), g)
            })
            .collect(),
    }
}

fn down(g: &mut Grouping, s: &GroupingSettings, eq: usize, svc: usize, at: i64) -> OnDown {
    let id = ServiceId::from(format!("eq{eq}-s{svc}"));
    g.confirmed_down(s, &id, &EquipmentId::from(format!("eq{eq}")), &[], at)
}

fn kinds(d: &[Decision]) -> Vec<String> {
    d.iter()
        .map(|d| match d {
            Decision::Monitoring { members, .. } => format!("monitoring {}", members.len()),
            Decision::Host {
                equipment, members, ..
            } => format!("host {equipment} {}", members.len()),
            Decision::Own(p) => format!("own {}", p.service),
            Decision::Join { request, members } => {
                format!("join {} {}", request.get(), members.len())
            }
        })
        .collect()
}

#[test]
fn all_services_of_one_equipment_down_in_a_window_open_one_host_request() {
    let s = settings(3, 4, 1.0);
    let mut g = Grouping::default();
    for i in 0..4 {
        assert_eq!(down(&mut g, &s, 0, i, 1000 + i as i64 * 1000), OnDown::Wait);
    }
    assert_eq!(g.next_deadline(), Some(1000 + W));
    assert!(
        g.decide(&s, 1000 + W - 1).is_empty(),
        "decided before the window ended"
    );
    assert_eq!(kinds(&g.decide(&s, 1000 + W)), vec!["host eq0 4"]);
    assert_eq!(g.next_deadline(), None);
}

#[test]
fn below_the_ratio_each_service_gets_its_own_request() {
    let s = settings(3, 4, 1.0);
    let mut g = Grouping::default();
    for i in 0..3 {
        down(&mut g, &s, 0, i, 1000);
    }
    assert_eq!(
        kinds(&g.decide(&s, 1000 + W)),
        vec!["own eq0-s0", "own eq0-s1", "own eq0-s2"]
    );
}

#[test]
fn a_lower_ratio_groups_most_services() {
    let s = settings(3, 4, 0.75);
    let mut g = Grouping::default();
    for i in 0..3 {
        down(&mut g, &s, 0, i, 1000);
    }
    assert_eq!(kinds(&g.decide(&s, 1000 + W)), vec!["host eq0 3"]);
}

#[test]
fn a_host_needs_at_least_two_services() {
    let s = settings(3, 1, 1.0);
    let mut g = Grouping::default();
    down(&mut g, &s, 0, 0, 1000);
    assert_eq!(kinds(&g.decide(&s, 1000 + W)), vec!["own eq0-s0"]);
}

#[test]
fn failures_further_apart_than_the_window_are_not_grouped() {
    let s = settings(3, 2, 1.0);
    let mut g = Grouping::default();
    down(&mut g, &s, 0, 0, 1000);
    // The first one's window ends before the second is confirmed.
    assert_eq!(kinds(&g.decide(&s, 1000 + W)), vec!["own eq0-s0"]);
    down(&mut g, &s, 0, 1, 1000 + W + 1);
    assert_eq!(kinds(&g.decide(&s, 1000 + 2 * W + 1)), vec!["own eq0-s1"]);
}

#[test]
fn a_service_of_another_equipment_failing_alone_keeps_its_own_request() {
    let s = settings(3, 3, 1.0);
    let mut g = Grouping::default();
    for i in 0..3 {
        down(&mut g, &s, 0, i, 1000);
    }
    down(&mut g, &s, 1, 0, 2000);
    let d = g.decide(&s, 1000 + W);
    assert_eq!(kinds(&d), vec!["host eq0 3"]);
    // The lone one waits out its own window (it may still be joined).
    assert_eq!(g.next_deadline(), Some(2000 + W));
    assert_eq!(kinds(&g.decide(&s, 2000 + W)), vec!["own eq1-s0"]);
}

#[test]
fn a_late_failure_joins_the_open_host_request() {
    let s = settings(3, 3, 0.5);
    let mut g = Grouping::default();
    for i in 0..2 {
        down(&mut g, &s, 0, i, 1000);
    }
    let Decision::Host { members, .. } = g.decide(&s, 1000 + W).remove(0) else {
        panic!("a host request");
    };
    let id = RequestId::from(7);
    g.opened(
        id,
        Some(&"eq0".into()),
        members.into_iter().map(|p| (p.service, p.votes)),
    );
    assert_eq!(down(&mut g, &s, 0, 2, 60_000), OnDown::Join(id));
    assert_eq!(
        down(&mut g, &s, 1, 0, 60_000),
        OnDown::Wait,
        "another equipment"
    );
    g.up(&"eq0-s0".into());
    assert_eq!(g.member_of(&"eq0-s0".into()), None);
    assert_eq!(g.member_of(&"eq0-s1".into()), Some(id));
}

#[test]
fn services_in_maintenance_do_not_count_as_active() {
    let s = settings(3, 4, 1.0);
    let mut g = Grouping::default();
    g.state(&"eq0-s3".into(), &"eq0".into(), ServiceState::Maintenance);
    for i in 0..3 {
        down(&mut g, &s, 0, i, 1000);
    }
    assert_eq!(kinds(&g.decide(&s, 1000 + W)), vec!["host eq0 3"]);
}

#[test]
fn nearly_everything_down_opens_one_monitoring_request_and_nothing_else() {
    let s = settings(5, 10, 1.0);
    let mut g = Grouping::default();
    for eq in 0..5 {
        for i in 0..10 {
            down(&mut g, &s, eq, i, 1000 + i as i64);
        }
    }
    let d = g.decide(&s, 1000 + W);
    assert_eq!(kinds(&d), vec!["monitoring 50"]);
    let Decision::Monitoring {
        down: n,
        active,
        equipments,
        ..
    } = &d[0]
    else {
        unreachable!()
    };
    assert_eq!((*n, *active, *equipments), (50, 50, 5));
    let id = RequestId::from(9);
    g.opened(id, None, []);
    // Every later failure joins it, whatever its equipment.
    assert_eq!(down(&mut g, &s, 4, 11, 50_000), OnDown::Join(id));
}

#[test]
fn the_monitoring_threshold_needs_the_ratio_two_equipments_and_three_services() {
    // 44 of 50: below 0.9.
    let s = settings(5, 10, 1.0);
    let mut g = Grouping::default();
    for k in 0..44 {
        down(&mut g, &s, k / 10, k % 10, 1000);
    }
    assert!(
        !kinds(&g.decide(&s, 1000 + W))
            .iter()
            .any(|k| k.starts_with("monitoring")),
        "44 of 50 is below 0.9"
    );
    // One equipment only: a host, not the monitoring.
    let s = settings(1, 10, 1.0);
    let mut g = Grouping::default();
    for i in 0..10 {
        down(&mut g, &s, 0, i, 1000);
    }
    assert_eq!(kinds(&g.decide(&s, 1000 + W)), vec!["host eq0 10"]);
    // Two services on two equipments, everything there is: too few.
    let s = settings(2, 1, 1.0);
    let mut g = Grouping::default();
    down(&mut g, &s, 0, 0, 1000);
    down(&mut g, &s, 1, 0, 1000);
    assert_eq!(
        kinds(&g.decide(&s, 1000 + W)),
        vec!["own eq0-s0", "own eq1-s0"]
    );
}

#[test]
fn monitoring_closes_below_its_ratio_and_the_services_still_down_wait_again() {
    let s = settings(2, 5, 1.0);
    let mut g = Grouping::default();
    for eq in 0..2 {
        for i in 0..5 {
            down(&mut g, &s, eq, i, 1000);
        }
    }
    let Decision::Monitoring { members, .. } = g.decide(&s, 1000 + W).remove(0) else {
        panic!("monitoring")
    };
    let id = RequestId::from(3);
    g.opened(id, None, members.into_iter().map(|p| (p.service, p.votes)));
    assert_eq!(g.monitoring_to_close(&s), None);
    // Equipment 1 recovers: 5 of 10 down.
    for i in 0..5 {
        g.up(&format!("eq1-s{i}").into());
    }
    assert_eq!(g.monitoring_to_close(&s), Some((id, 5, 10)));
    g.closed(&s, id, 50_000);
    assert_eq!(g.next_deadline(), Some(50_000 + W));
    // Equipment 0, all still down, now gets one host request.
    assert_eq!(kinds(&g.decide(&s, 50_000 + W)), vec!["host eq0 5"]);
}

#[test]
fn a_service_waiting_while_a_host_request_is_open_joins_it_at_the_decision() {
    let s = settings(3, 3, 1.0);
    let mut g = Grouping::default();
    let id = RequestId::from(4);
    g.opened(id, Some(&"eq0".into()), [("eq0-s0".into(), Vec::new())]);
    // As at start: a service stored down without a request waits.
    g.wait(&s, &"eq0-s1".into(), &"eq0".into(), &[], 1000);
    assert_eq!(kinds(&g.decide(&s, 1000 + W)), vec!["join 4 1"]);
}

#[test]
fn a_certain_outcome_is_decided_before_the_window_ends() {
    // One equipment of one service: no host, no monitoring can form.
    let s = settings(1, 1, 1.0);
    let mut g = Grouping::default();
    down(&mut g, &s, 0, 0, 1000);
    assert_eq!(kinds(&g.decide(&s, 1000)), vec!["own eq0-s0"]);
    // One equipment: its whole host down decides at once.
    let s = settings(1, 3, 1.0);
    let mut g = Grouping::default();
    for i in 0..3 {
        down(&mut g, &s, 0, i, 1000);
    }
    assert_eq!(kinds(&g.decide(&s, 1000)), vec!["host eq0 3"]);
    // With other equipments the monitoring may still form: it waits.
    let s = settings(2, 3, 1.0);
    let mut g = Grouping::default();
    for i in 0..3 {
        down(&mut g, &s, 0, i, 1000);
    }
    assert!(g.decide(&s, 1000).is_empty());
}

#[test]
fn settings_take_the_equipment_ratio_and_one_round_window_by_default() {
    let text = r#"
[collector]
database = "sqlite://x.db"
advertise_url = "http://10.0.0.1:7070"
[agents]
enrollment_token = "t"
[defaults]
equipment_down_ratio = 0.8
recheck_delay = "3s"
[[equipment]]
id = "web-1"
equipment_down_ratio = 0.5
[[equipment]]
id = "db-1"
[[services]]
id = "a"
equipment = "web-1"
url = "http://a.test"
timeout = "20s"
[[services]]
id = "b"
equipment = "web-1"
url = "http://b.test"
[[services]]
id = "c"
equipment = "db-1"
url = "http://c.test"
active = false
"#;
    let config = crate::config::parse(std::path::Path::new("g.toml"), text).expect("config");
    let s = GroupingSettings::from(&config);
    assert_eq!(s.collector, "http://10.0.0.1:7070");
    assert_eq!(s.monitoring_down_ratio, 0.9);
    let web = &s.equipment[&EquipmentId::from("web-1")];
    // recheck_delay 3s + recheck_timeout (timeout 20s + 2s), the longest.
    assert_eq!(
        (web.ratio, web.window, web.active),
        (0.5, Duration::from_secs(25), 2)
    );
    let db = &s.equipment[&EquipmentId::from("db-1")];
    assert_eq!((db.ratio, db.active), (0.8, 0));

    let fixed = text.replace("[defaults]", "[defaults]\nhost_grouping_window = \"1m\"");
    let config = crate::config::parse(std::path::Path::new("g.toml"), &fixed).expect("config");
    let s = GroupingSettings::from(&config);
    assert_eq!(
        s.equipment[&EquipmentId::from("web-1")].window,
        Duration::from_secs(60)
    );
}

#[test]
fn a_lone_service_is_known_alone_before_it_fails() {
    let s = settings(1, 1, 1.0);
    let g = Grouping::default();
    assert!(g.alone_now(&s, &"eq0-s0".into(), &"eq0".into()));
    // Two services: the other may follow within the window.
    let s = settings(1, 2, 1.0);
    assert!(!g.alone_now(&s, &"eq0-s0".into(), &"eq0".into()));
    // Two equipments of two services: the monitoring may form.
    let s3 = settings(2, 2, 1.0);
    assert!(!g.alone_now(&s3, &"eq0-s0".into(), &"eq0".into()));
}
