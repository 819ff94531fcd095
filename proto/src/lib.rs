//! Picket's wire contracts, generated from `proto/picket/**`.
//!
//! This is the only crate that runs code generation. Other crates name these
//! types only in their `convert` modules (the edges), never in domain logic.
//! [`contract`] holds what both ends of the agent link agree on beyond the
//! message shapes (protocol version, refusal codes, backoff cap, host stats).

pub use prost;
pub use prost_types;
pub use tonic;

pub mod build;
pub mod contract;

/// `picket.agent.v1`: the agent ↔ collector stream.
pub mod agent {
    pub mod v1 {
        tonic::include_proto!("picket.agent.v1");
    }
}

/// `picket.v1`: the client API.
pub mod v1 {
    tonic::include_proto!("picket.v1");
}

/// Encoded `FileDescriptorSet` of every Picket proto, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/picket_descriptor.bin"));
