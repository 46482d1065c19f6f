//! Last-accessed data (the access advisor) end to end with the Rust SDK and boto3: a day of
//! attempts by users and a role session, allowed and denied, then the reports on a user, a
//! group, a role and a managed policy; ACTION_LEVEL detail, entities, paging, the policies
//! granting a service, bad input, and the data surviving a restart.

mod common;

use aws_sdk_iam::types::{AccessAdvisorUsageGranularityType as Granularity, ServiceLastAccessed};
use common::{ACCOUNT, ROOT_KEY, ROOT_SECRET, TestServer, error_code};

const ALICE: &str = r#"{"Version":"2012-10-17","Statement":[
    {"Sid":"Iam","Effect":"Allow","Action":["iam:GetUser","sts:AssumeRole"],"Resource":"*"},
    {"Sid":"Read","Effect":"Allow","Action":"s3:Get*","Resource":"*"}]}"#;
const DEV_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
    {"Effect":"Allow","Action":["s3:*","dynamodb:GetItem","iam:ListUsers"],"Resource":"*"}]}"#;
const APP_TRUST: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}}"#;
const APP_POLICY: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:ListRoles","Resource":"*"}}"#;

fn arn(kind: &str, name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:{kind}/{name}")
}

/// Generates the report on `arn` and reads all of it (following the marker, 2 at a time).
async fn report(
    iam: &aws_sdk_iam::Client,
    arn: &str,
    granularity: Granularity,
) -> (String, Vec<ServiceLastAccessed>) {
    let job = iam
        .generate_service_last_accessed_details()
        .arn(arn)
        .granularity(granularity.clone())
        .send()
        .await
        .expect("generate");
    let job_id = job.job_id().expect("job id").to_owned();
    assert_eq!(job_id.len(), 36);
    let mut services = Vec::new();
    let mut marker = None;
    loop {
        let page = iam
            .get_service_last_accessed_details()
            .job_id(&job_id)
            .max_items(2)
            .set_marker(marker)
            .send()
            .await
            .expect("get");
        assert_eq!(page.job_status().as_str(), "COMPLETED");
        assert_eq!(page.job_type(), Some(&granularity));
        assert!(page.job_completion_date().secs() >= page.job_creation_date().secs());
        services.extend(page.services_last_accessed().iter().cloned());
        if !page.is_truncated() {
            break;
        }
        marker = page.marker().map(str::to_owned);
    }
    (job_id, services)
}

fn service<'a>(services: &'a [ServiceLastAccessed], ns: &str) -> &'a ServiceLastAccessed {
    services
        .iter()
        .find(|s| s.service_namespace() == ns)
        .unwrap_or_else(|| panic!("{ns} in {services:?}"))
}

fn namespaces(services: &[ServiceLastAccessed]) -> Vec<&str> {
    services.iter().map(|s| s.service_namespace()).collect()
}

/// The fixture: alice (own policy + group devs), bob (group devs), the role app (assumed by
/// alice), the customer managed policy DevAccess attached to devs. Returns alice's and bob's
/// clients and alice's role session.
async fn fixture(
    server: &TestServer,
) -> (
    aws_sdk_iam::Client,
    aws_sdk_iam::Client,
    aws_sdk_iam::Client,
) {
    let root = server.root();
    let (ak, asecret) = server.user_keys("alice", Some(ALICE)).await;
    let (bk, bsecret) = server.user_keys("bob", None).await;
    root.create_group()
        .group_name("devs")
        .send()
        .await
        .expect("group");
    for user in ["alice", "bob"] {
        root.add_user_to_group()
            .group_name("devs")
            .user_name(user)
            .send()
            .await
            .expect("add to group");
    }
    let policy = root
        .create_policy()
        .policy_name("DevAccess")
        .policy_document(DEV_POLICY)
        .send()
        .await
        .expect("policy");
    let policy_arn = policy
        .policy()
        .and_then(|p| p.arn())
        .expect("arn")
        .to_owned();
    root.attach_group_policy()
        .group_name("devs")
        .policy_arn(&policy_arn)
        .send()
        .await
        .expect("attach");
    root.create_role()
        .role_name("app")
        .assume_role_policy_document(APP_TRUST)
        .send()
        .await
        .expect("role");
    root.put_role_policy()
        .role_name("app")
        .policy_name("list")
        .policy_document(APP_POLICY)
        .send()
        .await
        .expect("role policy");
    let session = server
        .sts(&ak, &asecret, None)
        .assume_role()
        .role_arn(arn("role", "app"))
        .role_session_name("job-1")
        .send()
        .await
        .expect("assume role");
    let c = session.credentials().expect("credentials");
    let app = server.iam_session(c.access_key_id(), c.secret_access_key(), c.session_token());
    (server.iam(&ak, &asecret), server.iam(&bk, &bsecret), app)
}

