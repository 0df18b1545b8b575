//! Where uploaded documents' bytes live: content-addressed (`sha256/{hex}`) in an object store,
//! local files by default. A file streams in while its SHA-256 is computed, so memory stays flat
//! whatever its size; it only gets its final name once complete and durable.

use std::path::Path as FsPath;
use std::sync::Arc;

use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, GetResult, ObjectStore, ObjectStoreExt, WriteMultipart};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::ApiError;

/// Bytes buffered per part before it is written: a few of these per upload is all it holds. S3
/// refuses parts under 5 MiB (but the last), so remote stores take larger ones.
const LOCAL_PART_BYTES: usize = 1024 * 1024;
const REMOTE_PART_BYTES: usize = 5 * 1024 * 1024;
/// Parts being written at once per upload.
const PARTS_IN_FLIGHT: usize = 2;
/// How much of the start of a file is kept to recognise its type.
pub const SNIFF_BYTES: usize = 8 * 1024;

#[derive(Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    part_bytes: usize,
}

fn storage(error: object_store::Error) -> ApiError {
    ApiError::Internal(format!("blob storage: {error}"))
}

impl BlobStore {
    /// The store `location` names: a folder (or `file://` URL), or an object store URL such as
    /// `s3://bucket/prefix`, configured by `options`: the usual `AWS_*` settings (`AWS_ENDPOINT`
    /// for an S3-compatible service, `AWS_ALLOW_HTTP=true` for one without TLS, credentials).
    pub fn open(location: &str, options: &[(String, SecretString)]) -> Result<Self, ApiError> {
        let Some((scheme, _)) = location.split_once("://") else {
            return Self::local(FsPath::new(location));
        };
        if scheme == "file" {
            return Self::local(FsPath::new(location.trim_start_matches("file://")));
        }
        let url = url::Url::parse(location)
            .map_err(|e| ApiError::Internal(format!("the blob store URL {location} is not a URL: {e}")))?;
        let options = options
            .iter()
            .map(|(key, value)| (key.to_ascii_lowercase(), value.expose_secret().to_owned()));
        let (store, prefix) = object_store::parse_url_opts(&url, options)
            .map_err(|e| ApiError::Internal(format!("the blob store {location}: {e}")))?;
        let store: Arc<dyn ObjectStore> = if prefix.as_ref().is_empty() {
            Arc::from(store)
        } else {
            Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
        };
        Ok(Self {
            store,
            part_bytes: REMOTE_PART_BYTES,
        })
    }

    /// Files under `folder`, each written with fsync (file and folder) before it counts as stored.
    pub fn local(folder: &FsPath) -> Result<Self, ApiError> {
        std::fs::create_dir_all(folder)
            .map_err(|e| ApiError::Internal(format!("cannot create the blob folder {}: {e}", folder.display())))?;
        let store = LocalFileSystem::new_with_prefix(folder)
            .map_err(storage)?
            .with_fsync(true);
        Ok(Self {
            store: Arc::new(store),
            part_bytes: LOCAL_PART_BYTES,
        })
    }

    pub fn key(sha256: &str) -> Path {
        Path::from(format!("sha256/{sha256}"))
    }

    /// Starts receiving a file.
    pub async fn begin(&self) -> Result<IncomingBlob, ApiError> {
        let path = Path::from(format!("incoming/{}", Uuid::now_v7()));
        let upload = self.store.put_multipart(&path).await.map_err(storage)?;
        Ok(IncomingBlob {
            store: self.store.clone(),
            path,
            writer: WriteMultipart::new_with_chunk_size(upload, self.part_bytes),
            hasher: Sha256::new(),
            size: 0,
            head: Vec::new(),
        })
    }

    /// A stored blob, whole or a byte range of it.
    pub async fn get(&self, sha256: &str, range: Option<std::ops::Range<u64>>) -> Result<GetResult, ApiError> {
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        self.store.get_opts(&Self::key(sha256), options).await.map_err(storage)
    }

    async fn exists(&self, path: &Path) -> Result<bool, ApiError> {
        match self.store.head(path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(error) => Err(storage(error)),
        }
    }

    /// Removes blobs that uploads stored but no event came to reference.
    pub async fn discard(&self, stored: &[StoredBlob]) {
        for blob in stored.iter().filter(|b| !b.existed) {
            if let Err(error) = self.store.delete(&Self::key(&blob.sha256)).await {
                tracing::warn!(%error, sha256 = %blob.sha256, "could not remove an unreferenced blob");
            }
        }
    }
}

/// A file being received.
pub struct IncomingBlob {
    store: Arc<dyn ObjectStore>,
    /// Where the file is written until it is complete.
    path: Path,
    writer: WriteMultipart,
    hasher: Sha256,
    size: u64,
    head: Vec<u8>,
}

/// A file stored under its content's name.
#[derive(Debug, Clone)]
pub struct StoredBlob {
    pub sha256: String,
    pub size: u64,
    /// The first bytes, to recognise the type by.
    pub head: Vec<u8>,
    /// The same content was stored before: it is not this upload's to remove.
    pub existed: bool,
}

impl IncomingBlob {
    pub async fn write(&mut self, chunk: Bytes) -> Result<(), ApiError> {
        self.hasher.update(&chunk);
        self.size += chunk.len() as u64;
        if self.head.len() < SNIFF_BYTES {
            let take = (SNIFF_BYTES - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        // Back pressure: the client waits while parts are written, rather than memory growing.
        self.writer.wait_for_capacity(PARTS_IN_FLIGHT).await.map_err(storage)?;
        self.writer.put(chunk);
        Ok(())
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// Completes the file durably, then gives it its content's name.
    pub async fn finish(self, blobs: &BlobStore) -> Result<StoredBlob, ApiError> {
        let sha256 = hex::encode(self.hasher.finalize());
        let key = BlobStore::key(&sha256);
        let existed = blobs.exists(&key).await?;
        self.writer.finish().await.map_err(storage)?;
        // Same content, same name: renaming over an existing copy changes nothing.
        self.store.rename(&self.path, &key).await.map_err(storage)?;
        Ok(StoredBlob {
            sha256,
            size: self.size,
            head: self.head,
            existed,
        })
    }

    pub async fn abort(self) {
        if let Err(error) = self.writer.abort().await {
            tracing::warn!(%error, "could not abort an upload");
        }
    }
}
