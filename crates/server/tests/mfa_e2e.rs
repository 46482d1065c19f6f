//! Virtual MFA devices end to end, with `aws-sdk-iam`: codes are computed here from the
//! returned Base32 seed with `totp-rs` (independently of the service's own TOTP code), for
//! time steps around the test's clock; the server uses the same clock.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_iam::types::{AssignmentStatusType, SummaryKeyType, Tag};
use common::{ACCOUNT, TestServer, error_code};
use totp_rs::{Algorithm, Secret, TOTP};

/// A device as the test knows it: its serial number and a generator of its codes.
struct Device {
    serial: String,
    seed: String,
    totp: TOTP,
}

impl Device {
    /// The code of the time step `offset` steps from now.
    fn code(&self, offset: i64) -> String {
        let step = now_step() as i64 + offset;
        self.totp.generate(step as u64 * 30)
    }
}

fn now_step() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
        / 30
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build().expect("tag")
}

/// Creates a virtual MFA device and reads its seed and QR code from the answer.
async fn create_device(
    iam: &aws_sdk_iam::Client,
    name: &str,
    path: Option<&str>,
    tags: Vec<Tag>,
) -> Device {
    let out = iam
        .create_virtual_mfa_device()
        .virtual_mfa_device_name(name)
        .set_path(path.map(str::to_owned))
        .set_tags(if tags.is_empty() { None } else { Some(tags) })
        .send()
        .await
        .expect("create virtual MFA device");
    let device = out.virtual_mfa_device().expect("device");
    let seed = String::from_utf8(
        device
            .base32_string_seed()
            .expect("the seed, once")
            .as_ref()
            .to_vec(),
    )
    .expect("Base32 text");
    assert_eq!(seed.len(), 32, "20 bytes in Base32");
    let png = device.qr_code_png().expect("the QR code, once");
    assert_eq!(&png.as_ref()[..8], b"\x89PNG\r\n\x1a\n");
    let bytes = Secret::Encoded(seed.clone()).to_bytes().expect("Base32");
    assert_eq!(bytes.len(), 20);
    Device {
        serial: device.serial_number().to_owned(),
        totp: TOTP::new(Algorithm::SHA1, 6, 0, 30, bytes).expect("totp"),
        seed,
    }
}

async fn enable(
    iam: &aws_sdk_iam::Client,
    user: &str,
    device: &Device,
    first: i64,
) -> Result<(), (String, u16)> {
    let result = iam
        .enable_mfa_device()
        .user_name(user)
        .serial_number(&device.serial)
        .authentication_code1(device.code(first))
        .authentication_code2(device.code(first + 1))
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(e) => Err(error_code::<_, ()>(Err(e))),
    }
}

async fn resync(
    iam: &aws_sdk_iam::Client,
    user: &str,
    device: &Device,
    first: i64,
) -> Result<(), (String, u16)> {
    let result = iam
        .resync_mfa_device()
        .user_name(user)
        .serial_number(&device.serial)
        .authentication_code1(device.code(first))
        .authentication_code2(device.code(first + 1))
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(e) => Err(error_code::<_, ()>(Err(e))),
    }
}

async fn user_devices(iam: &aws_sdk_iam::Client, user: &str) -> Vec<String> {
    iam.list_mfa_devices()
        .user_name(user)
        .send()
        .await
        .expect("list MFA devices")
        .mfa_devices()
        .iter()
        .map(|d| d.serial_number().to_owned())
        .collect()
}

async fn virtual_devices(
    iam: &aws_sdk_iam::Client,
    status: Option<AssignmentStatusType>,
) -> Vec<aws_sdk_iam::types::VirtualMfaDevice> {
    iam.list_virtual_mfa_devices()
        .set_assignment_status(status)
        .send()
        .await
        .expect("list virtual MFA devices")
        .virtual_mfa_devices()
        .to_vec()
}

