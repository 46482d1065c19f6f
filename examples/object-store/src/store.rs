//! Buckets and objects on disk: `DIR/buckets/BUCKET/` holds `bucket.json` (owner, creation
//! date), `policy.json` when the bucket has a policy, and `objects/HASH.data` + `HASH.json`
//! for each object (the file name is the SHA-256 of the key, so no key can name a path).
//! Every write goes to a temporary file first and is renamed into place.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::fs;

use crate::error::S3Error;

/// A bucket's own record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BucketMeta {
    pub name: String,
    /// The account that created it: the resource account of every request on it.
    pub owner: String,
    pub created: String,
}

/// An object's record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectMeta {
    pub key: String,
    pub size: u64,
    /// The MD5 of the content, hex, as S3's ETag of a single-part upload.
    pub etag: String,
    pub last_modified: String,
    #[serde(default)]
    pub content_type: Option<String>,
    /// `x-amz-meta-*` headers.
    #[serde(default)]
    pub user_metadata: Vec<(String, String)>,
    /// The checksums the client sent and the store verified (`CRC32`, ...), base64.
    #[serde(default)]
    pub checksums: Vec<(String, String)>,
}

/// The store's directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

fn hash_name(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes `bytes` to `path` through a temporary file renamed into place.
async fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = temp_path(path);
    fs::write(&tmp, bytes).await?;
    fs::rename(&tmp, path).await
}

pub fn temp_path(path: &Path) -> PathBuf {
    let suffix: u64 = rand::random();
    path.with_extension(format!("tmp-{suffix:016x}"))
}

pub fn now_iso() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl Store {
    pub async fn open(root: &Path) -> std::io::Result<Store> {
        fs::create_dir_all(root.join("buckets")).await?;
        Ok(Store {
            root: root.to_path_buf(),
        })
    }

    fn bucket_dir(&self, bucket: &str) -> PathBuf {
        self.root.join("buckets").join(bucket)
    }

    fn object_path(&self, bucket: &str, key: &str, ext: &str) -> PathBuf {
        self.bucket_dir(bucket)
            .join("objects")
            .join(format!("{}.{ext}", hash_name(key)))
    }

    /// Where an object's content is written before it is committed.
    pub fn upload_path(&self, bucket: &str, key: &str) -> PathBuf {
        temp_path(&self.object_path(bucket, key, "data"))
    }

    pub async fn bucket(&self, bucket: &str) -> Result<Option<BucketMeta>, S3Error> {
        match fs::read(self.bucket_dir(bucket).join("bucket.json")).await {
            Ok(bytes) => Ok(Some(
                serde_json::from_slice(&bytes).map_err(|_| S3Error::internal())?,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn buckets(&self) -> Result<Vec<BucketMeta>, S3Error> {
        let mut out = Vec::new();
        let mut dir = fs::read_dir(self.root.join("buckets")).await?;
        while let Some(entry) = dir.next_entry().await? {
            if let Some(name) = entry.file_name().to_str()
                && let Some(meta) = self.bucket(name).await?
            {
                out.push(meta);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Creates the bucket; `false` when it exists already.
    pub async fn create_bucket(&self, meta: &BucketMeta) -> Result<bool, S3Error> {
        let dir = self.bucket_dir(&meta.name);
        match fs::create_dir(&dir).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        fs::create_dir(dir.join("objects")).await?;
        let json = serde_json::to_vec(meta).map_err(|_| S3Error::internal())?;
        write_atomic(&dir.join("bucket.json"), &json).await?;
        Ok(true)
    }

    /// Deletes an empty bucket.
    pub async fn delete_bucket(&self, bucket: &str) -> Result<(), S3Error> {
        let dir = self.bucket_dir(bucket);
        let mut objects = fs::read_dir(dir.join("objects")).await?;
        while let Some(entry) = objects.next_entry().await? {
            if entry.file_name().to_string_lossy().ends_with(".json") {
                return Err(S3Error::new(
                    409,
                    "BucketNotEmpty",
                    "The bucket you tried to delete is not empty",
                ));
            }
        }
        fs::remove_dir_all(dir).await?;
        Ok(())
    }

    pub async fn policy(&self, bucket: &str) -> Result<Option<String>, S3Error> {
        match fs::read_to_string(self.bucket_dir(bucket).join("policy.json")).await {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn put_policy(&self, bucket: &str, text: &str) -> Result<(), S3Error> {
        write_atomic(
            &self.bucket_dir(bucket).join("policy.json"),
            text.as_bytes(),
        )
        .await?;
        Ok(())
    }

    pub async fn delete_policy(&self, bucket: &str) -> Result<(), S3Error> {
        match fs::remove_file(self.bucket_dir(bucket).join("policy.json")).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn object(&self, bucket: &str, key: &str) -> Result<Option<ObjectMeta>, S3Error> {
        match fs::read(self.object_path(bucket, key, "json")).await {
            Ok(bytes) => Ok(Some(
                serde_json::from_slice(&bytes).map_err(|_| S3Error::internal())?,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub fn content_path(&self, bucket: &str, key: &str) -> PathBuf {
        self.object_path(bucket, key, "data")
    }

    /// Commits an upload written to `upload`: its content, then its record.
    pub async fn commit_object(
        &self,
        bucket: &str,
        upload: &Path,
        meta: &ObjectMeta,
    ) -> Result<(), S3Error> {
        let json = serde_json::to_vec(meta).map_err(|_| S3Error::internal())?;
        fs::rename(upload, self.object_path(bucket, &meta.key, "data")).await?;
        write_atomic(&self.object_path(bucket, &meta.key, "json"), &json).await?;
        Ok(())
    }

    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), S3Error> {
        for ext in ["json", "data"] {
            match fs::remove_file(self.object_path(bucket, key, ext)).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Every object record of the bucket, by key.
    pub async fn objects(&self, bucket: &str) -> Result<Vec<ObjectMeta>, S3Error> {
        let mut out = Vec::new();
        let mut dir = fs::read_dir(self.bucket_dir(bucket).join("objects")).await?;
        while let Some(entry) = dir.next_entry().await? {
            if entry.file_name().to_string_lossy().ends_with(".json") {
                let bytes = fs::read(entry.path()).await?;
                if let Ok(meta) = serde_json::from_slice::<ObjectMeta>(&bytes) {
                    out.push(meta);
                }
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}
