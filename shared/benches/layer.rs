//! Layer reader benchmark (not a timed test; run it with `bench/layer.sh`).
//!
//! Builds, once, a ≥ 100 MB gzip layer from real files of this machine (`/usr`, walked in sorted order:
//! binaries, libraries, text, already-compressed files — a realistic mix), plus a dpkg database and
//! Python metadata for the scanners to claim. Then, in the same run and alternating, it times
//!
//! - the baseline: `flate2::bufread::MultiGzDecoder` to `io::sink` (the inflater `read_layer` uses), and
//! - `read_layer` with ten scanners whose `claims` look like the real ones,
//!
//! and prints the best time of each and their ratio. With the argument `rss` it only runs `read_layer`
//! once and prints the process's peak RSS (`VmHWM`), so the figure is the reader's alone.
//!
//! Criterion is not used: one iteration of a 100 MB layer takes seconds, and the figure wanted is a ratio
//! against a baseline measured in the same process, which a plain loop gives directly.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lucid::layer::{LayerLimits, read_layer};
use lucid::model::{Digest, LayerContents, Package};
use lucid::scanner::{EntryInfo, PackageScanner, ScanError};

/// Compressed size the generated layer must reach.
const TARGET_BLOB_BYTES: u64 = 110 << 20;

/// A scanner that claims by a path rule and counts what it was given.
struct PathRule {
    name: &'static str,
    rule: fn(&EntryInfo<'_>) -> bool,
}

impl PackageScanner for PathRule {
    fn name(&self) -> &'static str {
        self.name
    }
    fn version(&self) -> &'static str {
        "1"
    }
    fn claims(&self, entry: &EntryInfo<'_>) -> bool {
        (self.rule)(entry)
    }
    fn scan(
        &self,
        entry: &EntryInfo<'_>,
        contents: &[u8],
        out: &mut LayerContents,
    ) -> Result<(), ScanError> {
        // Touch every byte, as a parser would, and record one package.
        let lines = contents.iter().filter(|b| **b == b'\n').count();
        out.packages.push(Package {
            name: entry.path.to_owned(),
            version: lines.to_string(),
            ..Default::default()
        });
        Ok(())
    }
}

fn scanners() -> Vec<PathRule> {
    vec![
        PathRule {
            name: "dpkg",
            rule: |e| e.path.ends_with("var/lib/dpkg/status"),
        },
        PathRule {
            name: "dpkg-distroless",
            rule: |e| e.path.contains("/status.d/"),
        },
        PathRule {
            name: "apk",
            rule: |e| e.path == "lib/apk/db/installed",
        },
        PathRule {
            name: "rpm",
            rule: |e| matches!(e.file_name(), "rpmdb.sqlite" | "Packages" | "Packages.db"),
        },
        PathRule {
            name: "os-release",
            rule: |e| e.path == "etc/os-release" || e.path == "usr/lib/os-release",
        },
        PathRule {
            name: "python",
            rule: |e| e.file_name() == "METADATA" && e.path.contains(".dist-info/"),
        },
        PathRule {
            name: "npm",
            rule: |e| e.file_name() == "package.json" && e.path.contains("node_modules/"),
        },
        PathRule {
            name: "ruby",
            rule: |e| e.path.ends_with(".gemspec") && e.path.contains("/specifications/"),
        },
        PathRule {
            name: "java",
            rule: |e| {
                [".jar", ".war", ".ear"].iter().any(|s| e.path.ends_with(s)) && e.size < (1 << 20)
            },
        },
        PathRule {
            name: "composer",
            rule: |e| e.path.ends_with("vendor/composer/installed.json"),
        },
    ]
}

/// Counts bytes written, to stop generating at the target compressed size.
struct CountingFile {
    file: io::BufWriter<File>,
    written: u64,
}

impl Write for CountingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

fn sorted_files(root: &Path, out: &mut Vec<PathBuf>) {
    let Ok(dir) = std::fs::read_dir(root) else {
        return;
    };
    let mut children: Vec<_> = dir.flatten().map(|d| d.path()).collect();
    children.sort();
    for path in children {
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => sorted_files(&path, out),
            Ok(m) if m.is_file() => out.push(path),
            _ => {}
        }
    }
}

