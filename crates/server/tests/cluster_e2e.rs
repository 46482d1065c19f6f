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
