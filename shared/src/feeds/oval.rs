//! A generic OVAL 5 definitions parser (Debian, Ubuntu, Red Hat, Oracle, SUSE all publish OVAL), and the
//! resolution of a definition's criteria into "package P is affected below version V" statements.
//!
//! An OVAL document is four cross-referenced tables: **definitions** (an advisory: metadata plus a criteria
//! tree), **tests** (`dpkginfo_test`, `rpminfo_test`, `uname_test`, …: an object, optionally checked against a
//! state), **objects** (what to look at: a package name, literal or via a variable), **states** (what the
//! object must look like: `evr less than 0:1.2-3`, an arch pattern, a signing key) and **variables** (lists
//! of package names, Ubuntu's way of sharing one test among binary packages).
//!
//! Parsing streams the document with `quick-xml`: each definition/test/object/state/variable is collected as a
//! small element tree, converted to its typed form and dropped, so memory holds the typed tables and never a
//! DOM of the whole 50 MB file. Element and attribute names are matched by local name, so the many namespace
//! prefixes in use (`red-def:`, `linux:`, `linux-def:`, none) are all accepted.
//!
//! [`OvalDocument::affected_packages`] turns a definition into [`AffectedPackage`]s, the way claircore's
//! `ovalutil` does: every `dpkginfo_test`/`rpminfo_test` criterion in the tree whose state (if any) is an
//! `evr` `less than` check yields (package names, fixed version); a test without a state means "affected,
//! no fix". Criterion comments `Module <name:stream> is enabled` (Red Hat) attach the module to every package
//! of the definition. What a distribution's own conventions mean (Debian's `0:0`) is left to its module.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

/// Deepest element nesting accepted. Real feeds nest criteria under ten levels; a hostile document nested a
/// million deep would otherwise exhaust the stack when its criteria tree is converted.
const MAX_DEPTH: usize = 64;

/// Why an OVAL document could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OvalError {
    #[error("XML error at byte {position}: {message}")]
    Xml { position: u64, message: String },
    #[error("document ends inside an element (truncated?)")]
    Truncated,
    #[error("not an OVAL definitions document (root element {0:?})")]
    NotOval(String),
    #[error("<{element}> lacks its {attribute:?} attribute")]
    MissingAttribute {
        element: String,
        attribute: &'static str,
    },
    #[error("elements nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("unknown entity reference &{0};")]
    UnknownEntity(String),
    #[error("{kind} {id:?} is referenced but not defined")]
    DanglingReference { kind: &'static str, id: String },
}

/// A parsed OVAL definitions document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OvalDocument {
    /// Definitions in document order.
    pub definitions: Vec<Definition>,
    pub tests: HashMap<String, Test>,
    pub objects: HashMap<String, Object>,
    pub states: HashMap<String, State>,
    /// `constant_variable` values by variable id (other variable kinds carry no usable values).
    pub variables: HashMap<String, Vec<String>>,
}

/// One OVAL definition: an advisory (`class="patch"`), a vulnerability (`class="vulnerability"`), or an
/// inventory check (`class="inventory"`, e.g. "Ubuntu 24.10 is installed").
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Definition {
    pub id: String,
    pub class: String,
    pub title: String,
    pub description: String,
    pub references: Vec<Reference>,
    /// `advisory/severity` (Ubuntu, Red Hat); empty when absent (Debian).
    pub severity: String,
    /// `advisory/issued@date` or Debian's `debian/date`, as written (`2024-10-21`).
    pub issued: Option<String>,
    /// `affected/platform` (`Debian GNU/Linux 12`, `Red Hat Enterprise Linux 9`).
    pub platforms: Vec<String>,
    /// `affected/product` (Debian: the source package).
    pub products: Vec<String>,
    /// `advisory/cve` entries (Ubuntu, Red Hat), with their per-CVE priority.
    pub advisory_cves: Vec<AdvisoryCve>,
    /// Debian's `debian/moreinfo`, the DSA text that replaces a generic "security update" description.
    pub more_info: String,
    pub criteria: Option<Criteria>,
}

impl Definition {
    /// The CVE ids this definition refers to, from references and advisory entries, deduplicated, in order.
    pub fn cve_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        let from_refs = self
            .references
            .iter()
            .filter(|r| r.source.eq_ignore_ascii_case("CVE"))
            .map(|r| r.ref_id.as_str());
        let from_advisory = self.advisory_cves.iter().map(|c| c.id.as_str());
        for id in from_refs.chain(from_advisory) {
            if !id.is_empty() && !ids.iter().any(|known| known == id) {
                ids.push(id.to_owned());
            }
        }
        ids
    }

    /// Every URL the definition mentions (references, then advisory CVE links), deduplicated, in order.
    pub fn links(&self) -> Vec<String> {
        let mut links: Vec<String> = Vec::new();
        let urls = self
            .references
            .iter()
            .map(|r| r.ref_url.as_str())
            .chain(self.advisory_cves.iter().map(|c| c.href.as_str()));
        for url in urls {
            if !url.is_empty() && !links.iter().any(|known| known == url) {
                links.push(url.to_owned());
            }
        }
        links
    }
}