/// Writes the layer once; later runs reuse it.
fn generate(path: &Path) -> io::Result<()> {
    let partial = path.with_extension("partial");
    let counting = CountingFile {
        file: io::BufWriter::new(File::create(&partial)?),
        written: 0,
    };
    let encoder = flate2::write::GzEncoder::new(counting, flate2::Compression::default());
    let mut builder = tar::Builder::new(encoder);
    builder.follow_symlinks(false);
    // What the scanners claim: the machine's dpkg database and 300 Python METADATA files.
    if let Ok(status) = std::fs::read("/var/lib/dpkg/status") {
        append(&mut builder, "var/lib/dpkg/status", &status)?;
    }
    append(
        &mut builder,
        "etc/os-release",
        b"ID=debian\nVERSION_ID=\"12\"\n",
    )?;
    for n in 0..300 {
        let metadata =
            format!("Metadata-Version: 2.1\nName: package{n}\nVersion: 1.{n}.0\nSummary: bench\n");
        append(
            &mut builder,
            &format!("usr/lib/python3/dist-packages/package{n}-1.{n}.0.dist-info/METADATA"),
            metadata.as_bytes(),
        )?;
    }
    let mut files = Vec::new();
    sorted_files(Path::new("/usr"), &mut files);
    for file in files {
        if builder.get_ref().get_ref().written >= TARGET_BLOB_BYTES {
            break;
        }
        let Ok(relative) = file.strip_prefix("/") else {
            continue;
        };
        // Unreadable files are skipped; the mix only needs to be realistic.
        let _ = builder.append_path_with_name(&file, relative);
    }
    let written = builder.get_ref().get_ref().written;
    let encoder = builder.into_inner()?;
    encoder.finish()?.flush()?;
    if written < TARGET_BLOB_BYTES {
        eprintln!("warning: only {written} compressed bytes available under /usr");
    }
    std::fs::rename(partial, path)
}

fn append<W: Write>(builder: &mut tar::Builder<W>, path: &str, data: &[u8]) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder.append_data(&mut header, path, data)
}

fn sha256_of_file(path: &Path) -> io::Result<Digest> {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    let mut file = BufReader::with_capacity(1 << 20, File::open(path)?);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(Digest::from_sha256_bytes(&hasher.finalize()))
}

fn time_decompress(path: &Path) -> io::Result<(Duration, u64)> {
    let start = Instant::now();
    let file = BufReader::with_capacity(64 * 1024, File::open(path)?);
    let bytes = io::copy(
        &mut flate2::bufread::MultiGzDecoder::new(file),
        &mut io::sink(),
    )?;
    Ok((start.elapsed(), bytes))
}

/// Baseline plus the sha256 of the compressed bytes: the part of `read_layer`'s cost that is the digest
/// check rather than the reader, to tell the two apart.
fn time_decompress_and_hash(path: &Path) -> io::Result<Duration> {
    use sha2::Digest as _;
    struct Hashing<R>(R, sha2::Sha256);
    impl<R: Read> Read for Hashing<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.read(buf)?;
            self.1.update(&buf[..n]);
            Ok(n)
        }
    }
    let start = Instant::now();
    let hashing = Hashing(File::open(path)?, sha2::Sha256::new());
    let file = BufReader::with_capacity(64 * 1024, hashing);
    io::copy(
        &mut flate2::bufread::MultiGzDecoder::new(file),
        &mut io::sink(),
    )?;
    Ok(start.elapsed())
}

fn time_read_layer(
    path: &Path,
    digest: &Digest,
) -> Result<(Duration, u64, usize), Box<dyn std::error::Error>> {
    let rules = scanners();
    let refs: Vec<&dyn PackageScanner> = rules.iter().map(|s| s as &dyn PackageScanner).collect();
    let start = Instant::now();
    let scan = read_layer(File::open(path)?, digest, &refs, &LayerLimits::default())?;
    Ok((
        start.elapsed(),
        scan.tar_bytes,
        scan.contents.packages.len(),
    ))
}

/// Peak resident set size of this process (`VmHWM` in `/proc/self/status`; no `unsafe` getrusage needed).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let layer = dir.join("bench-layer.tar.gz");
    if !layer.exists() {
        eprintln!("generating {} (once)…", layer.display());
        generate(&layer)?;
    }
    let digest = sha256_of_file(&layer)?;
    let blob_bytes = std::fs::metadata(&layer)?.len();
    let rss_only = std::env::args().any(|a| a == "rss");
    if rss_only {
        let (elapsed, tar_bytes, packages) = time_read_layer(&layer, &digest)?;
        println!(
            "read_layer: {blob_bytes} blob bytes, {tar_bytes} tar bytes, {packages} packages in {:.2} s; peak RSS {} KiB",
            elapsed.as_secs_f64(),
            peak_rss_kib()
        );
        return Ok(());
    }
    let runs: usize = std::env::var("LUCID_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let mut best_decompress = Duration::MAX;
    let mut best_read = Duration::MAX;
    let mut best_hashed = Duration::MAX;
    for _ in 0..runs {
        best_hashed = best_hashed.min(time_decompress_and_hash(&layer)?);
        let (d, tar_bytes) = time_decompress(&layer)?;
        best_decompress = best_decompress.min(d);
        let (r, read_tar_bytes, _) = time_read_layer(&layer, &digest)?;
        assert_eq!(
            tar_bytes, read_tar_bytes,
            "both passes must see the same tar"
        );
        best_read = best_read.min(r);
    }
    println!(
        "layer: {blob_bytes} blob bytes; best of {runs}: decompress {:.3} s, decompress+sha256 {:.3} s, \
         read_layer {:.3} s; ratio read_layer/decompress {:.3}, read_layer/(decompress+sha256) {:.3}",
        best_decompress.as_secs_f64(),
        best_hashed.as_secs_f64(),
        best_read.as_secs_f64(),
        best_read.as_secs_f64() / best_decompress.as_secs_f64(),
        best_read.as_secs_f64() / best_hashed.as_secs_f64()
    );
    Ok(())
}
