//! From Okta's deliveries to runtime events: envelope parsing, inbox writes, the detection
//! worker, the System Log gap fill and the periodic maintenance.

pub mod envelope;
pub mod inbox;
pub mod normalize;
