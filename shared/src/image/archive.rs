//! Where an image's files are: a directory (an OCI layout or an unpacked docker-save), or a tar archive read
//! in place. A tar is indexed once (entry path → data offset and size, symlinks kept as links) and each
//! file is then read by seeking to its data: nothing is extracted to disk.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::ImageError;

/// Most entries accepted in an image tar (a docker-save of a 100-layer image has a few hundred).
const MAX_ENTRIES: usize = 200_000;
/// Symlink hops followed inside a tar (docker-save links duplicate layers to their first copy).
const MAX_LINK_HOPS: usize = 8;

#[derive(Debug, Clone)]
pub(crate) enum TarEntry {
    File { offset: u64, size: u64 },
    Link(String),
}

/// A readable set of files addressed by archive-relative paths (`blobs/sha256/…`, `manifest.json`).
#[derive(Debug)]
pub(crate) enum Archive {
    Dir(PathBuf),
    Tar {
        path: PathBuf,
        entries: HashMap<String, TarEntry>,
    },
    /// Served by a registry (`registry.rs`).
    Registry(Box<super::registry::RegistryBlobs>),
}

/// A relative path with only normal components, `/`-separated, or `None`.
pub(crate) fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        None
    } else {
        Some(parts.join("/"))
    }
}

impl Archive {
    pub(crate) fn dir(path: &Path) -> Archive {
        Archive::Dir(path.to_owned())
    }

    /// Indexes the tar at `path` (headers only: entry data is skipped by seeking).
    pub(crate) fn tar(path: &Path) -> Result<Archive, ImageError> {
        let file = File::open(path).map_err(|e| ImageError::io(path, e))?;
        let mut archive = tar::Archive::new(file);
        let mut entries = HashMap::new();
        let iter = archive.entries_with_seek().map_err(|e| {
            ImageError::not_an_image(
                path,
                format!(
                    "not a tar archive: {}",
                    crate::layer::reader::printable(&e.to_string())
                ),
            )
        })?;
        for entry in iter {
            let entry = entry.map_err(|e| {
                ImageError::not_an_image(
                    path,
                    format!(
                        "corrupt tar archive: {}",
                        crate::layer::reader::printable(&e.to_string())
                    ),
                )
            })?;
            if entries.len() >= MAX_ENTRIES {
                return Err(ImageError::not_an_image(
                    path,
                    format!("more than {MAX_ENTRIES} entries"),
                ));
            }
            let Ok(name) = entry.path() else { continue };
            let Some(name) = name.to_str().and_then(normalize) else {
                continue;
            };
            let kind = entry.header().entry_type();
            if kind.is_file() {
                entries.insert(
                    name,
                    TarEntry::File {
                        offset: entry.raw_file_position(),
                        size: entry.size(),
                    },
                );
            } else if kind.is_symlink() || kind.is_hard_link() {
                let Ok(Some(target)) = entry.link_name() else {
                    continue;
                };
                let Some(target) = target.to_str() else {
                    continue;
                };
                // Symlinks are relative to the link's directory; hard links to the archive root.
                let resolved = if kind.is_symlink() && !target.starts_with('/') {
                    let dir = name.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                    normalize(&format!("{dir}/{target}"))
                } else {
                    normalize(target)
                };
                if let Some(resolved) = resolved {
                    entries.insert(name, TarEntry::Link(resolved));
                }
            }
        }
        if entries.is_empty() {
            return Err(ImageError::not_an_image(path, "the tar archive is empty"));
        }
        Ok(Archive::Tar {
            path: path.to_owned(),
            entries,
        })
    }

    /// Where the archive is, for messages.
    pub(crate) fn location(&self) -> &Path {
        match self {
            Archive::Dir(p) | Archive::Tar { path: p, .. } => p,
            Archive::Registry(r) => r.location(),
        }
    }

    fn tar_file(&self, entries: &HashMap<String, TarEntry>, rel: &str) -> Option<(u64, u64)> {
        let mut name = normalize(rel)?;
        for _ in 0..=MAX_LINK_HOPS {
            match entries.get(&name)? {
                TarEntry::File { offset, size } => return Some((*offset, *size)),
                TarEntry::Link(target) => name = target.clone(),
            }
        }
        None
    }

    /// Whether a file exists at `rel`.
    pub(crate) fn contains(&self, rel: &str) -> bool {
        match self {
            Archive::Dir(root) => normalize(rel).is_some_and(|r| root.join(r).is_file()),
            Archive::Tar { entries, .. } => self.tar_file(entries, rel).is_some(),
            Archive::Registry(r) => r.contains(rel),
        }
    }

    /// Opens the file at `rel`, returning a reader over exactly its bytes and its size.
    pub(crate) fn open(&self, rel: &str) -> Result<(Box<dyn Read + Send>, u64), ImageError> {
        let missing = || ImageError::Missing {
            image: self.location().to_owned(),
            file: rel.chars().take(200).collect(),
        };
        match self {
            Archive::Dir(root) => {
                let rel = normalize(rel).ok_or_else(missing)?;
                let path = root.join(rel);
                let file = File::open(&path).map_err(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => missing(),
                    _ => ImageError::io(&path, e),
                })?;
                let size = file.metadata().map_err(|e| ImageError::io(&path, e))?.len();
                Ok((Box::new(file), size))
            }
            Archive::Tar { path, entries } => {
                let (offset, size) = self.tar_file(entries, rel).ok_or_else(missing)?;
                let mut file = File::open(path).map_err(|e| ImageError::io(path, e))?;
                file.seek(SeekFrom::Start(offset))
                    .map_err(|e| ImageError::io(path, e))?;
                Ok((Box::new(file.take(size)), size))
            }
            Archive::Registry(r) => r.open(rel),
        }
    }

    /// Reads a small file (JSON metadata) whole, refusing files over `cap` bytes.
    pub(crate) fn read_small(&self, rel: &str, cap: u64) -> Result<Vec<u8>, ImageError> {
        let (reader, size) = self.open(rel)?;
        if size > cap {
            return Err(ImageError::not_an_image(
                self.location(),
                format!("{rel} is {size} bytes, over the {cap}-byte limit for metadata"),
            ));
        }
        let mut buf = Vec::with_capacity(size as usize);
        reader
            .take(cap)
            .read_to_end(&mut buf)
            .map_err(|e| ImageError::io(self.location(), e))?;
        if (buf.len() as u64) < size {
            return Err(ImageError::not_an_image(
                self.location(),
                format!("{rel} is truncated"),
            ));
        }
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn normalizes_relative_paths() {
        assert_eq!(normalize("./a/b").as_deref(), Some("a/b"));
        assert_eq!(normalize("/a//b/").as_deref(), Some("a/b"));
        assert_eq!(normalize("a/../b").as_deref(), Some("b"));
        assert_eq!(normalize("../etc/passwd"), None);
        assert_eq!(normalize("."), None);
    }
}
