//! Realistic LogEvent generators (filled in below).
