//! Each actor's settings carry exactly its part of the config.

use super::*;
use crate::config::settings::*;
use crate::store::EventSettings;

fn config() -> Config {
    parse_str(GOOD).expect("valid config")
}

#[test]
fn lifecycle_settings_name_services_and_their_equipment() {
    let s = LifecycleSettings::from(&config());
    let shop = s.service(&"shop".into()).expect("shop");
    assert_eq!(
        shop,
        LifecycleService {
            id: &"shop".into(),
            url: "http://shop.example.com",
            priority: "3",
            equipment: &"web-1".into(),
            equipment_name: "Web server 1",
        }
    );
    assert!(s.service(&"nope".into()).is_none());
}

#[test]
fn evaluator_settings_carry_each_services_policy() {
    let s = EvaluatorSettings::from(&config());
    let blog = s.service(&"blog".into()).expect("blog");
    assert_eq!(
        blog,
        &EvaluatorService {
            id: "blog".into(),
            equipment: "web-1".into(),
            active: true,
            recheck_delay: Duration::from_secs(2),
            recheck_timeout: Duration::from_secs(12),
            quorum: Quorum::AtLeast(2),
            failures_before_down: 1,
            degraded_after: 3,
            check_timeout: Duration::from_secs(10),
            cert_expiry_warning: Duration::from_secs(14 * 86_400),
        }
    );
    assert_eq!(s.services.len(), 2);
}

#[test]
fn agent_settings_split_enrollment_liveness_and_registry() {
    let c = config();
    let all = Settings::from(&c);
    assert_eq!(
        all.registry.enrollment,
        EnrollmentSettings {
            enrollment_token: "enroll-me".to_owned(),
            auto_approve: false,
        }
    );
    assert_eq!(
        all.liveness,
        LivenessSettings {
            heartbeat_interval: Duration::from_secs(10),
            missed_heartbeats: 3,
            settle_window: Duration::from_secs(60),
        }
    );
    assert_eq!(all.liveness.dead_after(), Duration::from_secs(30));
    assert_eq!(all.registry.agents_per_service, 3);
    assert_eq!(all.registry.heartbeat_interval, Duration::from_secs(10));
    assert_eq!(all.registry.services, c.services);
}

#[test]
fn maintenance_notifier_catalog_api_and_event_settings() {
    let c = config();
    let all = Settings::from(&c);
    assert_eq!(
        all.maintenance.default_duration,
        Duration::from_secs(4 * 3600)
    );
    assert_eq!(
        all.maintenance.equipment_name(&"web-1".into()),
        Some("Web server 1")
    );
    assert_eq!(all.maintenance.equipment_name(&"web-9".into()), None);
    assert_eq!(all.notifier.webhooks, c.webhooks);
    assert_eq!(all.catalog.equipment, c.equipment);
    assert_eq!(all.catalog.services, c.services);
    assert_eq!(all.api.admin_token.as_deref(), Some("change-me"));
    assert_eq!(
        all.events,
        EventSettings::new(
            vec![(
                "ops".to_owned(),
                vec![EventType::RequestOpened, EventType::RequestClosed]
            )],
            "http://127.0.0.1:8080".to_owned()
        )
    );
    assert_eq!(all.lifecycle, LifecycleSettings::from(&c));
    assert_eq!(all.evaluator, EvaluatorSettings::from(&c));
}

#[test]
fn retention_settings_carry_the_three_periods() {
    let c = parse_str(&format!(
        "{GOOD}\n[retention]\nresults = \"2d\"\nevents = \"10d\"\nrollups = \"100d\"\n"
    ))
    .expect("valid config");
    let day = Duration::from_secs(24 * 3600);
    assert_eq!(
        RetentionSettings::from(&c),
        RetentionSettings {
            results: 2 * day,
            events: 10 * day,
            rollups: 100 * day,
        }
    );
    assert_eq!(Settings::from(&c).retention, RetentionSettings::from(&c));
}
