use super::*;

#[test]
fn platforms_parse_and_match() {
    let p: Platform = "linux/arm64/v8".parse().unwrap();
    assert_eq!(p.to_string(), "linux/arm64/v8");
    let any_variant: Platform = "linux/arm64".parse().unwrap();
    assert!(any_variant.accepts(&p));
    assert!(!p.accepts(&any_variant));
    assert!(!Platform::default_choice().accepts(&p));
    for bad in ["linux", "linux/", "/amd64", "a/b/c/d", "linux/am d64"] {
        let err = bad.parse::<Platform>().unwrap_err().to_string();
        assert!(err.contains("os/architecture"), "{bad}: {err}");
    }
}

fn open_err(path: &Path) -> String {
    match open(path, &OpenOptions::default()) {
        Ok(t) => panic!("{} opened as {t:?}", path.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn garbage_and_compressed_files_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.tar");
    std::fs::write(&garbage, vec![0x42u8; 4096]).unwrap();
    let err = open_err(&garbage);
    assert!(err.starts_with("not a docker-save or OCI image:"), "{err}");
    assert!(err.contains("not a tar archive"), "{err}");

    let gz = dir.path().join("image.tar.gz");
    std::fs::write(&gz, [0x1f, 0x8b, 8, 0, 0, 0, 0, 0]).unwrap();
    assert!(open_err(&gz).contains("gzip-compressed; decompress it first"));

    let empty = dir.path().join("empty.tar");
    std::fs::write(&empty, b"").unwrap();
    assert!(open_err(&empty).contains("not a tar archive"));

    let missing = dir.path().join("missing.tar");
    assert!(open_err(&missing).contains("No such file"));
}

#[test]
fn a_tar_without_image_metadata_is_not_an_image() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("files.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&path).unwrap());
    let mut h = tar::Header::new_gnu();
    h.set_size(5);
    h.set_mode(0o644);
    b.append_data(&mut h, "hello.txt", b"hello".as_slice())
        .unwrap();
    b.into_inner().unwrap();
    let err = open_err(&path);
    assert!(
        err.contains("neither index.json (OCI layout) nor manifest.json (docker save) found"),
        "{err}"
    );
}

#[test]
fn broken_metadata_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("oci-layout"), b"{}").unwrap();
    std::fs::write(dir.path().join("index.json"), b"{\"schemaVersion\": 2").unwrap();
    std::fs::create_dir(dir.path().join("blobs")).unwrap();
    let err = open_err(dir.path());
    assert!(
        err.contains("index.json is not an OCI image index"),
        "{err}"
    );

    let manifest = format!("sha256:{}", "0".repeat(64));
    std::fs::write(
        dir.path().join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{manifest}","size":10}}]}}"#
        ),
    )
    .unwrap();
    let err = open_err(dir.path());
    assert!(err.contains("is missing from the image"), "{err}");
}

#[test]
fn a_plain_directory_is_a_root_filesystem() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("etc")).unwrap();
    match open(dir.path(), &OpenOptions::default()).unwrap() {
        ScanTarget::Rootfs(p) => assert_eq!(p, dir.path()),
        other => panic!("{other:?}"),
    }
}
