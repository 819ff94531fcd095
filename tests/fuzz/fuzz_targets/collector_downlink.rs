//! The agent's downlink edge: bytes off the collector stream, decoded as a
//! `picket.agent.v1.CollectorMessage`, then converted by
//! `picket_agent::link::convert::downlink`. Neither step may panic; an
//! accepted assignment part accounts for every check and keeps only checks the
//! agent can run.
#![no_main]

use libfuzzer_sys::fuzz_target;
use picket_agent::domain::{Downlink, MIN_INTERVAL};
use picket_agent::link::convert;
use picket_proto::agent::v1 as pb;
use picket_proto::prost::Message;

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = pb::CollectorMessage::decode(data) else {
        return;
    };
    let sent = match &msg.msg {
        Some(pb::collector_message::Msg::Assignment(a)) => Some(a.checks.len()),
        _ => None,
    };
    if let Ok(Downlink::Assignment(part)) = convert::downlink(msg) {
        assert_eq!(Some(part.checks.len() + part.rejected.len()), sent);
        for c in &part.checks {
            assert!(c.interval >= MIN_INTERVAL);
            assert!(!c.expected_status.is_empty());
        }
    }
});