#[tokio::test]
async fn reports_list_the_granted_services_and_who_attempted_them() {
    let mut server = TestServer::start().await;
    let (alice, bob, app) = fixture(&server).await;
    let root = server.root();

    // The day's attempts: allowed and denied, by users and by the role's session.
    alice.get_user().send().await.expect("alice GetUser");
    let denied = alice.list_roles().send().await;
    assert_eq!(error_code(denied).0, "AccessDenied");
    bob.list_users()
        .send()
        .await
        .expect("bob ListUsers (through devs)");
    app.list_roles().send().await.expect("app ListRoles");

    // alice: her own policy and her group's; sorted by namespace, paged two at a time.
    let (_, services) = report(&root, &arn("user", "alice"), Granularity::ActionLevel).await;
    assert_eq!(namespaces(&services), ["dynamodb", "iam", "s3", "sts"]);
    let iam = service(&services, "iam");
    assert_eq!(
        iam.service_name(),
        "AWS Identity and Access Management (IAM)"
    );
    assert_eq!(
        iam.last_authenticated_entity(),
        Some(arn("user", "alice").as_str())
    );
    assert_eq!(iam.last_authenticated_region(), Some("us-east-1"));
    assert_eq!(iam.total_authenticated_entities(), Some(1));
    assert!(iam.last_authenticated().is_some());
    // Denied attempts count, as AWS documents; action names are AWS's.
    let actions: Vec<&str> = iam
        .tracked_actions_last_accessed()
        .iter()
        .filter_map(|a| a.action_name())
        .collect();
    assert_eq!(actions, ["GetUser", "ListRoles"]);
    let get_user = &iam.tracked_actions_last_accessed()[0];
    assert_eq!(
        get_user.last_accessed_entity(),
        Some(arn("user", "alice").as_str())
    );
    assert_eq!(get_user.last_accessed_region(), Some("us-east-1"));
    assert!(get_user.last_accessed_time().is_some());
    // sts: AssumeRole was attempted by alice.
    assert_eq!(
        service(&services, "sts").total_authenticated_entities(),
        Some(1)
    );
    // Granted but never attempted: listed without details.
    let s3 = service(&services, "s3");
    assert_eq!(s3.service_name(), "Amazon S3");
    assert!(s3.last_authenticated().is_none() && s3.last_authenticated_entity().is_none());
    assert_eq!(s3.total_authenticated_entities(), Some(0));
    assert!(s3.tracked_actions_last_accessed().is_empty());

    // SERVICE_LEVEL has no action detail.
    let (_, services) = report(&root, &arn("user", "alice"), Granularity::ServiceLevel).await;
    assert!(
        service(&services, "iam")
            .tracked_actions_last_accessed()
            .is_empty()
    );

    // The group: only its policy's services; both members attempted IAM, bob last.
    let (group_job, services) =
        report(&root, &arn("group", "devs"), Granularity::ServiceLevel).await;
    assert_eq!(namespaces(&services), ["dynamodb", "iam", "s3"]);
    let iam = service(&services, "iam");
    assert_eq!(iam.total_authenticated_entities(), Some(2));
    assert_eq!(
        iam.last_authenticated_entity(),
        Some(arn("user", "bob").as_str())
    );
    let entities = root
        .get_service_last_accessed_details_with_entities()
        .job_id(&group_job)
        .service_namespace("iam")
        .send()
        .await
        .expect("with entities");
    let names: Vec<&str> = entities
        .entity_details_list()
        .iter()
        .filter_map(|e| e.entity_info().map(|i| i.name()))
        .collect();
    assert_eq!(names, ["bob", "alice"], "most recent first");
    let info = entities.entity_details_list()[0]
        .entity_info()
        .expect("info");
    assert_eq!(info.r#type().as_str(), "USER");
    assert_eq!(info.arn(), arn("user", "bob"));
    assert!(info.id().starts_with("AIDA"));
    assert_eq!(info.path(), Some("/"));
    // A service the group does not grant has no entities.
    let none = root
        .get_service_last_accessed_details_with_entities()
        .job_id(&group_job)
        .service_namespace("ec2")
        .send()
        .await
        .expect("with entities");
    assert!(none.entity_details_list().is_empty());

    // The role: its session's attempts are the role's.
    let (_, services) = report(&root, &arn("role", "app"), Granularity::ActionLevel).await;
    assert_eq!(namespaces(&services), ["iam"]);
    let iam = service(&services, "iam");
    assert_eq!(
        iam.last_authenticated_entity(),
        Some(arn("role", "app").as_str())
    );
    let actions: Vec<&str> = iam
        .tracked_actions_last_accessed()
        .iter()
        .filter_map(|a| a.action_name())
        .collect();
    assert_eq!(actions, ["ListRoles"]);

    // The managed policy: every user holding it through the group.
    let policy_arn = format!("arn:aws:iam::{ACCOUNT}:policy/DevAccess");
    let (policy_job, services) = report(&root, &policy_arn, Granularity::ServiceLevel).await;
    assert_eq!(namespaces(&services), ["dynamodb", "iam", "s3"]);
    let entities = root
        .get_service_last_accessed_details_with_entities()
        .job_id(&policy_job)
        .service_namespace("s3")
        .send()
        .await
        .expect("with entities");
    assert_eq!(entities.entity_details_list().len(), 2);
    assert!(
        entities
            .entity_details_list()
            .iter()
            .all(|e| e.last_authenticated().is_none())
    );

    // The policies granting a service, for alice.
    let granting = root
        .list_policies_granting_service_access()
        .arn(arn("user", "alice"))
        .service_namespaces("s3")
        .service_namespaces("iam")
        .service_namespaces("ec2")
        .send()
        .await
        .expect("list policies granting");
    let entries = granting.policies_granting_service_access();
    assert_eq!(entries.len(), 3);
    let describe = |i: usize| -> Vec<String> {
        entries[i]
            .policies()
            .iter()
            .map(|p| {
                format!(
                    "{} {} {} {}",
                    p.policy_name(),
                    p.policy_type().as_str(),
                    p.policy_arn().unwrap_or("-"),
                    p.entity_name().unwrap_or("-")
                )
            })
            .collect()
    };
    assert_eq!(entries[0].service_namespace(), Some("s3"));
    assert_eq!(
        describe(0),
        [
            "inline INLINE - alice".to_owned(),
            format!("DevAccess MANAGED {policy_arn} -")
        ]
    );
    assert_eq!(describe(1).len(), 2);
    assert!(describe(2).is_empty());
    assert_eq!(
        entries[0].policies()[0].entity_type().map(|t| t.as_str()),
        Some("USER")
    );

    // What was recorded outlives the process.
    server.restart().await;
    let root = server.root();
    let (_, services) = report(&root, &arn("user", "alice"), Granularity::ActionLevel).await;
    let iam = service(&services, "iam");
    assert_eq!(iam.tracked_actions_last_accessed().len(), 2);
    assert_eq!(
        iam.last_authenticated_entity(),
        Some(arn("user", "alice").as_str())
    );
}

#[tokio::test]
async fn bad_input_gets_aws_errors_and_reports_need_permission() {
    let server = TestServer::start().await;
    let root = server.root();
    let (key, secret) = server.user_keys("carol", None).await;

    let r = root
        .generate_service_last_accessed_details()
        .arn(arn("user", "nobody"))
        .send()
        .await;
    assert_eq!(error_code(r), ("NoSuchEntity".to_owned(), 404));
    let r = root
        .generate_service_last_accessed_details()
        .arn("arn:aws:s3:::some-bucket-name")
        .send()
        .await;
    assert_eq!(error_code(r), ("InvalidInput".to_owned(), 400));
    let r = root
        .generate_service_last_accessed_details()
        .arn("arn:aws:iam::x")
        .send()
        .await;
    assert_eq!(error_code(r), ("ValidationError".to_owned(), 400));
    let r = root
        .get_service_last_accessed_details()
        .job_id("01234567-89ab-cdef-0123-456789abcdef")
        .send()
        .await;
    assert_eq!(error_code(r), ("NoSuchEntity".to_owned(), 404));
    let r = root
        .get_service_last_accessed_details()
        .job_id("short")
        .send()
        .await;
    assert_eq!(error_code(r), ("ValidationError".to_owned(), 400));
    let r = root
        .list_policies_granting_service_access()
        .arn(arn("user", "carol"))
        .service_namespaces("not a namespace")
        .send()
        .await;
    assert_eq!(error_code(r), ("ValidationError".to_owned(), 400));
    let r = root
        .list_policies_granting_service_access()
        .arn("arn:aws:iam::aws:policy/ReadOnlyAccess")
        .service_namespaces("s3")
        .send()
        .await;
    assert_eq!(error_code(r), ("InvalidInput".to_owned(), 400));

    // Without iam:GenerateServiceLastAccessedDetails on the user: AccessDenied; a job is the
    // account's, so another caller of the account with permission may read it.
    let carol = server.iam(&key, &secret);
    let r = carol
        .generate_service_last_accessed_details()
        .arn(arn("user", "carol"))
        .send()
        .await;
    assert_eq!(error_code(r).0, "AccessDenied");
    let job = root
        .generate_service_last_accessed_details()
        .arn(arn("user", "carol"))
        .send()
        .await
        .expect("generate");
    let r = carol
        .get_service_last_accessed_details()
        .job_id(job.job_id().expect("id"))
        .send()
        .await;
    assert_eq!(error_code(r).0, "AccessDenied");
    // carol has no policies: her report lists nothing.
    let got = root
        .get_service_last_accessed_details()
        .job_id(job.job_id().expect("id"))
        .send()
        .await
        .expect("get");
    assert!(got.services_last_accessed().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn boto3_reads_the_reports() {
    let server = TestServer::start().await;
    let (alice, _bob, _app) = fixture(&server).await;
    alice.get_user().send().await.expect("GetUser");
    let script = r#"
import boto3, datetime, os
iam = boto3.client("iam", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
                   aws_access_key_id=os.environ["KEY"], aws_secret_access_key=os.environ["SECRET"])
job = iam.generate_service_last_accessed_details(Arn=os.environ["ALICE"], Granularity="ACTION_LEVEL")["JobId"]
r = iam.get_service_last_accessed_details(JobId=job)
assert r["JobStatus"] == "COMPLETED" and r["JobType"] == "ACTION_LEVEL", r
assert isinstance(r["JobCreationDate"], datetime.datetime), r
by = {s["ServiceNamespace"]: s for s in r["ServicesLastAccessed"]}
iam_s = by["iam"]
assert isinstance(iam_s["LastAuthenticated"], datetime.datetime), iam_s
assert iam_s["TotalAuthenticatedEntities"] == 1, iam_s
actions = [a["ActionName"] for a in iam_s["TrackedActionsLastAccessed"]]
e = iam.get_service_last_accessed_details_with_entities(JobId=job, ServiceNamespace="iam")
who = [d["EntityInfo"]["Name"] for d in e["EntityDetailsList"]]
g = iam.list_policies_granting_service_access(Arn=os.environ["ALICE"], ServiceNamespaces=["dynamodb"])
granting = [p["PolicyName"] for p in g["PoliciesGrantingServiceAccess"][0]["Policies"]]
print(",".join(sorted(by)), ",".join(actions), ",".join(who), ",".join(granting))
"#;
    let alice_arn = arn("user", "alice");
    let Some(out) = tokio::task::block_in_place(|| {
        common::boto3(
            script,
            &server.endpoint(),
            (ROOT_KEY, ROOT_SECRET),
            &[("ALICE", &alice_arn)],
        )
    }) else {
        return;
    };
    assert_eq!(out.trim(), "dynamodb,iam,s3,sts GetUser alice DevAccess");
}
