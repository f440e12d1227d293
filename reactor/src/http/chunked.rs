//! Chunked transfer coding decoder placeholder (filled in next).
use super::ParserConfig;

/// Decodes a chunked body.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    _config: ParserConfig,
}

impl ChunkedDecoder {
    /// A decoder with the parser's limits and policy.
    pub fn with_config(config: &ParserConfig) -> Self {
        Self { _config: *config }
    }
}