/// `metadata/reference`: `source` is `CVE`, `USN`, `RHSA`, `DSA`, ….
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reference {
    pub source: String,
    pub ref_id: String,
    pub ref_url: String,
}

/// `advisory/cve`: the CVE id, its link and the vendor's priority for it (Ubuntu's `priority`, Red Hat's
/// `impact`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdvisoryCve {
    pub id: String,
    pub href: String,
    pub priority: String,
}

/// How a criteria node combines its children.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CriteriaOperator {
    #[default]
    And,
    Or,
    One,
    Xor,
}

/// A `criteria` node.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Criteria {
    pub operator: CriteriaOperator,
    pub negate: bool,
    pub comment: String,
    pub children: Vec<CriteriaNode>,
}

/// A child of a `criteria` node.
#[derive(Debug, Clone, PartialEq)]
pub enum CriteriaNode {
    Criteria(Criteria),
    Criterion {
        test_ref: String,
        comment: String,
        negate: bool,
    },
    ExtendDefinition {
        definition_ref: String,
        comment: String,
        negate: bool,
    },
}

/// A test: `kind` is the element's local name (`dpkginfo_test`, `rpminfo_test`, `uname_test`, …).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Test {
    pub id: String,
    pub kind: String,
    pub comment: String,
    pub object_ref: String,
    pub state_refs: Vec<String>,
}

/// The package name an object looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectName {
    Literal(String),
    /// `var_ref`: the names are the values of a variable.
    Variable(String),
}

/// An object: `kind` is the element's local name (`dpkginfo_object`, `rpminfo_object`, …).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Object {
    pub id: String,
    pub kind: String,
    pub name: Option<ObjectName>,
}

/// One checked field of a state: `<evr datatype="debian_evr_string" operation="less than">0:1.2-3</evr>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StateField {
    pub operation: String,
    pub datatype: String,
    pub value: String,
}

/// A state: `kind` is the element's local name (`dpkginfo_state`, `rpminfo_state`, …).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    pub id: String,
    pub kind: String,
    pub evr: Option<StateField>,
    pub arch: Option<StateField>,
}

/// The package database a test looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PackageInfoKind {
    Dpkg,
    Rpm,
}

/// One "package is affected" statement resolved from a definition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AffectedPackage {
    pub kind: PackageInfoKind,
    pub name: String,
    /// The `evr` of the `less than` state, as written (`0:1.2-3`); `None` when the test has no state:
    /// affected, no fix.
    pub fixed_version: Option<String>,
    /// The state's arch constraint (`operation` `pattern match` / `equals`, value `aarch64|x86_64`).
    pub arch: Option<StateField>,
    /// Red Hat module stream (`nodejs:18`) from a `Module … is enabled` criterion; empty otherwise.
    pub module: String,
}

impl OvalDocument {
    /// Resolves a definition's criteria tree into the affected packages it states, deduplicated, in tree
    /// order. Criteria and criterions with `negate="true"` are skipped: "not earlier than" affects nothing.
    /// Tests other than `dpkginfo_test`/`rpminfo_test`, and states without an `evr` `less than` check
    /// (signing keys, `uname` patterns), state nothing about package versions and are skipped too.
    ///
    /// A reference to an undefined test, object, state or variable is an error: the document is
    /// inconsistent and a silently dropped criterion would hide a vulnerability.
    pub fn affected_packages(
        &self,
        definition: &Definition,
    ) -> Result<Vec<AffectedPackage>, OvalError> {
        let mut test_refs = Vec::new();
        let mut modules = Vec::new();
        if let Some(criteria) = &definition.criteria {
            collect_criterions(criteria, &mut test_refs, &mut modules);
        }
        if modules.is_empty() {
            modules.push(String::new());
        }
        let mut affected: Vec<AffectedPackage> = Vec::new();
        for test_ref in test_refs {
            let test = self
                .tests
                .get(test_ref)
                .ok_or_else(|| OvalError::DanglingReference {
                    kind: "test",
                    id: test_ref.to_owned(),
                })?;
            let kind = match test.kind.as_str() {
                "dpkginfo_test" => PackageInfoKind::Dpkg,
                "rpminfo_test" => PackageInfoKind::Rpm,
                _ => continue,
            };
            let object =
                self.objects
                    .get(&test.object_ref)
                    .ok_or_else(|| OvalError::DanglingReference {
                        kind: "object",
                        id: test.object_ref.clone(),
                    })?;
            if !matches!(object.kind.as_str(), "dpkginfo_object" | "rpminfo_object") {
                continue;
            }
            let names: Vec<String> = match &object.name {
                None => continue,
                Some(ObjectName::Literal(name)) => vec![name.clone()],
                Some(ObjectName::Variable(var_ref)) => self
                    .variables
                    .get(var_ref)
                    .ok_or_else(|| OvalError::DanglingReference {
                        kind: "variable",
                        id: var_ref.clone(),
                    })?
                    .clone(),
            };
            let (fixed_version, arch) = match test.state_refs.first() {
                None => (None, None),
                Some(state_ref) => {
                    let state =
                        self.states
                            .get(state_ref)
                            .ok_or_else(|| OvalError::DanglingReference {
                                kind: "state",
                                id: state_ref.clone(),
                            })?;
                    match &state.evr {
                        Some(evr)
                            if evr.operation.eq_ignore_ascii_case("less than")
                                && !evr.value.is_empty() =>
                        {
                            (Some(evr.value.clone()), state.arch.clone())
                        }
                        _ => continue,
                    }
                }
            };
            for name in names.iter().filter(|n| !n.is_empty()) {
                for module in &modules {
                    let package = AffectedPackage {
                        kind,
                        name: name.clone(),
                        fixed_version: fixed_version.clone(),
                        arch: arch.clone(),
                        module: module.clone(),
                    };
                    if !affected.contains(&package) {
                        affected.push(package);
                    }
                }
            }
        }
        Ok(affected)
    }
}