#[tokio::test]
async fn a_device_is_created_enabled_resynced_deactivated_and_deleted() {
    let server = TestServer::start().await;
    let root = server.root();
    root.create_user().user_name("ann").send().await.unwrap();
    root.create_user().user_name("bob").send().await.unwrap();

    let device = create_device(&root, "ann-phone", Some("/team/"), vec![]).await;
    assert_eq!(
        device.serial,
        format!("arn:aws:iam::{ACCOUNT}:mfa/team/ann-phone")
    );
    let (code, status) = error_code(
        root.create_virtual_mfa_device()
            .virtual_mfa_device_name("ANN-PHONE")
            .path("/team/")
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("EntityAlreadyExists", 409));
    let (code, status) = error_code(
        root.create_virtual_mfa_device()
            .virtual_mfa_device_name("bad name")
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("ValidationError", 400));

    let unassigned = virtual_devices(&root, Some(AssignmentStatusType::Unassigned)).await;
    assert_eq!(unassigned.len(), 1);
    assert_eq!(unassigned[0].serial_number(), device.serial);
    assert!(unassigned[0].user().is_none() && unassigned[0].enable_date().is_none());
    // The seed is never returned again.
    assert!(unassigned[0].base32_string_seed().is_none());
    assert!(unassigned[0].qr_code_png().is_none());

    // Wrong codes are refused and change nothing: not consecutive, reversed, malformed.
    for (first, second) in [(0, 2), (1, 0)] {
        let (code, status) = error_code(
            root.enable_mfa_device()
                .user_name("ann")
                .serial_number(&device.serial)
                .authentication_code1(device.code(first))
                .authentication_code2(device.code(second))
                .send()
                .await,
        );
        assert_eq!((code.as_str(), status), ("InvalidAuthenticationCode", 403));
    }
    let (code, status) = error_code(
        root.enable_mfa_device()
            .user_name("ann")
            .serial_number(&device.serial)
            .authentication_code1("12ab56")
            .authentication_code2(device.code(0))
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("ValidationError", 400));
    assert_eq!(
        enable(&root, "nobody", &device, -1).await,
        Err(("NoSuchEntity".into(), 404))
    );
    let missing = Device {
        serial: format!("arn:aws:iam::{ACCOUNT}:mfa/missing"),
        seed: device.seed.clone(),
        totp: device.totp.clone(),
    };
    assert_eq!(
        enable(&root, "ann", &missing, -1).await,
        Err(("NoSuchEntity".into(), 404))
    );
    assert!(user_devices(&root, "ann").await.is_empty());
    assert!(
        virtual_devices(&root, Some(AssignmentStatusType::Assigned))
            .await
            .is_empty()
    );

    // Two consecutive codes: the previous window's and the current one's.
    enable(&root, "ann", &device, -1).await.unwrap();
    assert_eq!(user_devices(&root, "ann").await, [device.serial.as_str()]);
    let listed = root
        .list_mfa_devices()
        .user_name("ann")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.mfa_devices()[0].user_name(), "ann");
    let assigned = virtual_devices(&root, Some(AssignmentStatusType::Assigned)).await;
    assert_eq!(assigned.len(), 1);
    assert_eq!(assigned[0].user().unwrap().user_name(), "ann");
    assert!(assigned[0].enable_date().is_some());
    assert!(
        virtual_devices(&root, Some(AssignmentStatusType::Unassigned))
            .await
            .is_empty()
    );
    assert_eq!(virtual_devices(&root, None).await.len(), 1);
    let got = root
        .get_mfa_device()
        .serial_number(&device.serial)
        .send()
        .await
        .unwrap();
    assert_eq!(got.user_name(), Some("ann"));
    assert_eq!(got.serial_number(), device.serial);
    assert!(got.enable_date().is_some());
    let (code, _) = error_code(
        root.get_mfa_device()
            .serial_number(&device.serial)
            .user_name("bob")
            .send()
            .await,
    );
    assert_eq!(code, "NoSuchEntity");
    let summary = root.get_account_summary().send().await.unwrap();
    let summary = summary.summary_map().unwrap();
    assert_eq!(summary[&SummaryKeyType::MfaDevices], 1);
    assert_eq!(summary[&SummaryKeyType::MfaDevicesInUse], 1);

    // In use: not for another user, not deletable, and its user cannot be deleted.
    assert_eq!(
        enable(&root, "bob", &device, 1).await,
        Err(("EntityAlreadyExists".into(), 409))
    );
    let (code, status) = error_code(
        root.delete_virtual_mfa_device()
            .serial_number(&device.serial)
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("DeleteConflict", 409));
    let (code, status) = error_code(root.delete_user().user_name("ann").send().await);
    assert_eq!((code.as_str(), status), ("DeleteConflict", 409));

    // A code is good once: the codes Enable took cannot resync; later ones can, once.
    assert_eq!(
        resync(&root, "ann", &device, -1).await,
        Err(("InvalidAuthenticationCode".into(), 403))
    );
    resync(&root, "ann", &device, 1).await.unwrap();
    assert_eq!(
        resync(&root, "ann", &device, 1).await,
        Err(("InvalidAuthenticationCode".into(), 403))
    );
    assert_eq!(
        resync(&root, "bob", &device, 3).await,
        Err(("NoSuchEntity".into(), 404))
    );

    // Deactivate, then delete.
    let (code, _) = error_code(
        root.deactivate_mfa_device()
            .user_name("bob")
            .serial_number(&device.serial)
            .send()
            .await,
    );
    assert_eq!(code, "NoSuchEntity");
    root.deactivate_mfa_device()
        .user_name("ann")
        .serial_number(&device.serial)
        .send()
        .await
        .unwrap();
    assert!(user_devices(&root, "ann").await.is_empty());
    assert_eq!(
        virtual_devices(&root, Some(AssignmentStatusType::Unassigned))
            .await
            .len(),
        1
    );
    root.delete_virtual_mfa_device()
        .serial_number(&device.serial)
        .send()
        .await
        .unwrap();
    assert!(virtual_devices(&root, None).await.is_empty());
    let (code, status) = error_code(
        root.delete_virtual_mfa_device()
            .serial_number(&device.serial)
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("NoSuchEntity", 404));
    root.delete_user().user_name("ann").send().await.unwrap();
}

