//! The start-up rules that keep secrets off the network in clear: off
//! loopback, `grpc_listen` needs `tls_cert` (or `allow_plaintext`) and
//! `admin_token`; and no secret is printed by `Debug`.

use super::*;

/// `[collector]` with `grpc_listen` and `extra` keys, then `[agents]`.
fn check(grpc_listen: &str, extra: &str, expected: &str) {
    let text = format!(
        "[collector]\ndatabase = \"sqlite://x.db\"\ngrpc_listen = \"{grpc_listen}\"\n{extra}\n\
         [agents]\nenrollment_token = \"t\"\n"
    );
    let got = match parse(Path::new("p.toml"), &text) {
        Ok(_) => "ok".to_owned(),
        Err(e) => e.to_string(),
    };
    assert_eq!(got, expected, "config:\n{text}");
}

const NO_TLS: &str = "p.toml: grpc_listen: 0.0.0.0:7070 is not a loopback address and there \
    is no tls_cert: tokens and credentials would cross the network in clear (set tls_cert and \
    tls_key, or allow_plaintext = true if a tunnel encrypts the link)";
const NO_ADMIN: &str =
    "p.toml: admin_token: is required when grpc_listen (0.0.0.0:7070) is not a loopback address";

#[test]
fn off_loopback_needs_tls_or_allow_plaintext_and_always_an_admin_token() {
    let token = "admin_token = \"a\"";
    let dir = tempfile::tempdir().expect("temp dir");
    crate::tls::server::tests::write_cert(dir.path(), "c");
    let path = |f: &str| dir.path().join(f).display().to_string();
    let tls = format!(
        "tls_cert = \"{}\"\ntls_key = \"{}\"",
        path("c.crt"),
        path("c.key")
    );
    let tls = tls.as_str();
    check("0.0.0.0:7070", token, NO_TLS);
    check("0.0.0.0:7070", "", NO_TLS);
    check(
        "0.0.0.0:7070",
        &format!("{token}\nallow_plaintext = false"),
        NO_TLS,
    );
    check(
        "0.0.0.0:7070",
        &format!("{token}\nallow_plaintext = true"),
        "ok",
    );
    check("0.0.0.0:7070", &format!("{token}\n{tls}"), "ok");
    check("0.0.0.0:7070", tls, NO_ADMIN);
    check("0.0.0.0:7070", "allow_plaintext = true", NO_ADMIN);
    check(
        "0.0.0.0:7070",
        "allow_plaintext = true\nadmin_token = \"\"",
        NO_ADMIN,
    );
    check(
        "[::]:7070",
        "",
        "p.toml: grpc_listen: [::]:7070 is not a loopback address and there is no tls_cert: \
         tokens and credentials would cross the network in clear (set tls_cert and tls_key, or \
         allow_plaintext = true if a tunnel encrypts the link)",
    );
    check(
        "192.0.2.1:7070",
        &format!("{token}\nallow_plaintext = true"),
        "ok",
    );
}

#[test]
fn loopback_needs_neither() {
    for addr in [
        "127.0.0.1:7070",
        "127.0.0.2:0",
        "[::1]:7070",
        "[::ffff:127.0.0.1]:7070",
    ] {
        check(addr, "", "ok");
    }
}

#[test]
fn read_token_is_optional_and_empty_means_none() {
    let text = "[collector]\ndatabase = \"sqlite://x.db\"\nread_token = \"viewer\"\n\
                [agents]\nenrollment_token = \"t\"\n";
    let c = parse(Path::new("p.toml"), text).expect("valid");
    assert_eq!(c.collector.read_token.as_deref(), Some("viewer"));
    let c = parse(Path::new("p.toml"), &text.replace("viewer", "")).expect("valid");
    assert_eq!(c.collector.read_token, None);
}

#[test]
fn debug_never_prints_a_secret() {
    let text = GOOD.replace(
        "admin_token = \"change-me\"",
        "admin_token = \"change-me\"\nread_token = \"viewer-xyz\"",
    );
    let text = text.replace(
        "upgrade_to_https = true",
        "upgrade_to_https = true\nbasic_auth = { user = \"probe\", password = \"probe-pw\" }",
    );
    let config = parse(Path::new("p.toml"), &text).expect("valid");
    let settings = crate::config::settings::Settings::from(&config);
    let raw: raw::RawConfig = toml::from_str(&text).expect("parses");
    let printed = format!("{config:?}\n{settings:?}\n{raw:?}");
    let key = format!(
        "{:?}",
        config.webhooks[0].secret.as_ref().expect("a secret")
    );
    for secret in [
        "change-me",
        "viewer-xyz",
        "enroll-me",
        "probe-pw",
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "\"secret\"",
        key.trim_start_matches("Some("),
    ] {
        assert!(!printed.contains(secret), "{secret:?} printed:\n{printed}");
    }
    assert!(printed.contains("<redacted>"), "{printed}");
    assert!(printed.contains("web-1"), "other fields still print");
}
