//! Instance node: owns exactly one WhatsApp session and serves the Instance API hot path.
//!
//! Not built yet (issue 3). The binary exists so the workspace has its final shape; it
//! refuses to start rather than pretend to serve.
#![forbid(unsafe_code)]

fn main() {
    eprintln!("instance-node: not implemented yet; the control plane runs on its own for now");
    std::process::exit(2);
}
