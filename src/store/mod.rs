pub mod detect_state;