/// Collects non-negated criterion test refs depth-first, and module streams from `Module X is enabled`.
fn collect_criterions<'a>(
    criteria: &'a Criteria,
    test_refs: &mut Vec<&'a str>,
    modules: &mut Vec<String>,
) {
    if criteria.negate {
        return;
    }
    for child in &criteria.children {
        match child {
            CriteriaNode::Criteria(inner) => collect_criterions(inner, test_refs, modules),
            CriteriaNode::Criterion {
                test_ref,
                comment,
                negate,
            } => {
                if let Some(module) = comment
                    .strip_prefix("Module ")
                    .and_then(|rest| rest.strip_suffix(" is enabled"))
                {
                    if !module.is_empty() && !modules.iter().any(|m| m == module) {
                        modules.push(module.to_owned());
                    }
                    continue;
                }
                if !negate {
                    test_refs.push(test_ref);
                }
            }
            CriteriaNode::ExtendDefinition { .. } => {}
        }
    }
}

/// A small element tree for one table entry (definition, test, …), built while streaming. Other streamed XML
/// feeds (Amazon's `updateinfo.xml`) collect their entries with it too.
#[derive(Debug, Default)]
pub(crate) struct Element {
    pub(crate) name: String,
    attributes: Vec<(String, String)>,
    pub(crate) children: Vec<Element>,
    text: String,
}

