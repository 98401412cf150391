//! From Okta's deliveries to runtime events: envelope parsing, inbox writes, the detection
//! worker, the System Log gap fill, learned baselines and the periodic maintenance.

pub mod background;
pub mod baseline;
pub mod envelope;
pub mod gapfill;
pub mod inbox;
pub mod normalize;
pub mod owned;
pub mod worker;