#[tokio::test]
async fn a_user_manages_its_own_device_as_its_policy_allows() {
    let server = TestServer::start().await;
    let root = server.root();
    // AWS's example policy "allow users to manage their own MFA device".
    let cat = server
        .user_with_policy(
            "cat",
            Some(
                r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Action":["iam:CreateVirtualMFADevice","iam:DeleteVirtualMFADevice"],"Resource":"arn:aws:iam::*:mfa/${aws:username}"},
                {"Effect":"Allow","Action":["iam:EnableMFADevice","iam:ResyncMFADevice","iam:DeactivateMFADevice","iam:ListMFADevices","iam:GetMFADevice"],"Resource":"arn:aws:iam::*:user/${aws:username}"},
                {"Effect":"Allow","Action":"iam:ListVirtualMFADevices","Resource":"*"}]}"#,
            ),
        )
        .await;
    root.create_user().user_name("dan").send().await.unwrap();

    let (code, status) = error_code(
        cat.create_virtual_mfa_device()
            .virtual_mfa_device_name("dan")
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("AccessDenied", 403));
    assert!(virtual_devices(&root, None).await.is_empty());

    let own = create_device(&cat, "cat", None, vec![]).await;
    enable(&cat, "cat", &own, -1).await.unwrap();
    // ListMFADevices without a user name lists the caller's own.
    let mine = cat.list_mfa_devices().send().await.unwrap();
    assert_eq!(mine.mfa_devices().len(), 1);
    assert_eq!(mine.mfa_devices()[0].serial_number(), own.serial);
    cat.get_mfa_device()
        .serial_number(&own.serial)
        .send()
        .await
        .unwrap();
    assert_eq!(virtual_devices(&cat, None).await.len(), 1);

    // Another user's devices are out of reach, and a denied call changes nothing.
    let spare = create_device(&root, "spare", None, vec![]).await;
    assert_eq!(
        enable(&cat, "dan", &spare, -1).await,
        Err(("AccessDenied".into(), 403))
    );
    assert!(user_devices(&root, "dan").await.is_empty());
    let (code, _) = error_code(cat.list_mfa_devices().user_name("dan").send().await);
    assert_eq!(code, "AccessDenied");
    enable(&root, "dan", &spare, -1).await.unwrap();
    let (code, _) = error_code(
        cat.get_mfa_device()
            .serial_number(&spare.serial)
            .send()
            .await,
    );
    assert_eq!(code, "AccessDenied");
    let (code, _) = error_code(
        cat.deactivate_mfa_device()
            .user_name("dan")
            .serial_number(&spare.serial)
            .send()
            .await,
    );
    assert_eq!(code, "AccessDenied");
    let (code, _) = error_code(
        cat.tag_mfa_device()
            .serial_number(&own.serial)
            .tags(tag("k", "v"))
            .send()
            .await,
    );
    assert_eq!(code, "AccessDenied");
    assert_eq!(user_devices(&root, "dan").await, [spare.serial.as_str()]);

    // Its own: resync, deactivate (no user name: the caller), delete.
    resync(&cat, "cat", &own, 1).await.unwrap();
    cat.deactivate_mfa_device()
        .serial_number(&own.serial)
        .send()
        .await
        .unwrap();
    cat.delete_virtual_mfa_device()
        .serial_number(&own.serial)
        .send()
        .await
        .unwrap();
    let (code, _) = error_code(
        cat.delete_virtual_mfa_device()
            .serial_number(&spare.serial)
            .send()
            .await,
    );
    assert_eq!(code, "AccessDenied");
    assert_eq!(virtual_devices(&root, None).await.len(), 1);
}

