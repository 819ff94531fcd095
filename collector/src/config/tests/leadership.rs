//! `leader_lease` and `advertise_url`: defaults, and errors with their line.

use super::*;

fn parse_collector(extra: &str) -> Result<Config, String> {
    let text = format!(
        "[collector]\ndatabase = \"sqlite://x.db\"\ngrpc_listen = \"127.0.0.1:7171\"\n{extra}\n\
         [agents]\nenrollment_token = \"t\"\n"
    );
    parse(Path::new("p.toml"), &text).map_err(|e| e.to_string())
}

#[test]
fn the_lease_defaults_to_15s_and_the_url_to_grpc_listen() {
    let c = parse_collector("").expect("config").collector;
    assert_eq!(c.leader_lease, std::time::Duration::from_secs(15));
    assert_eq!(c.advertise_url, "http://127.0.0.1:7171");
    let c = parse_collector("leader_lease = \"2s\"\nadvertise_url = \"https://c1.example:7070/\"")
        .expect("config")
        .collector;
    assert_eq!(c.leader_lease, std::time::Duration::from_secs(2));
    assert_eq!(c.advertise_url, "https://c1.example:7070");
}

#[test]
fn a_lease_out_of_range_or_a_bad_url_names_its_line() {
    assert_eq!(
        parse_collector("leader_lease = \"500ms\"").unwrap_err(),
        "p.toml:4: leader_lease: \"500ms\" is out of range (between 1s and 300s)"
    );
    let err = parse_collector("leader_lease = \"1h\"").unwrap_err();
    assert!(err.starts_with("p.toml:4: leader_lease:"), "{err}");
    let err = parse_collector("advertise_url = \"grpc://x\"").unwrap_err();
    assert!(
        err.starts_with("p.toml:4: advertise_url: invalid URL") && err.contains("scheme"),
        "{err}"
    );
}
