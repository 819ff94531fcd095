//! The collector's uplink edge: bytes off the agent stream, decoded as a
//! `picket.agent.v1.AgentMessage`, then converted by
//! `picket_collector::link::convert::uplink`. Neither step may panic; a
//! converted result batch accounts for every result it was given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use picket_collector::domain::Uplink;
use picket_collector::link::convert;
use picket_proto::agent::v1 as pb;
use picket_proto::prost::Message;

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = pb::AgentMessage::decode(data) else {
        return;
    };
    let sent = match &msg.msg {
        Some(pb::agent_message::Msg::Results(batch)) => Some(batch.results.len()),
        _ => None,
    };
    if let Ok(Uplink::Results { results, rejected }) = convert::uplink(msg) {
        assert_eq!(Some(results.len() + rejected.len()), sent);
        assert!(results.iter().all(|r| r.seq > 0));
    }
});
