//! Finds the Go modules compiled into Go executables, from the build information the Go linker embeds
//! (what `go version -m <binary>` prints), as Clair's `gobin` scanner does.
//!
//! Since Go 1.18 the linker writes a 32-byte header starting with `\xff Go buildinf:` into the
//! `.go.buildinfo` section (ELF), `__go_buildinfo` (Mach-O) or the start of `.data` (PE), followed by two
//! varint-length-prefixed strings: the toolchain version (`go1.23.8`) and the module info, a text block of
//! `path`, `mod`, `dep`, `=>` (replacement) and `build` lines. Every binary yields a `stdlib` package at the
//! toolchain version (the standard library is compiled in and has its own advisories), the main module, and
//! each dependency, with `=>` replacements honoured because the replacement is what was compiled in.
//!
//! The decoder is written by hand: no maintained Rust crate decodes Go build info, and the format is small
//! and stable (Go's `debug/buildinfo` package is the reference; this follows it). Binaries from Go before 1.18
//! store pointers to the strings instead of the strings; those are reported as a [`ScanError`] rather than
//! guessed at.

use object::{Object, ObjectSection};

use crate::model::{Ecosystem, LayerContents, Package};
use crate::scanner::{EntryInfo, PackageScanner, ScanError};

const SCANNER_NAME: &str = "go";

/// Largest executable read. Go binaries are statically linked and big (kubectl is 57 MB); the cap bounds
/// memory per claimed file.
pub const MAX_BINARY_SIZE: u64 = 128 * 1024 * 1024;

/// Smallest file worth parsing: an ELF header alone is 64 bytes.
const MIN_BINARY_SIZE: u64 = 64;

const BUILD_INFO_MAGIC: &[u8] = b"\xff Go buildinf:";
const BUILD_INFO_HEADER_SIZE: usize = 32;
const BUILD_INFO_ALIGN: usize = 16;
/// Header flag: version and module info are inline strings (Go 1.18+), not pointers.
const FLAG_VERSION_INLINE: u8 = 0x2;
/// Module info is wrapped in 16 sentinel bytes on each side.
const MODINFO_SENTINEL_LEN: usize = 16;

/// Longest inline string accepted; real module info is tens of KB at most.
const MAX_INLINE_STRING_LEN: u64 = 4 * 1024 * 1024;

/// Scanner for Go executables' embedded build information.
#[derive(Debug, Clone, Copy, Default)]
pub struct GoBinaryScanner;

/// Why Go build information could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildInfoError {
    #[error("no Go build info magic found")]
    NotFound,
    #[error("build info header is truncated")]
    TruncatedHeader,
    #[error("build info uses the pre-Go 1.18 pointer format, which is not supported")]
    PointerFormat,
    #[error("build info string is truncated or its length varint is malformed")]
    BadString,
    #[error("build info string claims {0} bytes (limit {MAX_INLINE_STRING_LEN})")]
    StringTooLong(u64),
    #[error("build info {0} is not UTF-8")]
    NotUtf8(&'static str),
    #[error("malformed module info line {0:?}")]
    BadModinfoLine(String),
}

/// A module compiled into a binary: its path and version (after any `=>` replacement).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    pub path: String,
    pub version: String,
}

/// What a Go binary's build information says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BuildInfo {
    /// The toolchain version as embedded, e.g. `go1.23.8` or `go1.23.1 X:nocoverageredesign`.
    pub go_version: String,
    /// The main module (`mod` line), absent for binaries built outside module mode.
    pub main: Option<Module>,
    /// The dependencies (`dep` lines), in build-info order.
    pub deps: Vec<Module>,
}

