#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use switchyard_providers::anthropic::{Context, StreamDecoder};

fuzz_target!(|data: &[u8]| {
    // The seed's top bit asks for structured output, whose forced tool streams as content.
    let json_tool = data.first().is_some_and(|b| b & 0x80 != 0);
    common::check(data, || {
        let ctx = Context {
            json_tool: json_tool.then(|| "json".to_string()),
        };
        Box::new(StreamDecoder::new(ctx))
    });
});
