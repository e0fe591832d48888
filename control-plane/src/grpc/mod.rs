//! The gRPC side of the control plane: the `ControlPlane` service nodes call, and the
//! `InstanceNode` client the control plane calls nodes with. Only this module sees prost types.

pub mod client;
pub mod media;
pub mod server;