impl Element {
    /// Appends a text-bearing event (text, CDATA, a character or predefined entity reference) to the
    /// element's text; other events are ignored.
    pub(crate) fn push_text<R>(
        &mut self,
        reader: &Reader<R>,
        event: &Event<'_>,
    ) -> Result<(), OvalError> {
        match event {
            Event::Text(text) => self.text.push_str(&text.xml10_content()),
            Event::CData(data) => self.text.push_str(&data.xml10_content()),
            Event::GeneralRef(reference) => {
                match reference
                    .resolve_char_ref()
                    .map_err(|e| xml_error(reader, e))?
                {
                    Some(c) => self.text.push(c),
                    None => {
                        let name = reference.xml10_content();
                        let replacement = quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| {
                                OvalError::UnknownEntity(name.chars().take(40).collect())
                            })?;
                        self.text.push_str(replacement);
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    pub(crate) fn from_start(start: &BytesStart<'_>) -> Result<Element, OvalError> {
        let mut attributes = Vec::new();
        for attribute in start.attributes() {
            let attribute = attribute.map_err(|e| OvalError::Xml {
                position: 0,
                message: e.to_string(),
            })?;
            let value = attribute
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| OvalError::Xml {
                    position: 0,
                    message: e.to_string(),
                })?;
            attributes.push((
                attribute.key.local_name().as_ref().to_owned(),
                value.into_owned(),
            ));
        }
        Ok(Element {
            name: start.local_name().as_ref().to_owned(),
            attributes,
            children: Vec::new(),
            text: String::new(),
        })
    }

    pub(crate) fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    pub(crate) fn required(&self, name: &'static str) -> Result<String, OvalError> {
        self.attribute(name)
            .map(str::to_owned)
            .ok_or_else(|| OvalError::MissingAttribute {
                element: self.name.clone(),
                attribute: name,
            })
    }

    pub(crate) fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub(crate) fn children_named<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    pub(crate) fn text(&self) -> String {
        self.text.trim().to_owned()
    }
}

/// The top-level tables of an OVAL document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Definitions,
    Tests,
    Objects,
    States,
    Variables,
    /// `generator` and anything unknown: read past.
    Other,
}

impl Section {
    fn from_name(name: &str) -> Section {
        match name {
            "definitions" => Section::Definitions,
            "tests" => Section::Tests,
            "objects" => Section::Objects,
            "states" => Section::States,
            "variables" => Section::Variables,
            _ => Section::Other,
        }
    }
}

pub(crate) fn xml_error<R>(reader: &Reader<R>, error: impl std::fmt::Display) -> OvalError {
    OvalError::Xml {
        position: reader.error_position(),
        message: error.to_string(),
    }
}

/// Wraps a `.bz2` stream (Debian, Ubuntu and Oracle publish OVAL as `.xml.bz2`) so it reads as the
/// uncompressed document. Multi-stream files (as written by `pbzip2`) are read to their end.
pub fn bz2_decoder<R: Read>(compressed: R) -> bzip2::read::MultiBzDecoder<R> {
    bzip2::read::MultiBzDecoder::new(compressed)
}

/// Parses a date as OVAL metadata writes it (`2024-10-21`, sometimes with a time after it) into midnight UTC.
/// The record of an rpm OVAL definition for one affected package, as every rpm OVAL vendor files it
/// (Red Hat, Oracle, SUSE): binary package, module stream, `[{fixed}]` or unfixed, the vendor's severity
/// string, CVE aliases other than `name`. Callers set `updater` and `normalized_severity` (their own scale)
/// and override what their format says differently.
pub fn rpm_vulnerability(
    definition: &Definition,
    package: &AffectedPackage,
    name: String,
    distribution: crate::model::DistributionSelector,
) -> crate::model::Vulnerability {
    let fixed = package
        .fixed_version
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
    crate::model::Vulnerability {
        aliases: definition
            .cve_ids()
            .into_iter()
            .filter(|id| *id != name)
            .collect(),
        description: if definition.description.is_empty() {
            definition.title.clone()
        } else {
            definition.description.clone()
        },
        issued: definition.issued.as_deref().and_then(parse_date),
        links: definition.links(),
        severity: definition.severity.clone(),
        ecosystem: Some(crate::model::Ecosystem::Rpm),
        package_name: package.name.clone(),
        package_is_source: false,
        distribution: Some(distribution),
        module: package.module.clone(),
        ranges: fixed
            .iter()
            .map(|version| crate::model::AffectedRange {
                fixed: Some(version.clone()),
                ..Default::default()
            })
            .collect(),
        fixed_in_version: fixed.unwrap_or_default(),
        name,
        ..Default::default()
    }
}

pub fn parse_date(text: &str) -> Option<time::OffsetDateTime> {
    let day = text.trim().get(..10)?;
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(day, format)
        .ok()
        .map(|date| date.midnight().assume_utc())
}

/// Parses an OVAL document and maps every (vulnerability or patch definition, affected package of `kind`)
/// pair through `to_record`: the loop every OVAL-based source shares. Errors name `updater`.
pub fn parse_records(
    input: impl Read,
    updater: &str,
    kind: PackageInfoKind,
    mut to_record: impl FnMut(&Definition, &AffectedPackage) -> Option<crate::model::Vulnerability>,
) -> Result<Vec<crate::model::Vulnerability>, crate::feeds::FeedError> {
    use crate::feeds::FeedError;
    let document = parse(input).map_err(|e| FeedError::malformed(updater, e))?;
    let mut records = Vec::new();
    for definition in &document.definitions {
        if !matches!(definition.class.as_str(), "vulnerability" | "patch") {
            continue;
        }
        let packages = document
            .affected_packages(definition)
            .map_err(|e| FeedError::malformed(updater, format!("{}: {e}", definition.id)))?;
        records.extend(
            packages
                .iter()
                .filter(|p| p.kind == kind)
                .filter_map(|p| to_record(definition, p)),
        );
    }
    Ok(records)
}

/// Parses an (uncompressed) OVAL definitions document.
pub fn parse(input: impl Read) -> Result<OvalDocument, OvalError> {
    parse_buffered(BufReader::new(input))
}

fn parse_buffered(input: impl BufRead) -> Result<OvalDocument, OvalError> {
    let mut reader = Reader::from_reader(input);
    let mut document = OvalDocument::default();
    let mut buffer = Vec::new();
    // Open elements: depth 1 is the root, 2 a section, 3 and deeper an entry and its content.
    let mut depth = 0usize;
    let mut section = Section::Other;
    let mut open: Vec<Element> = Vec::new();
    let mut saw_root = false;
    loop {
        let event = reader
            .read_event_into(&mut buffer)
            .map_err(|e| xml_error(&reader, e))?;
        match event {
            Event::Start(start) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(OvalError::TooDeep);
                }
                match depth {
                    1 => {
                        check_root(&start)?;
                        saw_root = true;
                    }
                    2 => section = Section::from_name(start.local_name().as_ref()),
                    _ if section != Section::Other => open.push(Element::from_start(&start)?),
                    _ => {}
                }
            }
            Event::Empty(start) => match depth + 1 {
                1 => {
                    check_root(&start)?;
                    saw_root = true;
                }
                2 => {}
                _ if section != Section::Other => {
                    let element = Element::from_start(&start)?;
                    match open.last_mut() {
                        Some(parent) => parent.children.push(element),
                        None => add_entry(&mut document, section, element)?,
                    }
                }
                _ => {}
            },
            Event::End(_) => {
                if depth >= 3
                    && section != Section::Other
                    && let Some(element) = open.pop()
                {
                    match open.last_mut() {
                        Some(parent) => parent.children.push(element),
                        None => add_entry(&mut document, section, element)?,
                    }
                }
                if depth == 2 {
                    section = Section::Other;
                }
                depth = depth.saturating_sub(1);
            }
            Event::Text(_) | Event::CData(_) | Event::GeneralRef(_) => {
                if let Some(element) = open.last_mut() {
                    element.push_text(&reader, &event)?;
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buffer.clear();
    }
    if depth != 0 {
        return Err(OvalError::Truncated);
    }
    if !saw_root {
        return Err(OvalError::NotOval(String::new()));
    }
    Ok(document)
}

fn check_root(start: &BytesStart<'_>) -> Result<(), OvalError> {
    let name = start.local_name();
    if name.as_ref() == "oval_definitions" {
        Ok(())
    } else {
        Err(OvalError::NotOval(name.as_ref().chars().take(40).collect()))
    }
}

/// Converts a finished top-level entry into its typed form and files it in its table.
fn add_entry(
    document: &mut OvalDocument,
    section: Section,
    element: Element,
) -> Result<(), OvalError> {
    match section {
        Section::Definitions if element.name == "definition" => {
            document.definitions.push(definition_from(&element)?);
        }
        Section::Tests => {
            let test = Test {
                id: element.required("id")?,
                comment: element.attribute("comment").unwrap_or_default().to_owned(),
                object_ref: element
                    .child("object")
                    .and_then(|o| o.attribute("object_ref"))
                    .unwrap_or_default()
                    .to_owned(),
                state_refs: element
                    .children_named("state")
                    .filter_map(|s| s.attribute("state_ref"))
                    .map(str::to_owned)
                    .collect(),
                kind: element.name,
            };
            document.tests.insert(test.id.clone(), test);
        }
        Section::Objects => {
            let name = element
                .child("name")
                .map(|name| match name.attribute("var_ref") {
                    Some(var_ref) => ObjectName::Variable(var_ref.to_owned()),
                    None => ObjectName::Literal(name.text()),
                });
            let object = Object {
                id: element.required("id")?,
                name,
                kind: element.name,
            };
            document.objects.insert(object.id.clone(), object);
        }
        Section::States => {
            let field = |name: &str| {
                element.child(name).map(|f| StateField {
                    operation: f.attribute("operation").unwrap_or("equals").to_owned(),
                    datatype: f.attribute("datatype").unwrap_or_default().to_owned(),
                    value: f.text(),
                })
            };
            let state = State {
                id: element.required("id")?,
                evr: field("evr"),
                arch: field("arch"),
                kind: element.name.clone(),
            };
            document.states.insert(state.id.clone(), state);
        }
        Section::Variables => {
            let id = element.required("id")?;
            let values = if element.name == "constant_variable" {
                element.children_named("value").map(Element::text).collect()
            } else {
                Vec::new()
            };
            document.variables.insert(id, values);
        }
        Section::Definitions | Section::Other => {}
    }
    Ok(())
}

fn definition_from(element: &Element) -> Result<Definition, OvalError> {
    let mut definition = Definition {
        id: element.required("id")?,
        class: element.attribute("class").unwrap_or_default().to_owned(),
        ..Definition::default()
    };
    if let Some(metadata) = element.child("metadata") {
        definition.title = metadata
            .child("title")
            .map(Element::text)
            .unwrap_or_default();
        definition.description = metadata
            .child("description")
            .map(Element::text)
            .unwrap_or_default();
        for affected in metadata.children_named("affected") {
            definition
                .platforms
                .extend(affected.children_named("platform").map(Element::text));
            definition
                .products
                .extend(affected.children_named("product").map(Element::text));
        }
        definition.references = metadata
            .children_named("reference")
            .map(|r| Reference {
                source: r.attribute("source").unwrap_or_default().to_owned(),
                ref_id: r.attribute("ref_id").unwrap_or_default().to_owned(),
                ref_url: r.attribute("ref_url").unwrap_or_default().to_owned(),
            })
            .collect();
        if let Some(advisory) = metadata.child("advisory") {
            definition.severity = advisory
                .child("severity")
                .map(Element::text)
                .unwrap_or_default();
            definition.issued = advisory
                .child("issued")
                .and_then(|i| i.attribute("date"))
                .map(str::to_owned);
            definition.advisory_cves = advisory
                .children_named("cve")
                .map(|c| AdvisoryCve {
                    id: c.text(),
                    href: c.attribute("href").unwrap_or_default().to_owned(),
                    priority: c
                        .attribute("priority")
                        .or_else(|| c.attribute("impact"))
                        .unwrap_or_default()
                        .to_owned(),
                })
                .collect();
        }
        if let Some(debian) = metadata.child("debian") {
            if definition.issued.is_none() {
                definition.issued = debian
                    .child("date")
                    .map(Element::text)
                    .filter(|d| !d.is_empty());
            }
            definition.more_info = debian
                .child("moreinfo")
                .map(Element::text)
                .unwrap_or_default();
        }
    }
    definition.criteria = element.child("criteria").map(criteria_from);
    Ok(definition)
}

/// Recursion is bounded by [`MAX_DEPTH`], enforced while the element tree was built.
fn criteria_from(element: &Element) -> Criteria {
    let negate = |e: &Element| {
        e.attribute("negate")
            .is_some_and(|v| v == "true" || v == "1")
    };
    Criteria {
        operator: match element.attribute("operator").unwrap_or("AND") {
            "OR" => CriteriaOperator::Or,
            "ONE" => CriteriaOperator::One,
            "XOR" => CriteriaOperator::Xor,
            _ => CriteriaOperator::And,
        },
        negate: negate(element),
        comment: element.attribute("comment").unwrap_or_default().to_owned(),
        children: element
            .children
            .iter()
            .filter_map(|child| match child.name.as_str() {
                "criteria" => Some(CriteriaNode::Criteria(criteria_from(child))),
                "criterion" => Some(CriteriaNode::Criterion {
                    test_ref: child.attribute("test_ref").unwrap_or_default().to_owned(),
                    comment: child.attribute("comment").unwrap_or_default().to_owned(),
                    negate: negate(child),
                }),
                "extend_definition" => Some(CriteriaNode::ExtendDefinition {
                    definition_ref: child
                        .attribute("definition_ref")
                        .unwrap_or_default()
                        .to_owned(),
                    comment: child.attribute("comment").unwrap_or_default().to_owned(),
                    negate: negate(child),
                }),
                _ => None,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RHEL_EXCERPT: &[u8] = include_bytes!("testdata/oval/rhsa-RHEL9-excerpt.xml");

    fn minimal(
        definitions: &str,
        tests: &str,
        objects: &str,
        states: &str,
        variables: &str,
    ) -> String {
        format!(
            r#"<?xml version="1.0"?><oval_definitions xmlns="http://oval.mitre.org/XMLSchema/oval-definitions-5" xmlns:linux="http://oval.mitre.org/XMLSchema/oval-definitions-5#linux"><definitions>{definitions}</definitions><tests>{tests}</tests><objects>{objects}</objects><states>{states}</states><variables>{variables}</variables></oval_definitions>"#
        )
    }

    #[test]
    fn rhel_rpminfo_with_module_and_arch() {
        let document = parse(RHEL_EXCERPT).unwrap();
        assert_eq!(document.definitions.len(), 2);
        assert_eq!(document.tests.len(), 23);
        assert_eq!(document.objects.len(), 12);
        assert_eq!(document.states.len(), 10);

        let nodejs = &document.definitions[0];
        assert_eq!(nodejs.id, "oval:com.redhat.rhsa:def:20228832");
        assert_eq!(nodejs.class, "patch");
        assert_eq!(
            nodejs.title,
            "RHSA-2022:8832: nodejs:18 security, bug fix, and enhancement update (Moderate)"
        );
        assert_eq!(nodejs.severity, "Moderate");
        assert_eq!(nodejs.issued.as_deref(), Some("2022-12-06"));
        assert_eq!(nodejs.platforms, ["Red Hat Enterprise Linux 9"]);
        assert!(nodejs.cve_ids().contains(&"CVE-2022-3517".to_owned()));
        assert_eq!(nodejs.references[0].source, "RHSA");
        assert_eq!(
            nodejs.criteria.as_ref().unwrap().operator,
            CriteriaOperator::Or
        );

        let affected = document.affected_packages(nodejs).unwrap();
        let summary: Vec<(&str, Option<&str>, &str)> = affected
            .iter()
            .map(|p| {
                (
                    p.name.as_str(),
                    p.fixed_version.as_deref(),
                    p.module.as_str(),
                )
            })
            .collect();
        let module_version = "1:18.12.1-1.module+el9.1.0.z+17326+318294bb";
        assert_eq!(
            summary,
            [
                ("nodejs", Some(module_version), "nodejs:18"),
                ("nodejs-devel", Some(module_version), "nodejs:18"),
                ("nodejs-docs", Some(module_version), "nodejs:18"),
                ("nodejs-full-i18n", Some(module_version), "nodejs:18"),
                (
                    "nodejs-nodemon",
                    Some("0:2.0.20-1.module+el9.1.0.z+17326+318294bb"),
                    "nodejs:18"
                ),
                (
                    "nodejs-packaging",
                    Some("0:2021.06-4.module+el9.1.0+15718+e52ec601"),
                    "nodejs:18"
                ),
                (
                    "nodejs-packaging-bundler",
                    Some("0:2021.06-4.module+el9.1.0+15718+e52ec601"),
                    "nodejs:18"
                ),
                (
                    "npm",
                    Some("1:8.19.2-1.18.12.1.1.module+el9.1.0.z+17326+318294bb"),
                    "nodejs:18"
                ),
            ]
        );
        assert!(affected.iter().all(|p| p.kind == PackageInfoKind::Rpm));

        let sudo = &document.definitions[1];
        let affected = document.affected_packages(sudo).unwrap();
        assert_eq!(affected.len(), 2);
        assert_eq!(affected[0].name, "sudo");
        assert_eq!(
            affected[0].fixed_version.as_deref(),
            Some("0:1.9.5p2-7.el9_1.1")
        );
        assert_eq!(affected[0].module, "");
        assert_eq!(
            affected[0].arch,
            Some(StateField {
                operation: "pattern match".into(),
                datatype: "string".into(),
                value: "aarch64|ppc64le|s390x|x86_64".into()
            })
        );
        assert_eq!(affected[1].name, "sudo-python-plugin");
    }

    #[test]
    fn test_without_state_is_unfixed_and_negated_criteria_are_skipped() {
        let doc = minimal(
            r#"<definition id="d1" class="vulnerability"><metadata><title>T</title></metadata>
               <criteria operator="OR">
                 <criterion test_ref="t1"/>
                 <criterion test_ref="t2" negate="true"/>
                 <criteria negate="true"><criterion test_ref="t2"/></criteria>
                 <extend_definition definition_ref="d0"/>
               </criteria></definition>"#,
            r#"<linux:dpkginfo_test id="t1"><linux:object object_ref="o1"/></linux:dpkginfo_test>
               <linux:dpkginfo_test id="t2"><linux:object object_ref="o1"/><linux:state state_ref="s1"/></linux:dpkginfo_test>"#,
            r#"<linux:dpkginfo_object id="o1"><linux:name>libfoo</linux:name></linux:dpkginfo_object>"#,
            r#"<linux:dpkginfo_state id="s1"><linux:evr operation="less than">0:1</linux:evr></linux:dpkginfo_state>"#,
            "",
        );
        let document = parse(doc.as_bytes()).unwrap();
        let affected = document
            .affected_packages(&document.definitions[0])
            .unwrap();
        assert_eq!(
            affected,
            [AffectedPackage {
                kind: PackageInfoKind::Dpkg,
                name: "libfoo".into(),
                fixed_version: None,
                arch: None,
                module: String::new(),
            }]
        );
        let children = &document.definitions[0].criteria.as_ref().unwrap().children;
        assert_eq!(children.len(), 4);
        assert!(
            matches!(&children[3], CriteriaNode::ExtendDefinition { definition_ref, .. } if definition_ref == "d0")
        );
    }

    #[test]
    fn states_other_than_less_than_state_nothing() {
        let doc = minimal(
            r#"<definition id="d1" class="patch"><criteria><criterion test_ref="t1"/><criterion test_ref="t2"/></criteria></definition>"#,
            r#"<linux:dpkginfo_test id="t1"><linux:object object_ref="o1"/><linux:state state_ref="s1"/></linux:dpkginfo_test>
               <linux:dpkginfo_test id="t2"><linux:object object_ref="o1"/><linux:state state_ref="s2"/></linux:dpkginfo_test>"#,
            r#"<linux:dpkginfo_object id="o1"><linux:name>libfoo</linux:name></linux:dpkginfo_object>"#,
            r#"<linux:dpkginfo_state id="s1"><linux:evr operation="equals">0:1</linux:evr></linux:dpkginfo_state>
               <linux:dpkginfo_state id="s2"><linux:signature_keyid operation="equals">199e2f91fd431d51</linux:signature_keyid></linux:dpkginfo_state>"#,
            "",
        );
        let document = parse(doc.as_bytes()).unwrap();
        assert!(
            document
                .affected_packages(&document.definitions[0])
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn dangling_references_are_errors() {
        let definition = r#"<definition id="d1" class="patch"><criteria><criterion test_ref="t1"/></criteria></definition>"#;
        let test = r#"<linux:dpkginfo_test id="t1"><linux:object object_ref="o1"/><linux:state state_ref="s1"/></linux:dpkginfo_test>"#;
        let object =
            r#"<linux:dpkginfo_object id="o1"><linux:name var_ref="v1"/></linux:dpkginfo_object>"#;
        let state = r#"<linux:dpkginfo_state id="s1"><linux:evr operation="less than">0:1</linux:evr></linux:dpkginfo_state>"#;
        let variable = r#"<constant_variable id="v1" datatype="string"><value>a</value><value>b</value></constant_variable>"#;
        let cases = [
            (minimal(definition, "", "", "", ""), "test \"t1\""),
            (minimal(definition, test, "", "", ""), "object \"o1\""),
            (
                minimal(definition, test, object, "", variable),
                "state \"s1\"",
            ),
            (
                minimal(definition, test, object, state, ""),
                "variable \"v1\"",
            ),
        ];
        for (doc, expected) in cases {
            let document = parse(doc.as_bytes()).unwrap();
            let err = document
                .affected_packages(&document.definitions[0])
                .unwrap_err();
            assert!(matches!(err, OvalError::DanglingReference { .. }));
            assert!(err.to_string().contains(expected), "{err}");
        }
        let complete =
            parse(minimal(definition, test, object, state, variable).as_bytes()).unwrap();
        let names: Vec<String> = complete
            .affected_packages(&complete.definitions[0])
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn broken_documents_are_clear_errors() {
        // Cut between two elements: the open elements are never closed.
        let half = &RHEL_EXCERPT[..RHEL_EXCERPT.len() / 2];
        let after_tag = half.iter().rposition(|b| *b == b'>').unwrap() + 1;
        assert_eq!(parse(&half[..after_tag]).unwrap_err(), OvalError::Truncated);
        // Cut inside a tag.
        let inside_tag = half.iter().rposition(|b| *b == b'<').unwrap() + 3;
        assert!(matches!(
            parse(&half[..inside_tag]).unwrap_err(),
            OvalError::Xml { .. }
        ));
        assert!(
            matches!(parse(&b"<rss><channel/></rss>"[..]).unwrap_err(), OvalError::NotOval(name) if name == "rss")
        );
        assert!(matches!(
            parse(&b""[..]).unwrap_err(),
            OvalError::NotOval(_)
        ));
        assert!(matches!(
            parse(&b"\x00\x01\x02garbage"[..]).unwrap_err(),
            OvalError::Xml { .. } | OvalError::NotOval(_)
        ));
        assert!(matches!(
            parse(&b"<oval_definitions><tests><a></b></tests></oval_definitions>"[..]).unwrap_err(),
            OvalError::Xml { .. }
        ));
        assert!(matches!(
            parse(&b"<oval_definitions><tests><x_test/></tests></oval_definitions>"[..])
                .unwrap_err(),
            OvalError::MissingAttribute {
                attribute: "id",
                ..
            }
        ));
        assert_eq!(
            parse(&b"<oval_definitions><definitions><definition id='d'><metadata><title>&bogus;</title></metadata></definition></definitions></oval_definitions>"[..])
                .unwrap_err(),
            OvalError::UnknownEntity("bogus".into())
        );
        // Non-UTF-8 text.
        assert!(matches!(
            parse(&b"<oval_definitions><definitions><definition id='d'><metadata><title>\xff\xfe</title></metadata></definition></definitions></oval_definitions>"[..]).unwrap_err(),
            OvalError::Xml { .. }
        ));
    }

    #[test]
    fn deep_nesting_and_huge_values() {
        let deep = format!(
            "<oval_definitions><definitions><definition id='d'>{}{}</definition></definitions></oval_definitions>",
            "<criteria>".repeat(100_000),
            "</criteria>".repeat(100_000)
        );
        assert_eq!(parse(deep.as_bytes()).unwrap_err(), OvalError::TooDeep);

        let description = "A".repeat(20_000_000);
        let doc = minimal(
            &format!(
                r#"<definition id="d1" class="patch"><metadata><title>x</title><description>{description}</description></metadata></definition>"#
            ),
            "",
            "",
            "",
            "",
        );
        let document = parse(doc.as_bytes()).unwrap();
        assert_eq!(document.definitions[0].description.len(), 20_000_000);
        assert!(
            document
                .affected_packages(&document.definitions[0])
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn entities_and_cdata_in_text() {
        let doc = minimal(
            r#"<definition id="d1" class="patch"><metadata><title>a &amp; b &#x263A; &#65;</title><description><![CDATA[<raw> & stuff]]></description></metadata></definition>"#,
            "",
            "",
            "",
            "",
        );
        let document = parse(doc.as_bytes()).unwrap();
        assert_eq!(document.definitions[0].title, "a & b \u{263A} A");
        assert_eq!(document.definitions[0].description, "<raw> & stuff");
    }

    #[test]
    fn dates() {
        assert_eq!(
            parse_date("2024-10-21"),
            Some(time::macros::datetime!(2024-10-21 00:00 UTC))
        );
        assert_eq!(
            parse_date("2023-06-07T12:00:00"),
            Some(time::macros::datetime!(2023-06-07 00:00 UTC))
        );
        assert_eq!(parse_date("yesterday"), None);
        assert_eq!(parse_date("2024-13-01"), None);
        assert_eq!(parse_date("2024-1"), None);
        assert_eq!(parse_date("2024-10-2\u{e9}"), None);
    }
}
