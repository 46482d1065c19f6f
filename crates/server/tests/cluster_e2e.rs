//! Three Portcullis nodes on one PostgreSQL database (a private one, see
//! `portcullis_postgres::testing`), each a real server on 127.0.0.1 with its own data
//! directory and the first node's master key: a change made on one node reaches the others'
//! decisions within a second; concurrent writers on different nodes never both win a name,
//! never exceed a quota together and never lose each other's updates; the snapshots
//! converge; the audit trail is one chain that verifies.

mod common;

use std::time::{Duration, Instant};

use common::*;
use portcullis_server::{Limits, RunningServer, StoreLocation, start};

struct Nodes {
    nodes: Vec<RunningServer>,
    dirs: Vec<tempfile::TempDir>,
    url: String,
}

impl Nodes {
    async fn start(name: &str, count: usize, limits: Limits) -> Nodes {
        let url = portcullis_postgres::testing::database_for(&format!(
            "cluster-{name}-{}",
            std::process::id()
        ))
        .expect("a PostgreSQL server for tests");
        let mut dirs = Vec::new();
        let mut nodes = Vec::new();
        for _ in 0..count {
            let dir = tempfile::tempdir().expect("dir");
            let mut config = test_config(dir.path());
            config.store = StoreLocation::Postgres(url.clone());
            config.limits = limits;
            // The nodes share the first node's master key (never stored in the database).
            if let Some(first) = dirs.first() {
                let first: &tempfile::TempDir = first;
                config.master_key_file = Some(first.path().join("master.key"));
            }
            nodes.push(start(config).await.expect("node starts"));
            dirs.push(dir);
        }
        Nodes { nodes, dirs, url }
    }

    fn root(&self, i: usize) -> aws_sdk_iam::Client {
        iam_at(
            &format!("http://{}", self.nodes[i].local_addr),
            ROOT_KEY,
            ROOT_SECRET,
        )
    }

