//! The paths an instance node serves itself, and the hop marker proxies put on the requests
//! they forward.
//!
//! Both proxies read this one list: the control plane's edge forwards exactly these paths to a
//! node, and a node answers every one of them itself (405 with `Allow` for another method, 404
//! for an unknown path under one of its prefixes) and forwards only what is not here. The two
//! can therefore never send a request back and forth between them.

/// One node path and the methods it answers (`HEAD` comes with `GET`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeRoute {
    pub path: &'static str,
    pub methods: &'static [&'static str],
}

const GET: &[&str] = &["GET", "HEAD"];
const POST: &[&str] = &["POST"];

/// Every path the node routes.
pub const ROUTES: &[NodeRoute] = &[
    NodeRoute {
        path: "/send-message",
        methods: POST,
    },
    NodeRoute {
        path: "/send-media",
        methods: POST,
    },
    NodeRoute {
        path: "/send-reaction",
        methods: POST,
    },
    NodeRoute {
        path: "/status",
        methods: GET,
    },
    NodeRoute {
        path: "/qr",
        methods: GET,
    },
    NodeRoute {
        path: "/health",
        methods: GET,
    },
    NodeRoute {
        path: "/sandbox/scan",
        methods: POST,
    },
    NodeRoute {
        path: "/sandbox/pair-code",
        methods: POST,
    },
    NodeRoute {
        path: "/sandbox/inbound",
        methods: POST,
    },
    NodeRoute {
        path: "/sandbox/reaction",
        methods: POST,
    },
    NodeRoute {
        path: "/sandbox/edit",
        methods: POST,
    },
    NodeRoute {
        path: "/sandbox/revoke",
        methods: POST,
    },
    NodeRoute {
        path: "/sandbox/receipt",
        methods: POST,
    },
    NodeRoute {
        path: "/sandbox/fault",
        methods: POST,
    },
    NodeRoute {
        path: "/sandbox/groups",
        methods: POST,
    },
    NodeRoute {
        path: "/sandbox/presence",
        methods: GET,
    },
];

/// Prefixes the node owns whole: an unknown path under one is the node's 404.
pub const PREFIXES: &[&str] = &["/sandbox/"];

/// The header a proxy adds to a request it forwards, naming itself
/// (`x-zapini-hop: control-plane, node`). A proxy that finds its own name refuses the
/// request (508 `LOOP_DETECTED`) instead of forwarding it again.
pub const HOP_HEADER: &str = "x-zapini-hop";

/// The control plane's name in [`HOP_HEADER`].
pub const HOP_CONTROL_PLANE: &str = "control-plane";

/// A node's name in [`HOP_HEADER`].
pub const HOP_NODE: &str = "node";

/// The route at exactly `path`.
pub fn route(path: &str) -> Option<&'static NodeRoute> {
    ROUTES.iter().find(|r| r.path == path)
}

/// True when the node serves `path` itself (a route, or anything under its prefixes).
pub fn is_node_path(path: &str) -> bool {
    route(path).is_some() || PREFIXES.iter().any(|p| path.starts_with(p))
}

/// The `Allow` header value of a route: `"GET, HEAD"`.
pub fn allow_header(route: &NodeRoute) -> String {
    route.methods.join(", ")
}

/// True when one of the comma-separated hop header values names `me`.
pub fn hop_seen<'a>(values: impl IntoIterator<Item = &'a str>, me: &str) -> bool {
    values
        .into_iter()
        .flat_map(|v| v.split(','))
        .any(|hop| hop.trim().eq_ignore_ascii_case(me))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_paths() {
        for p in [
            "/send-message",
            "/status",
            "/health",
            "/sandbox/scan",
            "/sandbox/no-such",
        ] {
            assert!(is_node_path(p), "{p}");
        }
        for p in [
            "/api/v1/instances",
            "/status/",
            "/sandbox",
            "/send-message/x",
            "/",
        ] {
            assert!(!is_node_path(p), "{p}");
        }
        assert_eq!(allow_header(route("/status").unwrap()), "GET, HEAD");
        assert_eq!(allow_header(route("/send-message").unwrap()), "POST");
        assert!(route("/sandbox/no-such").is_none());
    }

    #[test]
    fn hops() {
        assert!(hop_seen(["control-plane, node"], HOP_NODE));
        assert!(hop_seen(["x", " Control-Plane "], HOP_CONTROL_PLANE));
        assert!(!hop_seen(["control-plane"], HOP_NODE));
        assert!(!hop_seen([], HOP_NODE));
    }
}