#[tokio::test]
async fn devices_carry_tags() {
    let server = TestServer::start().await;
    let root = server.root();
    let device = create_device(&root, "tagged", None, vec![tag("team", "core")]).await;
    let tags = |out: aws_sdk_iam::operation::list_mfa_device_tags::ListMfaDeviceTagsOutput| {
        out.tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect::<Vec<_>>()
    };
    let listed = root
        .list_mfa_device_tags()
        .serial_number(&device.serial)
        .send()
        .await
        .unwrap();
    assert_eq!(tags(listed), [("team".to_owned(), "core".to_owned())]);
    root.tag_mfa_device()
        .serial_number(&device.serial)
        .tags(tag("TEAM", "edge"))
        .tags(tag("cost", "42"))
        .send()
        .await
        .unwrap();
    let (code, status) = error_code(
        root.tag_mfa_device()
            .serial_number(&device.serial)
            .tags(tag("aws:reserved", "x"))
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("InvalidInput", 400));
    root.untag_mfa_device()
        .serial_number(&device.serial)
        .tag_keys("cost")
        .send()
        .await
        .unwrap();
    let listed = root
        .list_mfa_device_tags()
        .serial_number(&device.serial)
        .send()
        .await
        .unwrap();
    assert_eq!(tags(listed), [("TEAM".to_owned(), "edge".to_owned())]);
    // Lists leave tags out, as AWS's do.
    assert!(virtual_devices(&root, None).await[0].tags().is_empty());
    let (code, status) = error_code(
        root.list_mfa_device_tags()
            .serial_number(format!("arn:aws:iam::{ACCOUNT}:mfa/missing"))
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("NoSuchEntity", 404));

    // aws:ResourceTag on a device decides.
    let eve = server
        .user_with_policy(
            "eve",
            Some(
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:ListMFADeviceTags","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/team":"edge"}}}}"#,
            ),
        )
        .await;
    eve.list_mfa_device_tags()
        .serial_number(&device.serial)
        .send()
        .await
        .unwrap();
    let other = create_device(&root, "untagged", None, vec![]).await;
    let (code, _) = error_code(
        eve.list_mfa_device_tags()
            .serial_number(&other.serial)
            .send()
            .await,
    );
    assert_eq!(code, "AccessDenied");
}

#[tokio::test]
async fn devices_survive_a_restart_with_their_seeds_sealed() {
    let mut server = TestServer::start().await;
    let root = server.root();
    root.create_user().user_name("fay").send().await.unwrap();
    let device = create_device(&root, "fay", None, vec![]).await;
    enable(&root, "fay", &device, -1).await.unwrap();
    root.update_user()
        .user_name("fay")
        .new_user_name("fay2")
        .send()
        .await
        .unwrap();
    assert_eq!(user_devices(&root, "fay2").await, [device.serial.as_str()]);

    server.restart().await;

    let root = server.root();
    assert_eq!(user_devices(&root, "fay2").await, [device.serial.as_str()]);
    // The seed was sealed and opened again: the device's codes still work, and the codes
    // used before the restart are still used.
    assert_eq!(
        resync(&root, "fay2", &device, -1).await,
        Err(("InvalidAuthenticationCode".into(), 403))
    );
    resync(&root, "fay2", &device, 1).await.unwrap();
    // The seed is not stored in the clear.
    let at_rest = common::bytes_at_rest(server.dir.path());
    let seed = device.seed.as_bytes();
    assert!(!at_rest.windows(seed.len()).any(|w| w == seed));
    // The row is there, with the seed sealed beside it.
    let rows = common::stored_rows(server.dir.path(), "mfa_devices");
    let data = &rows.first().expect("the device's row").1;
    assert!(data.contains("seed_sealed") && !data.contains(&device.seed));
}