/// Finds and decodes the build info blob inside `data` (a section or a whole file), following
/// `debug/buildinfo`: the magic must sit at a 16-byte-aligned offset.
pub fn decode_build_info(data: &[u8]) -> Result<BuildInfo, BuildInfoError> {
    let header_start = find_aligned_magic(data).ok_or(BuildInfoError::NotFound)?;
    let blob = data.get(header_start..).ok_or(BuildInfoError::NotFound)?;
    let header = blob
        .get(..BUILD_INFO_HEADER_SIZE)
        .ok_or(BuildInfoError::TruncatedHeader)?;
    let flags = header
        .get(BUILD_INFO_MAGIC.len() + 1)
        .copied()
        .ok_or(BuildInfoError::TruncatedHeader)?;
    if flags & FLAG_VERSION_INLINE == 0 {
        return Err(BuildInfoError::PointerFormat);
    }
    let rest = blob
        .get(BUILD_INFO_HEADER_SIZE..)
        .ok_or(BuildInfoError::TruncatedHeader)?;
    let (version, rest) = read_varint_string(rest)?;
    let (modinfo, _) = read_varint_string(rest)?;
    let go_version = std::str::from_utf8(version)
        .map_err(|_| BuildInfoError::NotUtf8("version"))?
        .to_owned();
    let modinfo = strip_modinfo_sentinels(modinfo);
    let modinfo =
        std::str::from_utf8(modinfo).map_err(|_| BuildInfoError::NotUtf8("module info"))?;
    let (main, deps) = parse_modinfo(modinfo)?;
    Ok(BuildInfo {
        go_version,
        main,
        deps,
    })
}

fn find_aligned_magic(data: &[u8]) -> Option<usize> {
    data.chunks(BUILD_INFO_ALIGN)
        .position(|chunk| chunk.starts_with(BUILD_INFO_MAGIC))
        .map(|chunk_index| chunk_index * BUILD_INFO_ALIGN)
}

/// Reads a Go `binary.Uvarint` length followed by that many bytes.
fn read_varint_string(data: &[u8]) -> Result<(&[u8], &[u8]), BuildInfoError> {
    let mut len: u64 = 0;
    let mut consumed = 0;
    for (i, byte) in data.iter().enumerate().take(10) {
        let shift = 7 * i as u32;
        len |= u64::from(byte & 0x7f).checked_shl(shift).unwrap_or(0);
        if byte & 0x80 == 0 {
            consumed = i + 1;
            break;
        }
    }
    if consumed == 0 {
        return Err(BuildInfoError::BadString);
    }
    if len > MAX_INLINE_STRING_LEN {
        return Err(BuildInfoError::StringTooLong(len));
    }
    let len = usize::try_from(len).map_err(|_| BuildInfoError::StringTooLong(len))?;
    let rest = data.get(consumed..).ok_or(BuildInfoError::BadString)?;
    let string = rest.get(..len).ok_or(BuildInfoError::BadString)?;
    let after = rest.get(len..).ok_or(BuildInfoError::BadString)?;
    Ok((string, after))
}

/// The module info is framed by 16 random-looking sentinel bytes on each side; the end sentinel is preceded
/// by a newline. Anything else means "no module info" (as in `debug/buildinfo`).
fn strip_modinfo_sentinels(modinfo: &[u8]) -> &[u8] {
    let len = modinfo.len();
    let framed = len > 2 * MODINFO_SENTINEL_LEN
        && modinfo.get(len - MODINFO_SENTINEL_LEN - 1) == Some(&b'\n');
    if framed {
        modinfo
            .get(MODINFO_SENTINEL_LEN..len - MODINFO_SENTINEL_LEN)
            .unwrap_or_default()
    } else {
        &[]
    }
}

/// Parses the text form of `runtime/debug.BuildInfo` (`path`, `mod`, `dep`, `=>`, `build`, `go` lines).
fn parse_modinfo(modinfo: &str) -> Result<(Option<Module>, Vec<Module>), BuildInfoError> {
    let mut main: Option<Module> = None;
    let mut deps: Vec<Module> = Vec::new();
    let bad_line = |line: &str| BuildInfoError::BadModinfoLine(line.chars().take(120).collect());
    for line in modinfo.lines() {
        let mut fields = line.split('\t');
        let kind = fields.next().unwrap_or_default();
        match kind {
            "mod" | "dep" | "=>" => {
                let path = fields
                    .next()
                    .filter(|p| !p.is_empty())
                    .ok_or_else(|| bad_line(line))?;
                // A replacement by a local directory has no version; Go prints none.
                let version = fields.next().unwrap_or_default();
                let module = Module {
                    path: path.to_owned(),
                    version: version.to_owned(),
                };
                match kind {
                    "mod" => main = Some(module),
                    "dep" => deps.push(module),
                    _ => {
                        // `=>` replaces the module on the line just before it: the last dep, or the main
                        // module when no dep has been seen yet.
                        let replaced = deps
                            .last_mut()
                            .or(main.as_mut())
                            .ok_or_else(|| bad_line(line))?;
                        *replaced = module;
                    }
                }
            }
            // `path`, `build`, `go` and blank lines carry no package.
            _ => {}
        }
    }
    Ok((main, deps))
}

