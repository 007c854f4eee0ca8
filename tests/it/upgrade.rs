//! Upgrading a database of the previous release in place.
