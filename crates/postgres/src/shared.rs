//! Facts every node must share for the bounds on guessing to hold across the cluster
//! (`shared_counters`, one row per scope and key): an MFA device's consecutive wrong codes
//! and the time of the last, a user's password verifications in the current minute, and the
//! one-time tokens already redeemed (a SAML assertion's ID). Each is one atomic statement, so
//! nodes counting at once never lose a count.

use deadpool_postgres::GenericClient;
use portcullis_iam::store::StoreError;

use crate::pg_error;

const MFA: &str = "mfa";
const PASSWORD: &str = "password";

/// The device's consecutive wrong codes that still count, and whether it is locked now.
pub(crate) async fn mfa_state(
    client: &impl GenericClient,
    device: &str,
    now_ms: i64,
    max: u32,
    lockout_ms: i64,
) -> Result<(u32, bool), StoreError> {
    let row = client
        .query_opt(
            "SELECT count, stamp_ms FROM shared_counters WHERE scope = $1 AND key = $2",
            &[&MFA, &device],
        )
        .await
        .map_err(pg_error)?;
    let Some(row) = row else {
        return Ok((0, false));
    };
    let count: i32 = row.try_get(0).map_err(pg_error)?;
    let last: i64 = row.try_get(1).map_err(pg_error)?;
    let count = u32::try_from(count).unwrap_or(0);
    if count >= max {
        // Locked for `lockout` after the failure that reached the bound; then counted anew.
        return Ok(if now_ms - last < lockout_ms {
            (count, true)
        } else {
            (0, false)
        });
    }
    Ok((count, false))
}

/// Counts a wrong code of the device (a lock that has run out starts the count again), or
/// clears its count after a right one.
pub(crate) async fn mfa_result(
    client: &impl GenericClient,
    device: &str,
    failed: bool,
    now_ms: i64,
    max: u32,
    lockout_ms: i64,
) -> Result<(), StoreError> {
    if failed {
        let max = i32::try_from(max).unwrap_or(i32::MAX);
        client
            .execute(
                "INSERT INTO shared_counters (scope, key, count, stamp_ms) VALUES ($1, $2, 1, $3)
                 ON CONFLICT (scope, key) DO UPDATE SET
                    count = CASE WHEN shared_counters.count >= $4
                                  AND $3 - shared_counters.stamp_ms >= $5
                                 THEN 1 ELSE shared_counters.count + 1 END,
                    stamp_ms = $3",
                &[&MFA, &device, &now_ms, &max, &lockout_ms],
            )
            .await
            .map_err(pg_error)?;
    } else {
        client
            .execute(
                "DELETE FROM shared_counters WHERE scope = $1 AND key = $2",
                &[&MFA, &device],
            )
            .await
            .map_err(pg_error)?;
    }
    Ok(())
}

/// Counts one password verification of the user; returns how many this window holds,
/// this one included (a window is a minute from its first verification).
pub(crate) async fn password_check(
    client: &impl GenericClient,
    user: &str,
    now_ms: i64,
    window_ms: i64,
) -> Result<u32, StoreError> {
    let row = client
        .query_one(
            "INSERT INTO shared_counters (scope, key, count, stamp_ms) VALUES ($1, $2, 1, $3)
             ON CONFLICT (scope, key) DO UPDATE SET
                count = CASE WHEN $3 - shared_counters.stamp_ms >= $4
                             THEN 1 ELSE shared_counters.count + 1 END,
                stamp_ms = CASE WHEN $3 - shared_counters.stamp_ms >= $4
                                THEN $3 ELSE shared_counters.stamp_ms END
             RETURNING count",
            &[&PASSWORD, &user, &now_ms, &window_ms],
        )
        .await
        .map_err(pg_error)?;
    let count: i32 = row.try_get(0).map_err(pg_error)?;
    Ok(u32::try_from(count).unwrap_or(u32::MAX))
}

/// Records the token `key` of `scope` as redeemed until `until_ms`; `false` when it was
/// redeemed before and has not run out. Now and then forgets what ran out a day ago.
pub(crate) async fn redeem_once(
    client: &impl GenericClient,
    scope: &str,
    key: &str,
    until_ms: i64,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let row = client
        .query_opt(
            "INSERT INTO shared_counters (scope, key, count, stamp_ms) VALUES ($1, $2, 0, $3)
             ON CONFLICT (scope, key) DO UPDATE SET stamp_ms = excluded.stamp_ms
                WHERE shared_counters.stamp_ms < $4
             RETURNING 1",
            &[&scope, &key, &until_ms, &now_ms],
        )
        .await
        .map_err(pg_error)?;
    if now_ms % 64 == 0 {
        client
            .execute(
                "DELETE FROM shared_counters WHERE stamp_ms < $1",
                &[&(now_ms - 24 * 3600 * 1000)],
            )
            .await
            .map_err(pg_error)?;
    }
    Ok(row.is_some())
}
