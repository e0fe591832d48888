//! `TCP_NODELAY` on the PostgreSQL pools' sockets.
//!
//! sqlx 0.9.0 opens PostgreSQL connections without `TCP_NODELAY` (a regression,
//! transact-rs/sqlx#4335; fixed upstream by #4336, not on crates.io yet) and gives no access to
//! the socket. With Nagle's algorithm on, a message the client writes in two pieces waits for
//! the server's delayed ACK before its second piece leaves: 40 ms on Linux, on any statement
//! larger than a few KiB and on pipelined ones. Ingest and the webhook dispatcher paid it on
//! nearly every transaction.
//!
//! Until a fixed sqlx is released, each new pooled connection sweeps this process's sockets
//! and sets the option on those connected to the database's port. The socket is reached
//! through a duplicate of its descriptor (`pidfd_getfd` on our own process): a socket option
//! belongs to the socket, so setting it on the duplicate sets it for sqlx's descriptor, and no
//! unsafe code is needed. Where that is refused (kernels before 5.6, a seccomp policy), the
//! connection keeps Nagle and statements stay small instead (see
//! [`super::statement_bytes`]). Remove this module when sqlx sets the option itself.

/// Sets `TCP_NODELAY` on every TCP socket of this process whose peer port is `port` and
/// that does not have it yet; returns how many it set, or why the sockets cannot be reached.
pub fn set_on_sockets_to(port: u16) -> std::io::Result<usize> {
    #[cfg(target_os = "linux")]
    {
        use rustix::net::sockopt;
        let mut set = 0;
        each_socket_to(port, |socket| {
            if !sockopt::tcp_nodelay(&socket).unwrap_or(true)
                && sockopt::set_tcp_nodelay(&socket, true).is_ok()
            {
                set += 1;
            }
        })?;
        Ok(set)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = port;
        Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
    }
}

/// Calls `f` with a duplicate descriptor of each socket of this process whose peer port is
/// `port`. Fails when descriptors cannot be duplicated at all (no `pidfd_getfd` before Linux
/// 5.6, or a seccomp policy refusing it).
#[cfg(target_os = "linux")]
fn each_socket_to(port: u16, mut f: impl FnMut(rustix::fd::OwnedFd)) -> std::io::Result<()> {
    use rustix::io::Errno;
    use rustix::process::{PidfdFlags, PidfdGetfdFlags, getpid, pidfd_getfd, pidfd_open};

    let pidfd = pidfd_open(getpid(), PidfdFlags::empty())?;
    for entry in std::fs::read_dir("/proc/self/fd")?.flatten() {
        let is_socket = std::fs::read_link(entry.path()).is_ok_and(|target| {
            target
                .as_os_str()
                .as_encoded_bytes()
                .starts_with(b"socket:")
        });
        let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        if !is_socket {
            continue;
        }
        let dup = match pidfd_getfd(&pidfd, fd, PidfdGetfdFlags::empty()) {
            Ok(dup) => dup,
            // Closed since the listing: nothing to do.
            Err(Errno::BADF) => continue,
            Err(e) => return Err(e.into()),
        };
        let peer = rustix::net::getpeername(&dup)
            .ok()
            .flatten()
            .and_then(|a| std::net::SocketAddr::try_from(a).ok());
        if peer.is_some_and(|p| p.port() == port) {
            f(dup);
        }
    }
    Ok(())
}

/// `TCP_NODELAY` of each socket of this process connected to `port`.
#[cfg(all(test, target_os = "linux"))]
pub(super) fn nodelay_of_sockets_to(port: u16) -> Vec<bool> {
    let mut out = Vec::new();
    each_socket_to(port, |socket| {
        out.push(rustix::net::sockopt::tcp_nodelay(&socket).unwrap_or(false));
    })
    .expect("sockets reachable");
    out
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn sets_the_option_on_sockets_to_the_port_only() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let other = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut to_db = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let to_other = TcpStream::connect(other.local_addr().unwrap()).unwrap();
        assert!(!to_db.nodelay().unwrap());
        assert!(super::set_on_sockets_to(port).unwrap() >= 1);
        assert!(
            to_db.nodelay().unwrap(),
            "the socket to the port has TCP_NODELAY"
        );
        assert!(!to_other.nodelay().unwrap(), "other sockets are left alone");
        // The original descriptor still works after its duplicate was closed.
        to_db.write_all(b"ping").unwrap();
        // A second sweep finds nothing left to do.
        assert_eq!(super::set_on_sockets_to(port).unwrap(), 0);
    }
}
