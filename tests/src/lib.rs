//! keyward's integration tests live in `tests/all`; this library is empty.
