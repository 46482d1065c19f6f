//! The Rust SDK as an application uses it, with nothing but its environment: `aws-config`'s
//! default chain finds credentials (instance metadata, container credentials, web identity,
//! ...) and `AWS_ENDPOINT_URL` points the clients at Portcullis. Prints the caller's ARN and
//! whether it may list IAM users. Used by `tests/agent_e2e.rs`.

#[tokio::main]
async fn main() {
    let config = aws_config::load_from_env().await;
    let sts = aws_sdk_sts::Client::new(&config);
    match sts.get_caller_identity().send().await {
        Ok(who) => println!("{}", who.arn().unwrap_or_default()),
        Err(e) => {
            eprintln!("GetCallerIdentity: {e:?}");
            std::process::exit(1);
        }
    }
    let iam = aws_sdk_iam::Client::new(&config);
    let allowed = iam.list_users().send().await.is_ok();
    println!("{allowed}");
}
