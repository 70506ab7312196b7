//! bifsmn-engine
