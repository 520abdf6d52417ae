//! Vulnerability feeds: formats shared by several sources (OSV, OVAL) and the updater machinery.
