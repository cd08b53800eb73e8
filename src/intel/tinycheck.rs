//! TinyCheck's IOC and whitelist JSON formats (placeholder until the loader lands).