/// Converts a Go toolchain version (`go1.21rc2`, `go1.20`, `go1.23.1 X:nocoverageredesign`) to the semver
/// form Go's vulnerability database uses for `stdlib` (`v1.21.0-rc.2`, `v1.20.0`, `v1.23.1`), as
/// golang.org/x/vuln's `GoTagToSemver` does; `None` if it is not a release tag (`devel …`).
pub fn go_version_to_semver(go_version: &str) -> Option<String> {
    let tag = go_version.split_whitespace().next()?;
    let tag = tag.strip_prefix("go")?;
    // Vendor suffixes like `-boringcrypto` or `+auto` are not part of the release.
    let tag = tag.split(['-', '+']).next().unwrap_or(tag);
    let (numbers, prerelease) = match tag.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => tag.split_at(i),
        None => (tag, ""),
    };
    let parts: Vec<&str> = numbers.split('.').collect();
    let all_numeric = |s: &&str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if parts.is_empty() || parts.len() > 3 || !parts.iter().all(all_numeric) {
        return None;
    }
    let part = |i: usize| parts.get(i).copied().unwrap_or("0");
    let mut semver = format!("v{}.{}.{}", part(0), part(1), part(2));
    if !prerelease.is_empty() {
        let split_at = prerelease.find(|c: char| c.is_ascii_digit())?;
        let (label, number) = prerelease.split_at(split_at);
        if !matches!(label, "rc" | "beta" | "alpha") || !number.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        semver.push_str(&format!("-{label}.{number}"));
    }
    Some(semver)
}

/// True for the magic numbers of ELF, PE (`MZ`) and Mach-O (both endiannesses, 32/64-bit, fat).
pub(crate) fn is_executable_format(contents: &[u8]) -> bool {
    const MAGICS: [&[u8]; 7] = [
        b"\x7fELF",
        b"MZ",
        b"\xfe\xed\xfa\xce",
        b"\xfe\xed\xfa\xcf",
        b"\xce\xfa\xed\xfe",
        b"\xcf\xfa\xed\xfe",
        b"\xca\xfe\xba\xbe",
    ];
    MAGICS.iter().any(|magic| contents.starts_with(magic))
}

/// Names of files that are executable but obviously not compiled programs.
pub(crate) fn is_obviously_not_a_binary(file_name: &str) -> bool {
    const SCRIPT_SUFFIXES: [&str; 12] = [
        ".sh", ".bash", ".py", ".pl", ".rb", ".js", ".txt", ".md", ".json", ".conf", ".php", ".lua",
    ];
    SCRIPT_SUFFIXES
        .iter()
        .any(|suffix| file_name.ends_with(suffix))
}

/// The cheap claim shared by the binary scanners: an executable regular file of plausible size and name.
pub(crate) fn claims_executable(entry: &EntryInfo<'_>, max_size: u64) -> bool {
    entry.is_executable()
        && (MIN_BINARY_SIZE..=max_size).contains(&entry.size)
        && !is_obviously_not_a_binary(entry.file_name())
}

/// The bytes to search for build info: the dedicated section when the object has one, else the whole file
/// (PE keeps it at the start of `.data`, and stripped ELF files may lack section headers).
fn build_info_region<'a>(file: &object::File<'a>, contents: &'a [u8]) -> &'a [u8] {
    [".go.buildinfo", "__go_buildinfo"]
        .iter()
        .find_map(|name| file.section_by_name(name))
        .and_then(|section| section.data().ok())
        .unwrap_or(contents)
}

