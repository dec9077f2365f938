//! Fault points for crash tests: with the `fault-injection` feature (test builds only), the
//! environment variable `RAPPORT_FAULT` names points and what happens there, e.g.
//! `RAPPORT_FAULT=idempotency:committed=abort` ends the process at once right after a keyed
//! write committed (as a SIGKILL would), `…=sleep:500` holds the request there for 500 ms.
//! Without the feature every point is an empty inline function.

/// Where the request is; see the call sites for what each name means.
#[cfg(feature = "fault-injection")]
pub async fn point(name: &str) {
    use std::sync::OnceLock;
    static PLAN: OnceLock<Vec<(String, String)>> = OnceLock::new();
    let plan = PLAN.get_or_init(|| {
        std::env::var("RAPPORT_FAULT")
            .unwrap_or_default()
            .split(',')
            .filter_map(|p| p.split_once('='))
            .map(|(point, action)| (point.trim().to_owned(), action.trim().to_owned()))
            .collect()
    });
    for (point, action) in plan {
        if point != name {
            continue;
        }
        if action == "abort" {
            tracing::warn!(point = name, "fault injected: aborting the process");
            std::process::abort();
        }
        if let Some(ms) = action
            .strip_prefix("sleep:")
            .and_then(|ms| ms.parse::<u64>().ok())
        {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
    }
}

#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub async fn point(_name: &str) {}
