//! The flows without any chat platform, through a recording transport.