impl PackageScanner for GoBinaryScanner {
    fn name(&self) -> &'static str {
        SCANNER_NAME
    }

    fn version(&self) -> &'static str {
        "1"
    }

    fn claims(&self, entry: &EntryInfo<'_>) -> bool {
        claims_executable(entry, MAX_BINARY_SIZE)
    }

    fn max_file_size(&self) -> u64 {
        MAX_BINARY_SIZE
    }

    fn scan(
        &self,
        entry: &EntryInfo<'_>,
        contents: &[u8],
        out: &mut LayerContents,
    ) -> Result<(), ScanError> {
        // Scripts and data files with exec bits are common; they are not errors.
        if !is_executable_format(contents) {
            return Ok(());
        }
        let error = |reason: String| ScanError::new(SCANNER_NAME, entry.path, reason);
        let file = object::File::parse(contents)
            .map_err(|e| error(format!("not a readable executable: {e}")))?;
        let region = build_info_region(&file, contents);
        let info = match decode_build_info(region) {
            // Most executables in an image are not Go programs.
            Err(BuildInfoError::NotFound) => return Ok(()),
            Err(e) => return Err(error(e.to_string())),
            Ok(info) => info,
        };
        let package = |name: &str, version: String| Package {
            ecosystem: Some(Ecosystem::Go),
            name: name.to_owned(),
            version,
            package_db: format!("go:{}", entry.path),
            filepath: entry.path.to_owned(),
            ..Package::default()
        };
        let stdlib_version = go_version_to_semver(&info.go_version).unwrap_or(info.go_version);
        out.packages.push(package("stdlib", stdlib_version));
        for module in info.main.iter().chain(&info.deps) {
            out.packages
                .push(package(&module.path, module.version.clone()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use object::write;

    use super::*;

    fn sample(name: &str) -> Vec<u8> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("src/ecosystems/go/testdata/scanner")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn module(path: &str, version: &str) -> Module {
        Module {
            path: path.to_owned(),
            version: version.to_owned(),
        }
    }

    /// Builds a small ELF object holding `blob` in a `.go.buildinfo` section, the way the Go linker places it.
    fn elf_with_section(section_name: &[u8], blob: &[u8]) -> Vec<u8> {
        let mut obj = write::Object::new(
            object::BinaryFormat::Elf,
            object::Architecture::X86_64,
            object::Endianness::Little,
        );
        let text = obj.add_section(Vec::new(), b".text".to_vec(), object::SectionKind::Text);
        obj.append_section_data(text, &[0xc3; 40], 16);
        let section = obj.add_section(Vec::new(), section_name.to_vec(), object::SectionKind::Data);
        obj.append_section_data(section, blob, 16);
        obj.write().unwrap()
    }

    /// Builds a minimal ELF64 *executable* (one PT_LOAD segment, a `.go.buildinfo` section at a non-zero
    /// address) around `blob`. `go version -m` needs this: it maps the section address through the program
    /// headers, which relocatable objects like [`elf_with_section`]'s lack.
    fn executable_elf_with_build_info(blob: &[u8]) -> Vec<u8> {
        const BASE: u64 = 0x40_0000;
        const BLOB_OFFSET: usize = 128;
        let shstrtab = b"\0.shstrtab\0.go.buildinfo\0";
        let shstrtab_offset = BLOB_OFFSET + blob.len();
        let section_headers_offset = (shstrtab_offset + shstrtab.len()).next_multiple_of(8);
        let file_len = (section_headers_offset + 3 * 64) as u64;
        let mut elf = Vec::new();
        // ELF header.
        elf.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
        elf.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        elf.extend_from_slice(&62u16.to_le_bytes()); // EM_X86_64
        elf.extend_from_slice(&1u32.to_le_bytes());
        elf.extend_from_slice(&BASE.to_le_bytes()); // entry
        elf.extend_from_slice(&64u64.to_le_bytes()); // program headers offset
        elf.extend_from_slice(&(section_headers_offset as u64).to_le_bytes());
        elf.extend_from_slice(&0u32.to_le_bytes());
        for half in [64u16, 56, 1, 64, 3, 2] {
            elf.extend_from_slice(&half.to_le_bytes());
        }
        // One PT_LOAD, read-write, mapping the whole file at BASE.
        elf.extend_from_slice(&1u32.to_le_bytes());
        elf.extend_from_slice(&6u32.to_le_bytes());
        for word in [0, BASE, BASE, file_len, file_len, 0x1000] {
            elf.extend_from_slice(&word.to_le_bytes());
        }
        elf.resize(BLOB_OFFSET, 0);
        elf.extend_from_slice(blob);
        elf.extend_from_slice(shstrtab);
        elf.resize(section_headers_offset, 0);
        let mut section_header = |name: u32,
                                  kind: u32,
                                  flags: u64,
                                  addr: u64,
                                  offset: usize,
                                  size: usize,
                                  align: u64| {
            elf.extend_from_slice(&name.to_le_bytes());
            elf.extend_from_slice(&kind.to_le_bytes());
            for word in [flags, addr, offset as u64, size as u64] {
                elf.extend_from_slice(&word.to_le_bytes());
            }
            elf.extend_from_slice(&[0; 8]); // link, info
            elf.extend_from_slice(&align.to_le_bytes());
            elf.extend_from_slice(&0u64.to_le_bytes());
        };
        section_header(0, 0, 0, 0, 0, 0, 0);
        let blob_addr = BASE + BLOB_OFFSET as u64;
        section_header(11, 1, 3, blob_addr, BLOB_OFFSET, blob.len(), 16); // .go.buildinfo, WA
        section_header(1, 3, 0, 0, shstrtab_offset, shstrtab.len(), 1); // .shstrtab
        elf
    }

    /// Builds an inline-format build info blob (Go 1.18+) from a version and module-info text.
    fn inline_blob(version: &str, modinfo: &str) -> Vec<u8> {
        let mut blob = BUILD_INFO_MAGIC.to_vec();
        blob.push(8); // pointer size
        blob.push(FLAG_VERSION_INLINE);
        blob.resize(BUILD_INFO_HEADER_SIZE, 0);
        let mut framed = b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6".to_vec();
        framed.extend_from_slice(modinfo.as_bytes());
        framed.extend_from_slice(b"\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2");
        for string in [version.as_bytes(), &framed] {
            let mut len = string.len();
            loop {
                let byte = (len & 0x7f) as u8;
                len >>= 7;
                if len == 0 {
                    blob.push(byte);
                    break;
                }
                blob.push(byte | 0x80);
            }
            blob.extend_from_slice(string);
        }
        blob
    }

    fn scan(path: &str, contents: &[u8]) -> Result<Vec<Package>, ScanError> {
        let mut out = LayerContents::default();
        let entry = EntryInfo {
            path,
            size: contents.len() as u64,
            mode: 0o755,
        };
        GoBinaryScanner.scan(&entry, contents, &mut out)?;
        Ok(out.packages)
    }

    #[test]
    fn real_kubectl_build_info() {
        let info = decode_build_info(&sample("kubectl-528.0.0.go.buildinfo")).unwrap();
        assert_eq!(info.go_version, "go1.23.8");
        assert_eq!(info.main, Some(module("k8s.io/kubernetes", "(devel)")));
        assert_eq!(info.deps.len(), 82);
        assert_eq!(
            info.deps.first(),
            Some(&module("github.com/MakeNowJust/heredoc", "v1.0.0"))
        );
        assert_eq!(
            info.deps.last(),
            Some(&module("sigs.k8s.io/yaml", "v1.4.0"))
        );
        for expected in [
            module(
                "github.com/davecgh/go-spew",
                "v1.1.2-0.20180830191138-d8f796af33cc",
            ),
            module("sigs.k8s.io/kustomize/kyaml", "v0.18.1"),
            module("sigs.k8s.io/structured-merge-diff/v4", "v4.4.2"),
        ] {
            assert!(info.deps.contains(&expected), "{expected:?}");
        }
        // `path` (the main package) and `build` settings are not modules.
        for not_expected in [
            "k8s.io/kubernetes/cmd/kubectl-sdk",
            "-buildmode",
            "GOOS",
            "vcs",
        ] {
            assert!(
                !info.deps.iter().any(|m| m.path.starts_with(not_expected)),
                "{not_expected}"
            );
        }
    }

    #[test]
    fn real_build_info_without_modules_and_with_experiment_suffix() {
        let info =
            decode_build_info(&sample("gke-gcloud-auth-plugin-528.0.0.go.buildinfo")).unwrap();
        assert_eq!(
            info,
            BuildInfo {
                go_version: "go1.23.1 X:nocoverageredesign".to_owned(),
                main: None,
                deps: Vec::new(),
            }
        );
    }

    #[test]
    fn elf_around_real_blob_gives_packages() {
        let elf = elf_with_section(b".go.buildinfo", &sample("kubectl-528.0.0.go.buildinfo"));
        let packages = scan("usr/bin/kubectl", &elf).unwrap();
        assert_eq!(packages.len(), 1 + 1 + 82);
        let expected = |name: &str, version: &str| Package {
            ecosystem: Some(Ecosystem::Go),
            name: name.to_owned(),
            version: version.to_owned(),
            package_db: "go:usr/bin/kubectl".to_owned(),
            filepath: "usr/bin/kubectl".to_owned(),
            ..Package::default()
        };
        assert_eq!(packages[0], expected("stdlib", "v1.23.8"));
        assert_eq!(packages[1], expected("k8s.io/kubernetes", "(devel)"));
        assert_eq!(
            packages[2],
            expected("github.com/MakeNowJust/heredoc", "v1.0.0")
        );
        assert_eq!(packages[83], expected("sigs.k8s.io/yaml", "v1.4.0"));
    }

    #[test]
    fn blob_elsewhere_in_file_found_at_aligned_offset() {
        // No dedicated section (as in PE `.data`): the whole file is searched.
        let elf = elf_with_section(
            b".data",
            &sample("gke-gcloud-auth-plugin-528.0.0.go.buildinfo"),
        );
        let packages = scan("usr/bin/gke-gcloud-auth-plugin", &elf).unwrap();
        assert_eq!(packages.len(), 1);
        assert_eq!(packages[0].name, "stdlib");
        assert_eq!(packages[0].version, "v1.23.1");
    }

    #[test]
    fn replacements_report_the_replacing_module() {
        let modinfo = "path\texample.com/app\n\
                       mod\texample.com/app\tv1.2.3\th1:abc=\n\
                       =>\texample.com/fork-of-app\tv1.2.4\th1:def=\n\
                       dep\tgolang.org/x/net\tv0.17.0\th1:x=\n\
                       =>\tgithub.com/fork/net\tv0.18.0\th1:y=\n\
                       dep\tgolang.org/x/text\tv0.14.0\th1:z=\n\
                       dep\texample.com/local\tv0.0.0\n\
                       =>\t../local\t\n\
                       build\t-compiler=gc\n";
        let info = decode_build_info(&inline_blob("go1.21.5", modinfo)).unwrap();
        assert_eq!(info.main, Some(module("example.com/fork-of-app", "v1.2.4")));
        assert_eq!(
            info.deps,
            vec![
                module("github.com/fork/net", "v0.18.0"),
                module("golang.org/x/text", "v0.14.0"),
                module("../local", ""),
            ]
        );
        assert!(!info.deps.iter().any(|m| m.path == "golang.org/x/net"));
    }

    #[test]
    fn go_versions_to_semver() {
        for (go, semver) in [
            ("go1.23.8", Some("v1.23.8")),
            ("go1.20", Some("v1.20.0")),
            ("go1.21rc2", Some("v1.21.0-rc.2")),
            ("go1.19beta1", Some("v1.19.0-beta.1")),
            ("go1.23.1 X:nocoverageredesign", Some("v1.23.1")),
            ("go1.22.5-boringcrypto", Some("v1.22.5")),
            ("devel go1.23-abc123 Tue", None),
            ("go", None),
            ("go1..2", None),
            ("go1.2.3.4", None),
            ("go1.21xyz", None),
            ("", None),
        ] {
            assert_eq!(go_version_to_semver(go).as_deref(), semver, "{go}");
        }
    }

    #[test]
    fn broken_blobs_are_clear_errors() {
        let real = sample("kubectl-528.0.0.go.buildinfo");
        assert_eq!(decode_build_info(b""), Err(BuildInfoError::NotFound));
        assert_eq!(
            decode_build_info(&real[..20]),
            Err(BuildInfoError::TruncatedHeader)
        );
        assert_eq!(
            decode_build_info(&real[..40]),
            Err(BuildInfoError::BadString)
        );
        assert_eq!(
            decode_build_info(&real[..1000]),
            Err(BuildInfoError::BadString)
        );
        // Magic at an unaligned offset is not build info.
        let mut unaligned = vec![0u8; 3];
        unaligned.extend_from_slice(&real);
        assert_eq!(decode_build_info(&unaligned), Err(BuildInfoError::NotFound));
        // Pointer format (flags without the inline bit).
        let mut pointer = real.clone();
        pointer[15] = 0;
        assert_eq!(
            decode_build_info(&pointer),
            Err(BuildInfoError::PointerFormat)
        );
        // A length varint claiming an absurd size, and one that never terminates.
        let mut huge = real[..32].to_vec();
        huge.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
        assert!(matches!(
            decode_build_info(&huge),
            Err(BuildInfoError::StringTooLong(_))
        ));
        let mut endless = real[..32].to_vec();
        endless.extend_from_slice(&[0x80; 12]);
        assert_eq!(decode_build_info(&endless), Err(BuildInfoError::BadString));
        assert_eq!(
            decode_build_info(&inline_blob("go1.22", "=>\tx\tv1\n")),
            Err(BuildInfoError::BadModinfoLine("=>\tx\tv1".to_owned()))
        );
        assert_eq!(
            decode_build_info(&inline_blob("go1.22", "dep\t\tv1\n")),
            Err(BuildInfoError::BadModinfoLine("dep\t\tv1".to_owned()))
        );
        let mut not_utf8 = inline_blob("go1.22", "dep\tx\tv1\n");
        let version_at = BUILD_INFO_HEADER_SIZE + 1;
        not_utf8[version_at] = 0xff;
        assert_eq!(
            decode_build_info(&not_utf8),
            Err(BuildInfoError::NotUtf8("version"))
        );
    }

    #[test]
    fn non_go_and_broken_executables() {
        // A shell script with exec bits: not an error, nothing found.
        assert_eq!(
            scan("usr/bin/tool", b"#!/bin/sh\necho hi\n").unwrap(),
            vec![]
        );
        // A valid ELF without Go build info: nothing found.
        let plain = elf_with_section(b".data", b"no build info here");
        assert_eq!(scan("usr/bin/plain", &plain).unwrap(), vec![]);
        // A truncated ELF is an error naming the file.
        let elf = elf_with_section(b".go.buildinfo", &sample("kubectl-528.0.0.go.buildinfo"));
        let err = scan("usr/bin/kubectl", &elf[..100]).unwrap_err();
        assert_eq!((err.scanner, err.path.as_str()), ("go", "usr/bin/kubectl"));
        assert!(err.reason.contains("not a readable executable"), "{err}");
        // ELF magic followed by garbage.
        let err = scan("usr/bin/x", b"\x7fELF\x02\x01\x01garbagegarbagegarbage").unwrap_err();
        assert!(err.reason.contains("not a readable executable"), "{err}");
        // A Go section holding a corrupt blob is an error, not silence.
        let mut blob = sample("kubectl-528.0.0.go.buildinfo");
        blob.truncate(500);
        let err = scan("usr/bin/k", &elf_with_section(b".go.buildinfo", &blob)).unwrap_err();
        assert!(err.reason.contains("truncated"), "{err}");
    }

    /// A module path such as `github.com/ab-c/d.e/v2`.
    fn module_path_strategy() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::string::string_regex("[a-z]{1,8}\\.(com|org|io)(/[a-z0-9][a-z0-9._-]{0,10}){1,3}")
            .unwrap()
    }

    /// A module version such as `v1.2.3` or a pseudo-version.
    fn module_version_strategy() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::string::string_regex(
            "v(0|[1-9][0-9]{0,2})\\.(0|[1-9][0-9]{0,2})\\.(0|[1-9][0-9]{0,2})(-0\\.[0-9]{14}-[0-9a-f]{12})?",
        )
        .unwrap()
    }

    /// One `mod`/`dep` line, optionally followed by a `=>` replacement line, with Go's 4-column layout.
    fn module_lines_strategy(
        kind: &'static str,
    ) -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::strategy::Strategy;
        (
            module_path_strategy(),
            module_version_strategy(),
            proptest::option::of((module_path_strategy(), module_version_strategy())),
        )
            .prop_map(move |(path, version, replacement)| {
                let mut lines = format!("{kind}\t{path}\t{version}\th1:c3VtCg==\n");
                if let Some((path, version)) = replacement {
                    lines.push_str(&format!("=>\t{path}\t{version}\th1:cmVwbGFjZWQK\n"));
                }
                lines
            })
    }

    /// A whole module-info text: `path`, optional `mod`, up to 6 deps, a `build` line.
    fn modinfo_strategy() -> impl proptest::strategy::Strategy<Value = (String, String)> {
        use proptest::strategy::Strategy;
        (
            proptest::string::string_regex("go1\\.(1[89]|2[0-5])(\\.[0-9]{1,2})?").unwrap(),
            module_path_strategy(),
            proptest::option::of(module_lines_strategy("mod")),
            proptest::collection::vec(module_lines_strategy("dep"), 0..6),
        )
            .prop_map(|(version, path, main, deps)| {
                let mut modinfo = format!("path\t{path}/cmd/app\n");
                modinfo.push_str(&main.unwrap_or_default());
                modinfo.extend(deps);
                modinfo.push_str("build\t-compiler=gc\n");
                (version, modinfo)
            })
    }

    /// Checks the decoder against the Go toolchain's own reader (`go version -m`, which uses
    /// `debug/buildinfo`): thousands of generated build-info blobs, each wrapped in an ELF file, all read by
    /// one `go` process.
    #[test]
    fn decoder_matches_go_version_m() {
        use proptest::strategy::{Strategy, ValueTree};
        const CASES: usize = 2000;
        let mut runner = proptest::test_runner::TestRunner::default();
        let dir = tempfile::tempdir().unwrap();
        let mut files = Vec::with_capacity(CASES);
        for i in 0..CASES {
            let (version, modinfo) = modinfo_strategy().new_tree(&mut runner).unwrap().current();
            let blob = inline_blob(&version, &modinfo);
            let file = dir.path().join(format!("bin{i}"));
            let elf = executable_elf_with_build_info(&blob);
            // Our scanner reads the same file the reference reads.
            assert_eq!(scan("bin/app", &elf).unwrap().len(), {
                let info = decode_build_info(&blob).unwrap();
                1 + usize::from(info.main.is_some()) + info.deps.len()
            });
            std::fs::write(&file, elf).unwrap();
            // `go version` skips files without an execute bit.
            std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .unwrap();
            files.push((file, blob));
        }
        let output = std::process::Command::new("go")
            .args(["version", "-m"])
            .args(files.iter().map(|(file, _)| file))
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "the reference tool `go` is not runnable ({e}); install the Go toolchain, \
                     e.g. `apt-get install -y golang-go`"
                )
            });
        let stdout = String::from_utf8(output.stdout).unwrap();
        assert!(
            output.status.success(),
            "go version -m failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        // Split Go's report into one record per file: `<file>: <go version>` then tab-indented lines.
        let mut records: Vec<(String, String)> = Vec::new();
        for line in stdout.lines() {
            if let Some(indented) = line.strip_prefix('\t') {
                let (_, text) = records.last_mut().unwrap();
                text.push_str(indented);
                text.push('\n');
            } else {
                let (_, version) = line.rsplit_once(": ").unwrap();
                records.push((version.to_owned(), String::new()));
            }
        }
        assert_eq!(
            records.len(),
            CASES,
            "one record per file; go said: {}",
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .take(5)
                .collect::<Vec<_>>()
                .join("\n")
        );
        for ((file, blob), (go_version, go_modinfo)) in files.iter().zip(&records) {
            let ours = decode_build_info(blob).unwrap();
            let (go_main, go_deps) = parse_modinfo(go_modinfo).unwrap();
            let reference = BuildInfo {
                go_version: go_version.clone(),
                main: go_main,
                deps: go_deps,
            };
            assert_eq!(ours, reference, "{}:\n{go_modinfo}", file.display());
        }
    }

    #[test]
    fn claims_executables_of_plausible_size() {
        let claims = |path: &str, size: u64, mode: u32| {
            GoBinaryScanner.claims(&EntryInfo { path, size, mode })
        };
        assert!(claims("usr/bin/kubectl", 57_346_792, 0o755));
        assert!(claims("usr/local/bin/app", 2_000_000, 0o100));
        assert!(!claims("usr/bin/kubectl", 57_346_792, 0o644));
        assert!(!claims("usr/bin/huge", MAX_BINARY_SIZE + 1, 0o755));
        assert!(!claims("usr/bin/tiny", 10, 0o755));
        assert!(!claims("usr/bin/run.sh", 5000, 0o755));
        assert!(!claims("opt/app/main.py", 5000, 0o755));
    }
}
