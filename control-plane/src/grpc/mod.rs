//! The control plane's side of the `InstanceNode` gRPC service: the client it calls nodes
//! with ([`client`]) and the media it asks them for ([`media`]). The service nodes call is
//! `node_api`; these two are the only modules that see prost types.

pub mod client;
pub mod media;
