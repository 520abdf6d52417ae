//! `os-release(5)`: newline-separated `KEY=value` shell assignments, values optionally in single or double
//! quotes, double-quoted values with `\"`, `\\`, `\$` and `` \` `` escapes, `#` comment lines.
//!
//! Written by hand: the crates that parse it (`rs-release`, `os-release`) read host paths, reject a whole
//! file over one odd line, or panic on a lone quote, and images in the wild ship odd lines (claircore#1018:
//! a distroless os-release that broke Clair). Here a line that is not an assignment is skipped, so one bad
//! line loses only itself.

use std::collections::BTreeMap;

/// Parses os-release text into its variables. Later assignments win, as when the shell sources the file.
pub fn parse(text: &str) -> BTreeMap<String, String> {
    let mut variables = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        let is_name =
            !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !is_name {
            continue;
        }
        variables.insert(key.to_owned(), unquote(value.trim()));
    }
    variables
}

/// Removes shell quoting from one value. An unterminated quote keeps the rest of the line.
fn unquote(value: &str) -> String {
    let mut chars = value.chars();
    match chars.next() {
        Some('"') => {
            let mut out = String::new();
            let mut escaped = false;
            for c in chars {
                if escaped {
                    if !matches!(c, '"' | '\\' | '$' | '`') {
                        out.push('\\');
                    }
                    out.push(c);
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    break;
                } else {
                    out.push(c);
                }
            }
            out
        }
        Some('\'') => chars.take_while(|c| *c != '\'').collect(),
        _ => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_rules() {
        let vars = parse(
            "A=plain\nB=\"double quoted\"\nC='single quoted'\nD=\"esc \\\"q\\\" \\$x \\\\ \\n\"\n\
             # comment\n\nnot an assignment\n=novalue\nBAD KEY=1\nE=\"unterminated\nF=\"\"\nG=\"\nA=later\n",
        );
        assert_eq!(vars["A"], "later");
        assert_eq!(vars["B"], "double quoted");
        assert_eq!(vars["C"], "single quoted");
        assert_eq!(vars["D"], "esc \"q\" $x \\ \\n");
        assert_eq!(vars["E"], "unterminated");
        assert_eq!(vars["F"], "");
        assert_eq!(vars["G"], "");
        assert_eq!(vars.len(), 7);
    }
}