    /// Waits (2 s at most) until every node's snapshot is the same; returns how long it took.
    async fn converged(&self) -> Duration {
        let began = Instant::now();
        loop {
            let digests: Vec<String> = self.nodes.iter().map(|n| n.state_digest()).collect();
            if digests.iter().all(|d| *d == digests[0]) {
                return began.elapsed();
            }
            assert!(
                began.elapsed() < Duration::from_secs(2),
                "the nodes did not converge"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Stops every node; returns their data directories.
    async fn stop(self) -> Vec<tempfile::TempDir> {
        for node in self.nodes {
            node.shutdown().await;
        }
        self.dirs
    }
}

/// Waits until `user` exists on node `i`; returns how long it took (fails after 1 s: the
/// cluster's bound).
async fn visible(nodes: &Nodes, i: usize, user: &str) -> Duration {
    let began = Instant::now();
    loop {
        if nodes
            .root(i)
            .get_user()
            .user_name(user)
            .send()
            .await
            .is_ok()
        {
            return began.elapsed();
        }
        assert!(
            began.elapsed() < Duration::from_secs(1),
            "{user} made on another node was not visible on node {i} within 1 s"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_one_node_reaches_the_decisions_of_the_others_within_a_second() {
    let nodes = Nodes::start("reach", 3, Limits::default()).await;
    let a = nodes.root(0);
    a.create_user().user_name("ann").send().await.unwrap();
    for i in [1, 2] {
        visible(&nodes, i, "ann").await;
    }
    // A key made on node 1 signs on node 2; a policy attached on node 0 allows there.
    let key = nodes
        .root(1)
        .create_access_key()
        .user_name("ann")
        .send()
        .await
        .unwrap();
    let key = key.access_key().unwrap();
    let ann_on_2 = || {
        iam_at(
            &format!("http://{}", nodes.nodes[2].local_addr),
            key.access_key_id(),
            key.secret_access_key(),
        )
    };
    let began = Instant::now();
    loop {
        let r = ann_on_2().list_users().send().await;
        match common::error_code(r).0.as_str() {
            "AccessDenied" => break,
            _ if began.elapsed() < Duration::from_secs(1) => {
                tokio::time::sleep(Duration::from_millis(2)).await
            }
            other => panic!("the key made on node 1 is not known on node 2: {other}"),
        }
    }
    a.put_user_policy()
        .user_name("ann")
        .policy_name("list")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*"}]}"#,
        )
        .send()
        .await
        .unwrap();
    let began = Instant::now();
    while ann_on_2().list_users().send().await.is_err() {
        assert!(
            began.elapsed() < Duration::from_secs(1),
            "the policy put on node 0 did not allow on node 2 within 1 s"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // A deletion too.
    nodes
        .root(2)
        .delete_user_policy()
        .user_name("ann")
        .policy_name("list")
        .send()
        .await
        .unwrap();
    let began = Instant::now();
    while iam_at(
        &format!("http://{}", nodes.nodes[0].local_addr),
        key.access_key_id(),
        key.secret_access_key(),
    )
    .list_users()
    .send()
    .await
    .is_ok()
    {
        assert!(
            began.elapsed() < Duration::from_secs(1),
            "the deletion did not reach node 0"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    nodes.converged().await;
    nodes.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_on_different_nodes_keep_names_quotas_and_each_others_updates() {
    let limits = Limits {
        max_users: 12,
        ..Limits::default()
    };
    let nodes = Nodes::start("race", 3, limits).await;
    nodes
        .root(0)
        .create_group()
        .group_name("team")
        .send()
        .await
        .unwrap();
    // The same five names created at once on all three nodes: each name has one winner.
    let mut racing = Vec::new();
    for i in 0..3 {
        let client = nodes.root(i);
        racing.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for n in 0..5 {
                let r = client
                    .create_user()
                    .user_name(format!("Same{n}"))
                    .send()
                    .await;
                outcomes.push(match r {
                    Ok(_) => "won".to_owned(),
                    Err(e) => common::error_code::<_, ()>(Err(e)).0,
                });
            }
            outcomes
        }));
    }
    let mut won = [0; 5];
    for task in racing {
        for (n, outcome) in task.await.unwrap().iter().enumerate() {
            match outcome.as_str() {
                "won" => won[n] += 1,
                "EntityAlreadyExists" => {}
                other => panic!("unexpected {other}"),
            }
        }
    }
    assert_eq!(won, [1; 5], "each name has exactly one winner");

    // Racing the quota (12 users, 5 exist): 3 nodes each try 4 more; exactly 7 win.
    let mut racing = Vec::new();
    for i in 0..3 {
        let client = nodes.root(i);
        racing.push(tokio::spawn(async move {
            let mut wins = 0;
            for n in 0..4 {
                let r = client
                    .create_user()
                    .user_name(format!("q{i}-{n}"))
                    .send()
                    .await;
                match r {
                    Ok(_) => wins += 1,
                    Err(e) => assert_eq!(common::error_code::<_, ()>(Err(e)).0, "LimitExceeded"),
                }
            }
            wins
        }));
    }
    let mut wins = 0;
    for task in racing {
        wins += task.await.unwrap();
    }
    assert_eq!(wins, 7, "the quota holds across nodes");

    // Every node adds its users to the one group at once: no membership is lost.
    let users = nodes.root(0).list_users().send().await.unwrap();
    let names: Vec<String> = users
        .users()
        .iter()
        .map(|u| u.user_name().to_owned())
        .collect();
    assert_eq!(names.len(), 12);
    let mut adding = Vec::new();
    for (k, name) in names.iter().enumerate() {
        let client = nodes.root(k % 3);
        let name = name.clone();
        adding.push(tokio::spawn(async move {
            client
                .add_user_to_group()
                .group_name("team")
                .user_name(name)
                .send()
                .await
                .expect("added")
        }));
    }
    for task in adding {
        task.await.unwrap();
    }
    let took = nodes.converged().await;
    for i in 0..3 {
        let group = nodes
            .root(i)
            .get_group()
            .group_name("team")
            .send()
            .await
            .unwrap();
        assert_eq!(group.users().len(), 12, "node {i} lost a membership");
    }
    assert!(took < Duration::from_secs(1), "converged in {took:?}");

    // The trail is one chain holding every node's events, and it verifies (links and the
    // digests the nodes signed).
    let url = nodes.url.clone();
    let dirs = nodes.stop().await;
    let key_file = dirs[0].path().join("master.key");
    let store = portcullis_postgres::PostgresStore::connect(&url).expect("store");
    let master_key =
        portcullis_server::iam::seal::MasterKey::load_or_create(&key_file).expect("master key");
    let public = portcullis_server::iam::trail::public_key(&store, &master_key)
        .expect("read")
        .expect("a signing key");
    let report = portcullis_server::iam::trail::verify(&store, &public).expect("intact");
    assert!(report.events > 40, "{report:?}");
    assert!(
        report.digests >= 3,
        "every node signed at shutdown: {report:?}"
    );
}

/// GetSessionToken with an MFA code on node `i`: the error code, or `None` for a session.
async fn sign_in_on(
    nodes: &Nodes,
    i: usize,
    key: &(String, String),
    serial: &str,
    code: &str,
) -> Option<String> {
    let config = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .endpoint_url(format!("http://{}", nodes.nodes[i].local_addr))
        .region(aws_sdk_sts::config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            &key.0, &key.1, None, None, "test",
        ))
        .build();
    let sts = aws_sdk_sts::Client::from_conf(config);
    match sts
        .get_session_token()
        .serial_number(serial)
        .token_code(code)
        .send()
        .await
    {
        Ok(_) => None,
        Err(e) => Some(
            aws_sdk_sts::error::ProvideErrorMetadata::code(&e)
                .unwrap_or("(none)")
                .to_owned(),
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mfa_code_is_accepted_once_and_wrong_codes_lock_the_device_on_every_node() {
    let nodes = Nodes::start("mfa", 3, Limits::default()).await;
    let root = nodes.root(0);
    root.create_user().user_name("mo").send().await.unwrap();
    let created = root
        .create_access_key()
        .user_name("mo")
        .send()
        .await
        .unwrap();
    let created = created.access_key().unwrap();
    let key = (
        created.access_key_id().to_owned(),
        created.secret_access_key().to_owned(),
    );
    let device = root
        .create_virtual_mfa_device()
        .virtual_mfa_device_name("mo-phone")
        .send()
        .await
        .unwrap();
    let device = device.virtual_mfa_device().unwrap();
    let serial = device.serial_number().to_owned();
    let seed = String::from_utf8(device.base32_string_seed().unwrap().as_ref().to_vec()).unwrap();
    let totp = totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        0,
        30,
        totp_rs::Secret::Encoded(seed).to_bytes().unwrap(),
    )
    .unwrap();
    let code = |offset: i64| totp.generate((now_step() as i64 + offset) as u64 * 30);
    root.enable_mfa_device()
        .user_name("mo")
        .serial_number(&serial)
        .authentication_code1(code(-2))
        .authentication_code2(code(-1))
        .send()
        .await
        .unwrap();
    nodes.converged().await;

    // The current code signs in once, on node 1; replayed on node 2 it is refused.
    assert_eq!(sign_in_on(&nodes, 1, &key, &serial, &code(0)).await, None);
    nodes.converged().await;
    assert_eq!(
        sign_in_on(&nodes, 2, &key, &serial, &code(0))
            .await
            .as_deref(),
        Some("AccessDenied"),
        "a code used on node 1 was accepted again on node 2"
    );

    // Ten wrong codes spread over the nodes lock the device everywhere: even the next right
    // code is refused on each node.
    let near: Vec<String> = (-4..=4).map(code).collect();
    let wrong = (0..)
        .map(|n| format!("{:06}", 123_456 + n))
        .find(|c| !near.contains(c))
        .unwrap();
    for i in 0..10 {
        assert_eq!(
            sign_in_on(&nodes, i % 3, &key, &serial, &wrong)
                .await
                .as_deref(),
            Some("AccessDenied")
        );
    }
    for i in 0..3 {
        assert_eq!(
            sign_in_on(&nodes, i, &key, &serial, &code(1))
                .await
                .as_deref(),
            Some("AccessDenied"),
            "node {i} accepted a code of a locked device"
        );
    }
    nodes.stop().await;
}
