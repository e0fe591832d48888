//! The node's side of the `ControlPlane` gRPC service: the client ([`client`]) and the
//! conversions between engine types and prost messages ([`convert`]). The link that keeps
//! the node registered is `link`; the `InstanceNode` server the control plane calls is
//! `control_api`. These three are the only modules that see prost types.

pub mod client;
pub mod convert;
