//! Compiles `proto/zapini/node/v1/node.proto` with `protox` (pure Rust), so the
//! build never needs a system `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let file = "proto/zapini/node/v1/node.proto";
    println!("cargo:rerun-if-changed={file}");
    let descriptors = protox::compile([file], ["proto"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
