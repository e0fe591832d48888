use super::*;

pub(super) fn row(id: i64, key: &str) -> webhook_delivery::Model {
    let now = Utc::now();
    webhook_delivery::Model {
        id,
        uuid: Uuid::new_v4(),
        tenant_id: 1,
        instance_id: 1,
        instance_uuid: Uuid::nil(),
        endpoint_id: 1,
        event: "message.received".into(),
        ordering_key: key.into(),
        payload: "{}".into(),
        status: PENDING.into(),
        attempts: 0,
        next_attempt_at: now,
        leased_until: None,
        lease_owner: None,
        last_status_code: None,
        last_error: None,
        last_latency_ms: None,
        created_at: now,
        delivered_at: None,
        updated_at: now,
    }
}

#[test]
fn streams_keep_order_and_stop_at_a_delivery_held_elsewhere() {
    let candidates = vec![
        row(1, "a"),
        row(2, "b"),
        row(3, "a"),
        row(4, "a"),
        row(5, "b"),
    ];
    let owned = [1, 2, 4, 5].into_iter().collect();
    let (streams, lost) = into_streams(candidates, &owned);
    let ids: Vec<Vec<i64>> = streams
        .iter()
        .map(|s| s.iter().map(|d| d.id).collect())
        .collect();
    assert_eq!(ids, vec![vec![1], vec![2, 5]]);
    assert_eq!(lost, vec![4], "4 must wait for 3, which someone else holds");
}

#[test]
fn ranked_streams_stop_at_a_place_won_elsewhere() {
    // Stream a: places 1, 2, 4 (3 went to another replica); stream b: place 2 only.
    let won = vec![
        (row(4, "a"), 4),
        (row(1, "a"), 1),
        (row(2, "a"), 2),
        (row(7, "b"), 2),
        (row(3, "c"), 1),
    ];
    let (streams, lost) = ranked_streams(won);
    let ids: Vec<Vec<i64>> = streams
        .iter()
        .map(|s| s.iter().map(|d| d.id).collect())
        .collect();
    assert_eq!(ids, vec![vec![1, 2], vec![3]]);
    lost.iter().for_each(|id| assert!([4, 7].contains(id)));
    assert_eq!(lost.len(), 2);
}

#[test]
fn postgres_placeholders_are_numbered() {
    assert_eq!(
        placeholders(DbBackend::Postgres, "a = ? AND b IN (?, ?)"),
        "a = $1 AND b IN ($2, $3)"
    );
    assert_eq!(placeholders(DbBackend::Sqlite, "a = ?"), "a = ?");
}
