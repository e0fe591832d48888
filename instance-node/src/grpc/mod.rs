//! Everything gRPC: the `InstanceNode` server the control plane calls, and the client side
//! of `ControlPlane` (registration, lease, events stream, token checks). This is the only
//! module that sees prost types.

pub mod client;
pub mod convert;
pub mod link;
pub mod server;
pub mod status;
