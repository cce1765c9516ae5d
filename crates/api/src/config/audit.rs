//! Audit log settings.

use super::setting::settings;

settings! {
    /// Recording and keeping the audit log.
    pub struct AuditConfig {
        pub enabled: bool {
            env: "CRUST_AUDIT_ENABLED",
            default: Is("true"),
            doc: "Record the audit log. Turning it off exists only to measure what auditing costs (`crust bench` runs a server with it off). **Off is refused in prod.**",
        },
        pub retention_days: u32 {
            env: "CRUST_AUDIT_RETENTION_DAYS",
            default: Is("90"),
            range: 1..,
            doc: "After this many days, `crust audit prune` pseudonymizes the client IP and user agent of audit events.",
        },
    }
}
