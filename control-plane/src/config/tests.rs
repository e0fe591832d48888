// figment's Jail returns its large error type by design.
#![allow(clippy::result_large_err)]

use super::*;
use figment::Jail;

fn load_in_jail() -> Result<Config, ConfigError> {
    let figment = Figment::from(Serialized::defaults(RawConfig::default()))
        .merge(Env::prefixed("ZAPINI_"))
        .merge(Env::raw().only(&["DATABASE_URL", "REDIS_URL"]));
    Config::from_figment(figment)
}

#[test]
fn defaults_are_the_documented_ones() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        let c = load_in_jail().unwrap();
        assert_eq!(c.http_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(c.grpc_addr.to_string(), "127.0.0.1:9090");
        assert_eq!(c.base_domain, "localhost");
        assert!(
            matches!(c.database, DatabaseTarget::Sqlite(ref p) if p == &PathBuf::from("./data/zapini.db"))
        );
        assert!(c.redis_url.is_none());
        assert_eq!(c.rate_limit_requests, 100);
        assert_eq!(c.rate_limit_window_secs, 900);
        assert!(!c.allow_private_urls && !c.webhooks.allow_http);
        assert_eq!(
            c.webhooks.retry_schedule,
            [0, 5, 300, 1800, 7200, 18000, 36000, 36000].map(std::time::Duration::from_secs)
        );
        assert_eq!(c.webhooks.timeout, std::time::Duration::from_secs(5));
        assert_eq!(c.default_engine, "whatsapp");
        assert_eq!(
            c.media.url_ttl,
            std::time::Duration::from_secs(7 * 24 * 3600)
        );
        assert_eq!(c.tenancy.quota_instances, 100);
        assert_eq!(c.tenancy.quota_instance_tokens, 1000);
        assert_eq!(c.tenancy.quota_media_bytes, 10 << 30);
        assert_eq!(c.tenancy.tenant_rate_limit_requests, 1000);
        assert_eq!(c.tenancy.login_concurrency, 4);
        assert!(c.tenancy.trusted_proxies.is_empty());
        assert_eq!(c.webhooks.tenant_concurrency, 128);
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("ZAPINI_MEDIA_URL_TTL_SECS", "3600");
        let c = load_in_jail().unwrap();
        assert_eq!(c.media.url_ttl, std::time::Duration::from_secs(3600));
        jail.set_env("ZAPINI_QUOTA_INSTANCES", "3");
        jail.set_env("ZAPINI_TRUSTED_PROXIES", "10.0.0.0/8, ::1");
        let c = load_in_jail().unwrap();
        assert_eq!(c.tenancy.quota_instances, 3);
        assert_eq!(c.tenancy.trusted_proxies.len(), 2);
        // A tenant's webhook share follows the overall concurrency unless set.
        jail.set_env("ZAPINI_WEBHOOK_CONCURRENCY", "40");
        assert_eq!(load_in_jail().unwrap().webhooks.tenant_concurrency, 20);
        jail.set_env("ZAPINI_WEBHOOK_TENANT_CONCURRENCY", "7");
        assert_eq!(load_in_jail().unwrap().webhooks.tenant_concurrency, 7);
        jail.set_env("ZAPINI_WEBHOOK_TENANT_CONCURRENCY", "0");
        assert!(load_in_jail().is_err());
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("ZAPINI_DEFAULT_ENGINE", "sandbox");
        assert_eq!(load_in_jail().unwrap().default_engine, "sandbox");
        Ok(())
    });
}

#[test]
fn bad_settings_are_named() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("ZAPINI_HTTP_ADDR", "not-an-address");
        let err = load_in_jail().unwrap_err();
        assert_eq!(err.setting, "ZAPINI_HTTP_ADDR");
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("DATABASE_URL", "mysql://x");
        assert_eq!(load_in_jail().unwrap_err().setting, "DATABASE_URL");
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("ZAPINI_RATE_LIMIT_REQUESTS", "lots");
        assert_eq!(
            load_in_jail().unwrap_err().setting,
            "ZAPINI_RATE_LIMIT_REQUESTS"
        );
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("ZAPINI_TLS_CERT", "/nonexistent.pem");
        assert_eq!(load_in_jail().unwrap_err().setting, "ZAPINI_TLS_KEY");
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("ZAPINI_ADMIN_PASSWORD", "short");
        assert_eq!(load_in_jail().unwrap_err().setting, "ZAPINI_ADMIN_PASSWORD");
        Ok(())
    });
    for (name, value) in [
        ("ZAPINI_WEBHOOK_RETRY_SCHEDULE", "0,soon"),
        ("ZAPINI_WEBHOOK_RETRY_SCHEDULE", ""),
        ("ZAPINI_SECRET_KEY", "too-short"),
        ("ZAPINI_WEBHOOK_TIMEOUT_SECS", "0"),
        ("ZAPINI_DEFAULT_ENGINE", "telegram"),
        ("ZAPINI_MEDIA_URL_TTL_SECS", "0"),
        ("ZAPINI_TRUSTED_PROXIES", "10.0.0.0/40"),
        ("ZAPINI_LOGIN_CONCURRENCY", "0"),
        ("ZAPINI_WEBHOOK_TENANT_CONCURRENCY", "0"),
    ] {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env(name, value);
            assert_eq!(load_in_jail().unwrap_err().setting, name);
            Ok(())
        });
    }
}

#[test]
fn postgres_and_empty_urls() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("DATABASE_URL", "postgres://root@127.0.0.1/test");
        jail.set_env("REDIS_URL", "");
        let c = load_in_jail().unwrap();
        assert!(matches!(c.database, DatabaseTarget::Postgres(_)));
        assert!(c.redis_url.is_none());
        Ok(())
    });
}
