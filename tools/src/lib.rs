//! Tools for keyward developers; see the binaries.
