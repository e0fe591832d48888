//! The data directory belongs to the service's user: secrets, the SQLite database and the
//! media and node directories are created private, and a start narrows what was left wider.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use control_plane::config::DatabaseTarget;

use crate::helpers::{apply_env, spawn_with_config, test_config};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[tokio::test]
async fn a_fresh_data_directory_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut config = test_config(&data);
    apply_env(&mut config).await;
    // Generated and kept in the data directory, not configured.
    config.node_secret = None;
    config.secret_key = None;
    let sqlite = matches!(config.database, DatabaseTarget::Sqlite(_));
    let app = spawn_with_config(config, dir).await;
    assert_eq!(mode(&data), 0o700);
    for name in ["node_secret", "secret_key"] {
        assert_eq!(mode(&data.join(name)), 0o600, "{name}");
    }
    assert_eq!(mode(&data.join("media")), 0o700);
    if sqlite {
        // A login writes, so the write-ahead log and its index exist.
        app.login().await;
        for name in ["zapini.db", "zapini.db-wal", "zapini.db-shm"] {
            assert_eq!(mode(&data.join(name)), 0o600, "{name}");
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn a_start_narrows_what_was_left_wider() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for sub in ["nodes", "media"] {
        std::fs::create_dir_all(data.join(sub)).unwrap();
        set_mode(&data.join(sub), 0o755);
    }
    set_mode(&data, 0o755);
    std::fs::write(data.join("node_secret"), "an-old-node-secret-0123456789").unwrap();
    std::fs::write(
        data.join("secret_key"),
        "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    )
    .unwrap();
    std::fs::write(data.join("zapini.db"), b"").unwrap();
    for name in ["node_secret", "secret_key", "zapini.db"] {
        set_mode(&data.join(name), 0o644);
    }
    let mut config = test_config(&data);
    apply_env(&mut config).await;
    config.node_secret = None;
    config.secret_key = None;
    let sqlite = matches!(config.database, DatabaseTarget::Sqlite(_));
    let app = spawn_with_config(config, dir).await;
    for d in [&data, &data.join("nodes"), &data.join("media")] {
        assert_eq!(mode(d), 0o700, "{}", d.display());
    }
    for name in ["node_secret", "secret_key"] {
        assert_eq!(mode(&data.join(name)), 0o600, "{name}");
    }
    if sqlite {
        assert_eq!(mode(&data.join("zapini.db")), 0o600);
    }
    // The kept secrets were read, not replaced.
    assert_eq!(
        std::fs::read_to_string(data.join("node_secret")).unwrap(),
        "an-old-node-secret-0123456789"
    );
    app.stop().await;
}
