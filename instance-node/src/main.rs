//! `instance-node` binary: one WhatsApp session and its Instance API.
//!
//! Configuration comes from `ZAPINI_*` environment variables (see `config.rs`). Exit codes:
//! 0 after SIGINT/SIGTERM, 1 for a runtime failure, 2 for invalid configuration (the message
//! names the setting), 3 when another node holds the instance's lease, 4 when the control
//! plane does not know the instance.
#![forbid(unsafe_code)]

use instance_node::{NodeApp, NodeConfig, NodeListeners, RegistrationRefused};
use tracing_subscriber::EnvFilter;

fn main() {
    let config = match NodeConfig::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("instance-node: {e}");
            std::process::exit(2);
        }
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.worker_threads)
        .max_blocking_threads(16)
        .thread_keep_alive(std::time::Duration::from_secs(10))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("instance-node: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let exit_with_parent = config.exit_with_parent;
    let code = runtime.block_on(async move {
        let result = async {
            let listeners = NodeListeners::bind(&config)?;
            let app = NodeApp::build(config, listeners)?;
            tracing::info!(http = %app.http_addr(), grpc = %app.grpc_addr(), "instance node listening");
            app.run(shutdown_signal(exit_with_parent)).await
        }
        .await;
        match result {
            Ok(()) => 0,
            Err(e) => match e.downcast_ref::<RegistrationRefused>() {
                Some(refused) => {
                    eprintln!("instance-node: {refused}");
                    refused.exit_code()
                }
                None => {
                    eprintln!("instance-node: {e:#}");
                    if format!("{e:#}").contains("invalid configuration") {
                        2
                    } else {
                        1
                    }
                }
            },
        }
    });
    std::process::exit(code);
}

/// Resolves when the parent process is gone. A launcher that gives us a pipe as stdin (the
/// control plane's `process` launcher does) holds its write end until it dies, so the end of
/// stdin is the parent's death, seen at once; otherwise the parent pid is polled, 5 times a
/// second, for a change (we were re-parented).
async fn parent_gone() {
    #[cfg(unix)]
    {
        let parent = std::os::unix::process::parent_id();
        // Already adopted by init: the parent died before we looked.
        if parent == 1 {
            tracing::warn!("started without a living parent");
            return;
        }
        let pipe_closed = async {
            if stdin_is_pipe() {
                use tokio::io::AsyncReadExt;
                let mut stdin = tokio::io::stdin();
                let mut buf = [0u8; 64];
                // Whatever the launcher writes is ignored; only the end matters.
                while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
            } else {
                std::future::pending::<()>().await;
            }
        };
        let reparented = async {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                if std::os::unix::process::parent_id() != parent {
                    return;
                }
            }
        };
        tokio::select! {
            () = pipe_closed => {}
            () = reparented => {}
        }
        tracing::warn!(parent, "the process that started this node is gone");
    }
    #[cfg(not(unix))]
    std::future::pending::<()>().await
}

/// Whether stdin is a pipe (not a terminal or `/dev/null`, whose end means nothing).
#[cfg(unix)]
fn stdin_is_pipe() -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata("/dev/stdin").is_ok_and(|m| m.file_type().is_fifo())
}

async fn shutdown_signal(exit_with_parent: bool) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    let orphaned = async {
        if exit_with_parent {
            parent_gone().await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
        () = orphaned => {}
    }
    tracing::info!("shutting down");
}
