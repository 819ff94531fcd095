//! Generates the gRPC code from `picket/**/*.proto` without a system protoc:
//! protox parses, tonic-prost-build generates client and server, and the
//! encoded descriptor set is kept for server reflection.

use std::path::PathBuf;

use prost::Message;

const PROTOS: &[&str] = &["picket/agent/v1/agent_link.proto", "picket/v1/picket.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    let fds = protox::compile(PROTOS, ["."])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("picket_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // `AgentLink/Connect` would clash with the generated `connect` constructor:
        // clients are built with `new(channel)` instead.
        .build_transport(false)
        .compile_fds(fds)?;
    Ok(())
}
